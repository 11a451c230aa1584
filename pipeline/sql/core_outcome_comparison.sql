-- Areas with a VRU (by first funded year) against the others: per homicide-rate period, and for knife
-- offences in the last three years before VRU funding began (2016-17 to 2018-19), each edition apart.
-- How many areas have a value, the sum, unweighted mean and median of their values, and which areas are
-- left out (no value). Descriptive only: it says nothing about what caused any difference.
-- Greater Manchester's knife figures before 2018-19 are left out: ONS says the force under-counted knife
-- offences until a review in December 2017, so they are not comparable with later years or other forces.
CREATE OR REPLACE TABLE core.outcome_comparison AS
WITH grouped AS (
    SELECT o.*, a.area_name,
           CASE WHEN o.area_code = 'E23000005' AND o.measure LIKE 'knife%' AND o.period_first_year < '2018-19'
                THEN 'under-count before 2018' END AS excluded,
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
       count(used) AS n_areas,
       count(*) - count(used) AS n_areas_left_out,
       string_agg(CASE WHEN used IS NULL THEN area_name || ' (' || coalesce(excluded, symbol, 'blank') || ')' END,
                  '; ' ORDER BY area_name) AS areas_left_out,
       round(sum(CAST(used AS DOUBLE)), 2) AS sum_value,
       round(avg(CAST(used AS DOUBLE)), 2) AS mean_value,
       round(median(CAST(used AS DOUBLE)), 2) AS median_value,
       any_value(source_id) AS source_id
FROM (SELECT *, CASE WHEN excluded IS NULL THEN value END AS used FROM grouped)
GROUP BY ALL
