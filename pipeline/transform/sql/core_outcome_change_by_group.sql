-- Areas with a VRU (by first funded year) against the others: the summed counts of the areas that have a
-- value in both periods, before and after, with the change. Three variants: all_values; excluding_flagged (areas
-- whose before or after value, or whose change, a plausibility rule flagged, where the rule's declared action leaves
-- such values out of comparisons); and excluding_flagged_and_noted (also areas whose before or after value a
-- publisher's note says is under-counted, estimated or not comparable: source_note_values).
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
), variants AS (
    SELECT r.*, t.variant,
           CASE WHEN r.change IS NULL THEN coalesce(r.symbol, 'blank')
                WHEN t.variant <> 'all_values' AND r.checks IS NOT NULL THEN 'flagged: ' || r.checks
                WHEN t.variant = 'excluding_flagged_and_noted' AND r.notes IS NOT NULL
                THEN 'publisher''s note: ' || r.notes END
               AS left_out_because
    FROM rows AS r, (VALUES ('all_values'), ('excluding_flagged'), ('excluding_flagged_and_noted')) AS t(variant)
)
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
       any_value(source_id) AS source_id
FROM variants
GROUP BY measure, before_edition, before_period, after_edition, after_period, area_group, variant
