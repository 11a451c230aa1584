-- A chosen figure pinned by at most one source (others only 'more than' bounds) that breaks the area's
-- own pattern in years when national allocations were near-flat: more than $max_ratio times the median
-- of the area's other chosen figures of the stream in $years, or less than that median / $max_ratio.
WITH pinned AS (
    SELECT area_code, stream, financial_year, count(DISTINCT source_id) AS n_pinning
    FROM core.funding_reports
    WHERE amount_high IS NOT NULL AND component = 'total' AND financial_year = financial_year_last
    GROUP BY ALL
), chosen AS (
    SELECT a.*, CAST(a.amount_gbp AS DOUBLE) AS x, coalesce(p.n_pinning, 0) AS n_pinning
    FROM core.funding_allocations AS a
    LEFT JOIN pinned AS p USING (area_code, stream, financial_year)
    WHERE list_contains($streams, a.stream) AND list_contains($years, a.financial_year)
      AND a.amount_kind IN ('exact', 'rounded')
), others AS (
    SELECT c.area_code, c.stream, c.financial_year, median(o.x) AS typical,
           string_agg(o.financial_year || ' ' || o.amount_as_published || ' (' || o.source_id || ')', '; '
                      ORDER BY o.financial_year) AS other_years
    FROM chosen AS c
    JOIN chosen AS o ON o.area_code = c.area_code AND o.stream = c.stream AND o.financial_year <> c.financial_year
    GROUP BY ALL
)
SELECT c.area_code,
       c.stream AS subject,
       c.financial_year AS period,
       c.report_id AS edition,
       c.amount_as_published AS observed,
       '£' || format('{:,}', CAST(round(o.typical / $max_ratio) AS BIGINT)) || ' to £'
           || format('{:,}', CAST(round(o.typical * $max_ratio) AS BIGINT)) AS expected,
       'pinned by ' || c.n_pinning || ' source(s); the area''s other years: ' || o.other_years AS detail,
       c.source_id
FROM chosen AS c
JOIN others AS o USING (area_code, stream, financial_year)
WHERE c.n_pinning <= 1 AND (c.x > $max_ratio * o.typical OR c.x < o.typical / $max_ratio)
