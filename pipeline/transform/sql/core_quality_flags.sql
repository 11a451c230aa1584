-- Every flag of every plausibility rule (core.flags__<rule>, written by the rules' asset checks), with the
-- rule's severity, explanation and what the package did about it (core.plausibility_rules: one row per rule,
-- written from schemas/plausibility.py by the same asset).
CREATE OR REPLACE TABLE core.quality_flags AS
SELECT r.rule || ':' || concat_ws(':', coalesce(f.area_code, 'national'), f.subject, f.period, f.edition) AS flag_id,
       r.rule AS check_name,
       r.severity,
       r.table_name,
       f.area_code,
       f.subject,
       f.period,
       f.edition,
       f.observed,
       f.expected,
       r.explanation || ' Here: ' || f.detail || '.' AS explanation,
       r.action,
       f.source_id
FROM flags AS f
JOIN core.plausibility_rules AS r USING (rule)
