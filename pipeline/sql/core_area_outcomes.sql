-- ONS outcome statistics by police force area, one row per area, measure, period and edition.
-- Homicide rates (view els_cells: every Explore Local Statistics edition under common field names):
-- '2019-04-01/P3Y' is April 2019 to March 2022; editions write it with or without 'T00:00:00'.
-- ONS PFA tables (table core.ons_pfa_cells: every edition's cells): columns become measures through
-- raw/mappings/outcome_measures.csv; unmapped columns are not published.
-- A cell holding a symbol instead of a number keeps the symbol and no value: never a zero.
CREATE OR REPLACE TABLE core.area_outcomes AS
SELECT areacd AS area_code,
       'homicide_rate_per_million' AS measure,
       period AS period_as_published,
       left(period, 4) || '-' || right(CAST(CAST(left(period, 4) AS INTEGER) + 1 AS VARCHAR), 2) AS period_first_year,
       CAST(CAST(left(period, 4) AS INTEGER) + 2 AS VARCHAR) || '-'
           || right(CAST(CAST(left(period, 4) AS INTEGER) + 3 AS VARCHAR), 2) AS period_last_year,
       edition,
       edition_date,
       observation AS value,
       observation AS value_as_published,
       'offences per million population a year (average over the three years)' AS unit,
       NULLIF(status, '') AS symbol,
       source_id
FROM els_cells
WHERE geography = 'Police Force Area'
  AND areacd IN (SELECT area_code FROM core.police_force_areas)
UNION ALL
SELECT c.area_code, m.measure, c.period_as_published, c.financial_year, c.financial_year, c.edition, c.edition_date,
       CASE WHEN regexp_full_match(c.value_as_published, '-?[0-9]+(\.[0-9]+)?(E-?[0-9]+)?') THEN c.value_as_published END,
       c.value_as_published,
       m.unit,
       CASE WHEN NOT regexp_full_match(c.value_as_published, '-?[0-9]+(\.[0-9]+)?(E-?[0-9]+)?') THEN c.value_as_published END,
       c.source_id
FROM core.ons_pfa_cells AS c
JOIN raw.project__outcome_measures AS m
  ON m.source_table = c.source_table
 AND m.column_heading = c.column_heading
 AND coalesce(m.unit_as_published, '') = coalesce(c.unit_as_published, '')
 AND (m.column_group = '*' OR coalesce(m.column_group, '') = coalesce(c.column_group, ''))
WHERE c.area_code IN (SELECT area_code FROM core.police_force_areas)
