-- A multi-year total equal to the pound to a single-year figure of the same area and stream inside its
-- span: most likely an amount stated per year, read as a total.
SELECT m.area_code,
       m.stream AS subject,
       m.financial_year || ' to ' || m.financial_year_last AS period,
       m.report_id AS edition,
       m.amount_as_published || ' for ' || m.year_as_published AS observed,
       'more than any single year of the span' AS expected,
       'equals ' || s.report_id || ' (' || s.financial_year || ', ' || s.source_id || ')' AS detail,
       m.source_id
FROM core.funding_reports AS m
JOIN core.funding_reports AS s
  ON s.area_code = m.area_code AND s.stream = m.stream AND s.financial_year = s.financial_year_last
 AND s.financial_year BETWEEN m.financial_year AND m.financial_year_last
 AND CAST(s.amount_gbp AS DECIMAL(18, 2)) = CAST(m.amount_gbp AS DECIMAL(18, 2))
WHERE m.financial_year_last IS NOT NULL AND m.financial_year <> m.financial_year_last
  AND m.amount_basis = 'whole_period'
QUALIFY row_number() OVER (PARTITION BY m.report_id ORDER BY s.financial_year, s.report_id) = 1
