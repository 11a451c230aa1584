-- The Home Office 2023/24 table (S01), one row per area and stream that has a printed amount.
-- The page heads the table "Funding allocations for the 23/24 financial year", hence the year.
-- A blank cell (Lancashire's VRU figure was not seen) is a gap, so it gets no row, never a zero.
WITH printed AS (
    SELECT _row, "Area" AS area_as_published, 'surge_grip' AS stream,
           "Grip police force allocation" AS amount_as_published
    FROM raw.home_office__funding_allocations_2023_24
    UNION ALL
    SELECT _row, "Area", 'vru', "VRU allocation"
    FROM raw.home_office__funding_allocations_2023_24
)
SELECT names.area_code, printed.area_as_published, printed.stream, '2023-24' AS financial_year,
       printed.amount_as_published, $source_id AS source_id, $raw_file AS raw_file, printed._row AS raw_row
FROM printed
LEFT JOIN core.area_names AS names USING (area_as_published)
WHERE printed.amount_as_published IS NOT NULL
ORDER BY raw_row, stream
