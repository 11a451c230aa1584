-- Areas with a VRU (by first funded year) against the others: per homicide-rate period, and for knife
-- offences in the last three years before VRU funding began (2016-17 to 2018-19), each edition apart.
-- How many areas have a value, the sum, unweighted mean and median of their values, and which areas are
-- left out (no value). Descriptive only: it says nothing about what caused any difference.
CREATE OR REPLACE TABLE core.outcome_comparison AS
WITH grouped AS (
    SELECT o.*, a.area_name,
           CASE WHEN v.first_funded_year IS NULL THEN 'no_vru' ELSE 'vru_from_' || v.first_funded_year END
               AS area_group
    FROM core.area_outcomes AS o
    JOIN core.police_force_areas AS a USING (area_code)
    LEFT JOIN core.violence_reduction_units AS v USING (area_code)
    WHERE o.measure = 'homicide_rate_per_million'
       OR (o.measure IN ('knife_selected_offences', 'knife_homicide_offences')
           AND o.period_first_year IN ('2016-17', '2017-18', '2018-19'))
)
SELECT measure, period_as_published, period_first_year, period_last_year, edition, area_group,
       count(value) AS n_areas,
       count(*) - count(value) AS n_areas_left_out,
       string_agg(CASE WHEN value IS NULL THEN area_name || ' (' || coalesce(symbol, 'blank') || ')' END, '; '
                  ORDER BY area_name) AS areas_left_out,
       round(sum(CAST(value AS DOUBLE)), 2) AS sum_value,
       round(avg(CAST(value AS DOUBLE)), 2) AS mean_value,
       round(median(CAST(value AS DOUBLE)), 2) AS median_value,
       any_value(source_id) AS source_id
FROM grouped
GROUP BY ALL
