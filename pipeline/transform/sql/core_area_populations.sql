-- Each police force area's population for every mid-year MYE4 prints: the sum of its districts (2023 boundaries),
-- each district placed in the area the December 2023 lookup gives it (one area per district: checked before this
-- runs, pipeline/defs/core/population.py). Every summed cell is listed, so an auditor can re-add them.
CREATE OR REPLACE TABLE core.area_populations AS
WITH lookup AS (
    SELECT DISTINCT LAD23CD AS district_code, PFA23CD AS area_code
    FROM raw.ons__lad23_csp_pfa_lookup_dec2023
), cells AS (
    SELECT area_code AS district_code, CAST(mid_year AS INTEGER) AS mid_year,
           CAST(value_as_published AS BIGINT) AS population, source_table || '!' || cell AS cell, _row
    FROM raw.ons__mye_lad23_2011_2023
    WHERE source_table = 'MYE4'
)
SELECT l.area_code,
       c.mid_year,
       make_date(c.mid_year, 6, 30) AS reference_date,
       sum(c.population) AS population,
       count(*) AS districts,
       'sum of the ' || count(*) || ' local authority districts (2023 boundaries) that the December 2023 lookup '
           || 'places in the area' AS derivation,
       string_agg(c.cell, ' + ' ORDER BY c._row) AS raw_cells,
       $source_id AS source_id,
       $lookup_source_id AS lookup_source_id
FROM cells AS c
JOIN lookup AS l USING (district_code)
GROUP BY l.area_code, c.mid_year
