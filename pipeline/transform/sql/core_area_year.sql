-- A panel: every police force area and financial year, the funding figure chosen per stream (with what is known of
-- it and its source) beside the recorded offences ONS prints for that financial year (newest edition, its source).
-- Outcomes count only when their period is exactly a financial year (1 April to 31 March); a symbol in the newest
-- edition stays a blank, never an older edition's figure. Each stream's figure per person uses the area's population
-- for the mid-year inside the financial year (area_populations). The parts in double braces are generated from the panel's
-- declaration (pipeline/transform/sqltext.py): one column per stream and per measure of schemas/published.py.
CREATE OR REPLACE TABLE core.area_year AS
WITH outcome_years AS (
    SELECT area_code, measure, value, edition, source_id,
           CAST(year(period_start) AS VARCHAR) || '-' || right(CAST(year(period_start) + 1 AS VARCHAR), 2)
               AS financial_year
    FROM core.area_outcomes
    WHERE measure IN ({{ panel_measures }})
      AND month(period_start) = 4 AND day(period_start) = 1
      AND period_end = CAST(period_start + INTERVAL 1 YEAR - INTERVAL 1 DAY AS DATE)
    QUALIFY row_number() OVER (
        PARTITION BY area_code, measure, period_start ORDER BY edition_date DESC, edition DESC) = 1
),
funding AS (
    SELECT k.area_code, k.financial_year,
           {{ panel_funding_columns }}
    -- Every cell either table has: two allocated cells lie outside the coverage grid (a Grip figure in a non-VRU
    -- area, known blank; and a superseded one, known 'superseded' and its amount left out).
    FROM (SELECT area_code, stream, financial_year FROM core.funding_coverage
          UNION SELECT area_code, stream, financial_year FROM core.funding_allocations) AS k
    LEFT JOIN core.funding_coverage AS c USING (area_code, stream, financial_year)
    LEFT JOIN core.funding_allocations AS a USING (area_code, stream, financial_year)
    GROUP BY k.area_code, k.financial_year
),
outcomes AS (
    SELECT area_code, financial_year,
           {{ panel_outcome_columns }}
    FROM outcome_years
    GROUP BY area_code, financial_year
),
years AS (
    SELECT financial_year FROM core.funding_coverage
    UNION
    SELECT financial_year FROM core.funding_allocations
    UNION
    SELECT financial_year FROM outcome_years
)
SELECT p.area_code, y.financial_year,
       f.* EXCLUDE (area_code, financial_year),
       o.* EXCLUDE (area_code, financial_year),
       pop.mid_year AS per_head_population_mid_year,
       pop.population AS per_head_population,
       pop.source_id AS per_head_population_source_id,
       {{ panel_per_head_columns }}
FROM core.police_force_areas AS p
CROSS JOIN (
    -- The population of a financial year is the mid-year inside it (schemas/vocabulary.py, POPULATION_RULE).
    SELECT financial_year,
           {{ mid_year_within("make_date(CAST(left(financial_year, 4) AS INTEGER), 4, 1)",
                              "make_date(CAST(left(financial_year, 4) AS INTEGER) + 1, 3, 31)") }} AS population_mid_year
    FROM years
) AS y
LEFT JOIN funding AS f ON f.area_code = p.area_code AND f.financial_year = y.financial_year
LEFT JOIN outcomes AS o ON o.area_code = p.area_code AND o.financial_year = y.financial_year
LEFT JOIN core.area_populations AS pop ON pop.area_code = p.area_code AND pop.mid_year = y.population_mid_year
