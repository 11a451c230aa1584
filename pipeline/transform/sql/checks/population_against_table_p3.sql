-- Each area's population summed from the mid-year estimates against the population ONS printed for the same
-- mid-year in the police force area tables (Table P3, rounded to 100; the newest edition that prints it). The
-- estimates were rebased after Census 2021, so they differ a little; more than $relative_tolerance of the printed
-- figure and more than $absolute_tolerance people is a district misplaced by the lookup, a boundary change or a misread.
WITH printed AS (
    SELECT area_code, CAST(regexp_extract(period_as_published, '(\d{4})', 1) AS INTEGER) AS mid_year,
           CAST(value AS DOUBLE) AS printed, edition, source_id
    FROM core.area_outcomes
    WHERE measure = 'population' AND value IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY area_code, period_as_published ORDER BY edition_date DESC, edition DESC) = 1
)
SELECT p.area_code,
       'population' AS subject,
       'mid-' || p.mid_year AS period,
       p.edition,
       'summed from the districts: ' || CAST(a.population AS VARCHAR) AS observed,
       'printed: ' || CAST(CAST(p.printed AS BIGINT) AS VARCHAR) || ', within ' || CAST($relative_tolerance * 100 AS VARCHAR)
           || '% or ' || $absolute_tolerance || ' people' AS expected,
       'difference ' || CAST(round(100 * (a.population - p.printed) / p.printed, 2) AS VARCHAR) || '%' AS detail,
       a.source_id
FROM printed AS p
JOIN core.area_populations AS a USING (area_code, mid_year)
WHERE abs(a.population - p.printed) > $relative_tolerance * p.printed
  AND abs(a.population - p.printed) > $absolute_tolerance
