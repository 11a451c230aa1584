-- Areas with a VRU (by first funded year) against the others: per homicide-rate period, and for knife
-- offences in the last three years before VRU funding began (2016-17 to 2018-19), each edition apart.
-- Three variants: all_values (every value the edition gives), excluding_flagged (values a plausibility
-- rule flagged in quality_flags left out, where the rule's declared action says so) and excluding_flagged_and_noted
-- (also the values a publisher's note says are under-counted, estimated or not comparable: source_note_values). How many areas have a value, how many of the values used are
-- flagged, the sum, unweighted mean and median, the mean weighted by the areas' mid-2018 population
-- (rates only; the latest population in hand, whatever the period), and which areas are left out.
-- For counts over one year, the group's rate per 1,000: the areas' offences over their population for the mid-year
-- inside the period (area_populations; schemas/vocabulary.py, POPULATION_RULE), blank unless every area used has one;
-- published apart, in outcome_group_rates (one row per group with a rate).
-- Descriptive only: it says nothing about what caused any difference.
-- A value a publisher's note says was under-counted up to a date, with no start (a force under-counted until a
-- review and did not revise its earlier data: Greater Manchester's knife offences until December 2017), is left out
-- of every variant, all_values too: it is not comparable with later years or other forces (source_notes,
-- source_note_values). Its reason names the first year the under-count does not reach.
CREATE OR REPLACE TABLE core.outcome_comparison AS
WITH flagged AS (
    SELECT q.area_code, q.subject AS measure, q.period AS period_as_published, q.edition,
           string_agg(DISTINCT q.check_name, ', ' ORDER BY q.check_name) AS checks
    FROM core.quality_flags AS q
    JOIN core.plausibility_rules AS r ON r.rule = q.check_name
    WHERE r.excluded_from_comparisons AND q.table_name = 'area_outcomes' AND q.area_code IS NOT NULL
    GROUP BY ALL
), noted AS (
    SELECT area_code, measure, period_as_published, edition, string_agg(DISTINCT note_id, ', ' ORDER BY note_id) AS notes
    FROM core.source_note_values
    WHERE excluded_from_comparisons
    GROUP BY ALL
), under_counted_until AS (
    SELECT v.area_code, v.measure, v.period_as_published, v.edition,
           'under-count before ' || (year(max(n.covers_until)) + 1) AS excluded
    FROM core.source_note_values AS v
    JOIN core.source_notes AS n USING (note_id)
    WHERE n.kind = 'under_count' AND n.covers_from IS NULL AND n.covers_until IS NOT NULL
    GROUP BY ALL
), population AS (
    -- Several editions print the same mid-2018 estimate: the newest edition's, one per area.
    SELECT area_code, CAST(arg_max(value, edition_date) AS DOUBLE) AS population
    FROM core.area_outcomes
    WHERE measure = 'population' AND period_as_published = 'mid-2018' AND value IS NOT NULL
    GROUP BY area_code
), grouped AS (
    SELECT o.*, a.area_name, f.checks, nt.notes, p.population, ap.mid_year AS count_mid_year, ap.population AS count_population,
           u.excluded,
           {{ area_group("v.first_funded_year") }}
               AS area_group
    FROM core.area_outcomes AS o
    JOIN core.police_force_areas AS a USING (area_code)
    LEFT JOIN core.violence_reduction_units AS v USING (area_code)
    LEFT JOIN flagged AS f USING (area_code, measure, period_as_published, edition)
    LEFT JOIN noted AS nt USING (area_code, measure, period_as_published, edition)
    LEFT JOIN under_counted_until AS u USING (area_code, measure, period_as_published, edition)
    LEFT JOIN population AS p USING (area_code)
    LEFT JOIN core.area_populations AS ap
        ON ap.area_code = o.area_code AND o.unit = 'offences'
       AND o.period_end = CAST(o.period_start + INTERVAL 1 YEAR - INTERVAL 1 DAY AS DATE)
       AND ap.mid_year = {{ mid_year_within("o.period_start", "o.period_end") }}
    WHERE o.measure = 'homicide_rate_per_million'
       OR (o.measure IN ('knife_selected_offences', 'knife_homicide_offences')
           AND o.period_first_year IN ('2016-17', '2017-18', '2018-19'))
), variants AS (
    SELECT g.*, variant,
           coalesce(excluded, CASE WHEN variant <> 'all_values' AND checks IS NOT NULL THEN 'flagged: ' || checks END,
                    CASE WHEN variant = 'excluding_flagged_and_noted' AND notes IS NOT NULL
                         THEN 'publisher''s note: ' || notes END) AS left_out_because
    FROM grouped AS g, (VALUES ('all_values'), ('excluding_flagged'), ('excluding_flagged_and_noted')) AS t(variant)
), used AS (
    SELECT *, CASE WHEN left_out_because IS NULL THEN CAST(value AS DOUBLE) END AS used FROM variants
)
SELECT measure, period_as_published, period, period_first_year, period_last_year, edition, area_group, variant,
       count(used) AS n_areas,
       count(*) - count(used) AS n_areas_left_out,
       count(CASE WHEN used IS NOT NULL AND checks IS NOT NULL THEN 1 END) AS n_flagged_values_used,
       string_agg(CASE WHEN used IS NULL THEN area_name || ' (' || coalesce(left_out_because, symbol, 'blank') || ')' END,
                  '; ' ORDER BY area_name) AS areas_left_out,
       round(sum(used), 2) AS sum_value,
       round(avg(used), 2) AS mean_value,
       round(median(used), 2) AS median_value,
       CASE WHEN measure LIKE '%rate%' THEN round(sum(used * population) / sum(CASE WHEN used IS NOT NULL THEN population END), 2)
       END AS mean_weighted_by_population_mid2018,
       CASE WHEN count(used) > 0 AND count(used) = count(CASE WHEN used IS NOT NULL THEN count_population END)
            THEN any_value(count_mid_year) END AS population_mid_year,
       CASE WHEN count(used) > 0 AND count(used) = count(CASE WHEN used IS NOT NULL THEN count_population END)
            THEN sum(CASE WHEN used IS NOT NULL THEN count_population END) END AS population,
       CASE WHEN count(used) > 0 AND count(used) = count(CASE WHEN used IS NOT NULL THEN count_population END)
            THEN CAST(round(sum(used) * 1000 / sum(CASE WHEN used IS NOT NULL THEN count_population END), 4)
                      AS DECIMAL(38, 4)) END AS rate_per_1000,
       any_value(source_id) AS source_id
FROM used
GROUP BY measure, period_as_published, period, period_first_year, period_last_year, edition, area_group, variant
