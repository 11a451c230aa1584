-- The known area figures of a stream and year (their lowest readings) add up to more than the national
-- total could be (its highest reading), before any missing area is counted.
WITH known AS (
    SELECT a.stream, a.financial_year, sum(r.amount_low) AS low, count(*) AS n_cells
    FROM core.funding_allocations AS a
    JOIN core.funding_reports AS r USING (report_id)
    GROUP BY ALL
)
SELECT NULL AS area_code,
       t.stream AS subject,
       t.financial_year AS period,
       t.total_id AS edition,
       'at least £' || format('{:,}', CAST(round(k.low) AS BIGINT)) || ' in ' || k.n_cells || ' known areas' AS observed,
       'at most ' || t.amount_as_published AS expected,
       'sum of the known area figures against the national total' AS detail,
       t.source_id
FROM core.national_totals AS t
JOIN known AS k USING (stream, financial_year)
WHERE t.amount_high IS NOT NULL AND k.low > t.amount_high
