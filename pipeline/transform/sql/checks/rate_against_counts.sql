-- A three-year homicide rate against the area's own single-year homicide counts (ONS PFA tables, the
-- latest edition of each year) for the years of the period that have one. The rate implies
-- rate x population / 1,000,000 homicides a year, on the mid-year population nearest the period's
-- middle year (ONS uses the middle year's); it must lie within $max_ratio times, plus $slack_per_year,
-- of the counted years' average.
WITH counts AS (
    SELECT area_code, CAST(left(period_first_year, 4) AS INTEGER) AS year, period_first_year AS year_label,
           CAST(value AS DOUBLE) AS n
    FROM core.area_outcomes
    WHERE measure = 'homicide_offences' AND value IS NOT NULL AND period_first_year IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY area_code, period_first_year ORDER BY edition_date DESC, edition DESC) = 1
), populations AS (
    SELECT area_code, CAST(regexp_extract(period_as_published, '(\d{4})', 1) AS INTEGER) AS mid_year,
           CAST(value AS DOUBLE) AS population
    FROM core.area_outcomes
    WHERE measure = 'population' AND value IS NOT NULL
    -- Several editions print the same mid-year estimate: the newest edition's.
    QUALIFY row_number() OVER (PARTITION BY area_code, period_as_published ORDER BY edition_date DESC, edition DESC) = 1
), rates AS (
    SELECT area_code, period_as_published, edition, source_id, CAST(value AS DOUBLE) AS rate,
           CAST(left(period_first_year, 4) AS INTEGER) AS first_year,
           CAST(left(period_last_year, 4) AS INTEGER) AS last_year
    FROM core.area_outcomes
    WHERE measure = 'homicide_rate_per_million' AND value IS NOT NULL
), counted AS (
    SELECT r.area_code, r.period_as_published, r.edition, r.source_id, r.rate, r.first_year,
           sum(c.n) AS homicides, count(c.n) AS years_counted,
           string_agg(c.year_label || ': ' || CAST(c.n AS BIGINT), ', ' ORDER BY c.year) AS years
    FROM rates AS r
    JOIN counts AS c ON c.area_code = r.area_code AND c.year BETWEEN r.first_year AND r.last_year
    GROUP BY ALL
), implied AS (
    SELECT k.*,
           arg_min(p.population, abs(p.mid_year - (k.first_year + 1)) * 10 - p.mid_year / 10000.0) AS population,
           arg_min(p.mid_year, abs(p.mid_year - (k.first_year + 1)) * 10 - p.mid_year / 10000.0) AS mid_year
    FROM counted AS k
    JOIN populations AS p USING (area_code)
    GROUP BY ALL
)
SELECT area_code,
       'homicide_rate_per_million' AS subject,
       period_as_published AS period,
       edition,
       CAST(round(rate, 2) AS VARCHAR) || ' per million, about '
           || CAST(round(rate * population / 1e6, 1) AS VARCHAR) || ' homicides a year' AS observed,
       CAST(round(greatest(homicides / years_counted / $max_ratio - $slack_per_year, 0), 1) AS VARCHAR) || ' to '
           || CAST(round($max_ratio * homicides / years_counted + $slack_per_year, 1) AS VARCHAR)
           || ' homicides a year' AS expected,
       'police recorded homicides ' || years || ' (ONS PFA tables); population mid-' || mid_year || ' '
           || CAST(CAST(population AS BIGINT) AS VARCHAR) AS detail,
       source_id
FROM implied
WHERE rate * population / 1e6 > $max_ratio * homicides / years_counted + $slack_per_year
   OR rate * population / 1e6 < homicides / years_counted / $max_ratio - $slack_per_year
