-- ONS outcome statistics by police force area, one row per area, measure, period and edition.
-- Homicide rates: '2019-04-01/P3Y' is April 2019 to March 2022, the financial years 2019-20 to 2021-22.
-- A value ONS does not give stays blank, with the status symbol it printed instead (never a zero).
CREATE OR REPLACE TABLE core.area_outcomes AS
SELECT areacd AS area_code,
       'homicide_rate_per_million' AS measure,
       period AS period_as_published,
       CAST(left(period, 4) AS INTEGER) || '-' || lpad(CAST((CAST(left(period, 4) AS INTEGER) + 1) % 100 AS VARCHAR), 2, '0')
           AS period_first_year,
       CAST(CAST(left(period, 4) AS INTEGER) + 2 AS VARCHAR) || '-'
           || lpad(CAST((CAST(left(period, 4) AS INTEGER) + 3) % 100 AS VARCHAR), 2, '0') AS period_last_year,
       $edition AS edition,
       observation AS value,
       unit,
       NULLIF(status, '') AS symbol,
       $source_id AS source_id
FROM raw.ons__homicide_offences
WHERE geography = 'Police Force Area'
