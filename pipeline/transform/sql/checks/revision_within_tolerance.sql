-- Settled periods whose value moved between editions by more than the tolerance (core.outcome_revisions
-- pairs each edition's value with the most recent earlier edition's value for the same period).
SELECT area_code,
       measure AS subject,
       period_as_published AS period,
       edition_new AS edition,
       value_new AS observed,
       CAST(round(CAST(value_old AS DOUBLE) - greatest($absolute_tolerance, $relative_tolerance * abs(CAST(value_old AS DOUBLE))), 2) AS VARCHAR)
           || ' to ' || CAST(round(CAST(value_old AS DOUBLE) + greatest($absolute_tolerance, $relative_tolerance * abs(CAST(value_old AS DOUBLE))), 2) AS VARCHAR) AS expected,
       'was ' || value_old || ' in ' || edition_old || ' (' || CAST(percent_change AS VARCHAR) || '%)' AS detail,
       source_id
FROM core.outcome_revisions
WHERE is_settled
  AND abs(CAST(value_new AS DOUBLE) - CAST(value_old AS DOUBLE))
      > greatest($absolute_tolerance, $relative_tolerance * abs(CAST(value_old AS DOUBLE)))
