-- In a wide ONS table, each force's total must equal the sum of its Community Safety Partnerships (where
-- the table prints both, as numbers: an unavailable [x] cannot be checked) for every column published as a
-- measure.
WITH cells AS (
    SELECT w.*, TRY_CAST(replace(trim(w.value_as_published), ',', '') AS BIGINT) AS x
    FROM core.ons_wide_cells AS w
    WHERE EXISTS (
        SELECT 1 FROM raw.project__outcome_measures AS m
        WHERE m.source_table = w.source_table AND m.column_heading = w.column_heading
    )
), forces AS (
    SELECT edition, area_code, column_heading, any_value(source_id) AS source_id,
           sum(x) FILTER (is_area_total) AS total,
           sum(x) FILTER (NOT is_area_total) AS partnerships,
           count(*) FILTER (NOT is_area_total) AS n_partnerships,
           count(x) FILTER (NOT is_area_total) AS n_partnerships_with_a_count
    FROM cells
    GROUP BY ALL
)
SELECT area_code,
       column_heading AS subject,
       NULL AS period,
       edition,
       'partnerships add up to ' || CAST(partnerships AS VARCHAR) AS observed,
       'the force total ' || CAST(total AS VARCHAR) AS expected,
       n_partnerships || ' partnership rows' AS detail,
       source_id
FROM forces
WHERE n_partnerships > 0 AND n_partnerships_with_a_count = n_partnerships AND total <> partnerships
