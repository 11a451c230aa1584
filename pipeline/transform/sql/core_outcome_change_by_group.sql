-- Areas with a VRU (by first funded year) against the others: the summed counts of the areas that have a
-- value in both periods, before and after, with the change. Three variants: all_values; excluding_flagged (areas
-- whose before or after value, or whose change, a plausibility rule flagged, where the rule's declared action leaves
-- such values out of comparisons); and excluding_flagged_and_noted (also areas whose before or after value a
-- publisher's note says is under-counted, estimated or not comparable: source_note_values).
-- Each also as rates per 1,000 people: the summed offences over the same areas' summed population of the mid-year
-- inside each period (schemas/vocabulary.py, POPULATION_RULE), wherever area_populations has that mid-year for
-- every area summed; a period without one has no rate, and rate_missing_because says which mid-year is missing.
CREATE OR REPLACE TABLE core.outcome_change_by_group AS
WITH flagged AS (
    SELECT q.area_code, q.subject AS measure, q.edition,
           string_agg(DISTINCT q.check_name, ', ' ORDER BY q.check_name) AS checks
    FROM core.quality_flags AS q
    JOIN core.plausibility_rules AS r ON r.rule = q.check_name
    WHERE r.excluded_from_comparisons AND q.table_name IN ('area_outcomes', 'outcome_change_by_area')
      AND q.area_code IS NOT NULL
    GROUP BY ALL
), rows AS (
    SELECT c.*, a.area_name,
           {{ area_group("v.first_funded_year") }} AS area_group,
           (SELECT string_agg(DISTINCT f.checks, ', ') FROM flagged AS f
             WHERE f.area_code = c.area_code AND f.measure = c.measure
               AND f.edition IN (c.before_edition, c.after_edition, c.before_edition || ' to ' || c.after_edition))
               AS checks,
           (SELECT string_agg(DISTINCT n.note_id, ', ' ORDER BY n.note_id) FROM core.source_note_values AS n
             WHERE n.excluded_from_comparisons AND n.area_code = c.area_code AND n.measure = c.measure
               AND (n.edition = c.before_edition AND n.period_as_published = c.before_period
                    OR n.edition = c.after_edition AND n.period_as_published = c.after_period)) AS notes
    FROM core.outcome_change_by_area AS c
    JOIN core.police_force_areas AS a USING (area_code)
    LEFT JOIN core.violence_reduction_units AS v USING (area_code)
), with_populations AS (
    SELECT r.*, pb.population AS population_before, pa.population AS population_after
    FROM (
        SELECT *, {{ mid_year_within("before_start", "before_end") }} AS mid_year_before,
               {{ mid_year_within("after_start", "after_end") }} AS mid_year_after
        FROM rows
    ) AS r
    LEFT JOIN core.area_populations AS pb ON pb.area_code = r.area_code AND pb.mid_year = r.mid_year_before
    LEFT JOIN core.area_populations AS pa ON pa.area_code = r.area_code AND pa.mid_year = r.mid_year_after
), variants AS (
    SELECT r.*, t.variant,
           CASE WHEN r.change IS NULL THEN coalesce(r.symbol, 'blank')
                WHEN t.variant <> 'all_values' AND r.checks IS NOT NULL THEN 'flagged: ' || r.checks
                WHEN t.variant = 'excluding_flagged_and_noted' AND r.notes IS NOT NULL
                THEN 'publisher''s note: ' || r.notes END
               AS left_out_because
    FROM with_populations AS r, (VALUES ('all_values'), ('excluding_flagged'), ('excluding_flagged_and_noted')) AS t(variant)
), summed AS (
    SELECT measure, before_edition, before_period, after_edition, after_period, area_group, variant,
           count(*) FILTER (left_out_because IS NULL) AS n_areas,
           count(*) FILTER (left_out_because IS NOT NULL) AS n_areas_left_out,
           count(*) FILTER (left_out_because IS NULL AND checks IS NOT NULL) AS n_flagged_values_used,
           string_agg(area_name || ' (' || left_out_because || ')', '; ' ORDER BY area_name)
               FILTER (left_out_because IS NOT NULL) AS areas_left_out,
           sum(CAST(value_before AS DOUBLE)) FILTER (left_out_because IS NULL) AS value_before,
           sum(CAST(value_after AS DOUBLE)) FILTER (left_out_because IS NULL) AS value_after,
           sum(change) FILTER (left_out_because IS NULL) AS change,
           round(100 * sum(change) FILTER (left_out_because IS NULL)
                 / NULLIF(sum(CAST(value_before AS DOUBLE)) FILTER (left_out_because IS NULL), 0), 2) AS percent_change,
           any_value(source_id) AS source_id,
           any_value(mid_year_before) AS population_mid_year_before,
           any_value(mid_year_after) AS population_mid_year_after,
           -- A population is summed only where every area summed has one: a group's rate never rests on part of it.
           CASE WHEN count(*) FILTER (left_out_because IS NULL AND population_before IS NULL) = 0
                THEN sum(population_before) FILTER (left_out_because IS NULL) END AS population_before,
           CASE WHEN count(*) FILTER (left_out_because IS NULL AND population_after IS NULL) = 0
                THEN sum(population_after) FILTER (left_out_because IS NULL) END AS population_after
    FROM variants
    GROUP BY measure, before_edition, before_period, after_edition, after_period, area_group, variant
), populations_held AS (
    SELECT 'mid-' || min(mid_year) || ' to mid-' || max(mid_year) AS years FROM core.area_populations
)
SELECT s.* EXCLUDE (population_mid_year_before, population_mid_year_after, population_before, population_after),
       s.population_mid_year_before, CAST(s.population_before AS BIGINT) AS population_before,
       CAST(round(s.value_before * 1000 / s.population_before, 4) AS DECIMAL(38, 4)) AS rate_per_1000_before,
       s.population_mid_year_after, CAST(s.population_after AS BIGINT) AS population_after,
       CAST(round(s.value_after * 1000 / s.population_after, 4) AS DECIMAL(38, 4)) AS rate_per_1000_after,
       round(100 * ((s.value_after / s.population_after) / NULLIF(s.value_before / s.population_before, 0) - 1), 2)
           AS rate_percent_change,
       CASE WHEN s.n_areas = 0 THEN 'no area summed'
            WHEN s.population_before IS NULL OR s.population_after IS NULL
            THEN 'no population for mid-'
                 || CASE WHEN s.population_before IS NULL THEN s.population_mid_year_before
                         ELSE s.population_mid_year_after END
                 || ', the 30 June inside the '
                 || CASE WHEN s.population_before IS NULL THEN 'before' ELSE 'after' END
                 || ' period, in area_populations (' || h.years || '); a population is never estimated'
       END AS rate_missing_because
FROM summed AS s, populations_held AS h
