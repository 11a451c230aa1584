-- An area's chosen figure (its lowest reading) above the highest reading of the national total.
SELECT a.area_code,
       a.stream AS subject,
       a.financial_year AS period,
       a.report_id AS edition,
       a.amount_as_published AS observed,
       'at most ' || t.amount_as_published || ' (' || t.total_id || ')' AS expected,
       'the national total of the stream and year' AS detail,
       a.source_id
FROM core.funding_allocations AS a
JOIN core.funding_reports AS r USING (report_id)
JOIN core.national_totals AS t ON t.stream = a.stream AND t.financial_year = a.financial_year
WHERE t.amount_high IS NOT NULL AND r.amount_low > t.amount_high
