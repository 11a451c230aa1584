-- The police force areas' populations (sums of districts) against every England and Wales total the mid-year
-- estimates workbook prints for the same mid-year (MYE4's country row for each year, MYE1 for its own mid-year):
-- equal to the person, or a district was left out, counted twice or misread.
WITH totals AS (
    SELECT CAST(mid_year AS INTEGER) AS mid_year, source_table || '!' || cell AS cell,
           CAST(value_as_published AS BIGINT) AS total
    FROM raw.ons__mye_lad23_2011_2023
    WHERE area_code = 'K04000001'
), areas AS (
    SELECT mid_year, any_value(source_id) AS source_id, sum(population) AS population, count(*) AS n_areas
    FROM core.area_populations
    GROUP BY mid_year
)
SELECT NULL AS area_code,
       'population' AS subject,
       'mid-' || t.mid_year AS period,
       NULL AS edition,
       coalesce(CAST(a.n_areas AS VARCHAR), 'no') || ' areas: ' || coalesce(CAST(a.population AS VARCHAR), 'none')
           AS observed,
       'England and Wales: ' || CAST(t.total AS VARCHAR) || ' (' || t.cell || ')' AS expected,
       'difference ' || coalesce(CAST(a.population - t.total AS VARCHAR), 'unknown') AS detail,
       coalesce(a.source_id, (SELECT any_value(source_id) FROM core.area_populations)) AS source_id
FROM totals AS t
LEFT JOIN areas AS a USING (mid_year)
WHERE a.population IS DISTINCT FROM t.total
