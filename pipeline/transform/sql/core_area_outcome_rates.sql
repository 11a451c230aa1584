-- Every count of offences in area_outcomes (unit 'offences', a value not a symbol) over a one-year period, as a rate
-- per 1,000 people on the area's population for the mid-year inside the period (the rule declared once in
-- schemas/vocabulary.py, POPULATION_RULE). No population for that mid-year, no row: a gap stays a gap.
CREATE OR REPLACE TABLE core.area_outcome_rates AS
WITH counts AS (
    SELECT area_code, measure, period_as_published, period_start, period_end, edition, edition_date, value,
           source_id, {{ mid_year_within("period_start", "period_end") }} AS mid_year
    FROM core.area_outcomes
    WHERE unit = 'offences' AND value IS NOT NULL
      AND period_end = CAST(period_start + INTERVAL 1 YEAR - INTERVAL 1 DAY AS DATE)
)
SELECT c.area_code,
       c.measure,
       c.period_as_published,
       c.period_start,
       c.period_end,
       c.edition,
       c.edition_date,
       CAST(CAST(c.value AS DOUBLE) AS BIGINT) AS offences,
       c.mid_year AS population_mid_year,
       p.population,
       CAST(round(CAST(c.value AS DOUBLE) * 1000 / p.population, 4) AS DECIMAL(38, 4)) AS rate_per_1000,
       c.source_id,
       p.source_id AS population_source_id
FROM counts AS c
JOIN core.area_populations AS p USING (area_code, mid_year)
