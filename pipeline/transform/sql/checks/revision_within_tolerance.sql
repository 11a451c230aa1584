-- Values that moved between editions by more than the tolerance (core.outcome_revisions pairs each edition's
-- value with the most recent earlier edition's value for the same period), settled or the earlier edition's
-- newest period. The floor of the tolerance suits the unit: count_floor offences for a count, so that a small
-- count moving by a few offences is not flagged; absolute_tolerance for a rate or a population.
WITH judged AS (
    SELECT r.*,
           greatest(CASE WHEN r.measure IN (SELECT measure FROM core.area_outcomes WHERE unit = 'offences')
                         THEN $count_floor ELSE $absolute_tolerance END,
                    $relative_tolerance * abs(CAST(r.value_old AS DOUBLE))) AS tolerance
    FROM core.outcome_revisions AS r
)
SELECT area_code,
       measure AS subject,
       period_as_published AS period,
       edition_new AS edition,
       value_new AS observed,
       CAST(round(CAST(value_old AS DOUBLE) - tolerance, 2) AS VARCHAR)
           || ' to ' || CAST(round(CAST(value_old AS DOUBLE) + tolerance, 2) AS VARCHAR) AS expected,
       'was ' || value_old || ' in ' || edition_old || ' (' || CAST(percent_change AS VARCHAR) || '%)'
           || CASE WHEN is_settled THEN '' ELSE ', where it was the newest period' END AS detail,
       source_id
FROM judged
WHERE abs(CAST(value_new AS DOUBLE) - CAST(value_old AS DOUBLE)) > tolerance
