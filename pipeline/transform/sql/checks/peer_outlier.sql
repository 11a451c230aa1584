-- A rate far from the other areas' for the same measure, period and edition: more than $max_robust_z
-- robust deviations from their median (the robust_* macros, pipeline/transform/sql/macros/robust_score.sql).
WITH v AS (
    SELECT *, CAST(value AS DOUBLE) AS x
    FROM core.area_outcomes
    WHERE value IS NOT NULL AND list_contains($measures, measure)
), centre AS (
    SELECT measure, period_as_published, edition, robust_centre(x) AS med, count(*) AS n_areas
    FROM v GROUP BY ALL
), spread AS (
    SELECT measure, period_as_published, edition, robust_spread(v.x, c.med) AS mad
    FROM v JOIN centre AS c USING (measure, period_as_published, edition)
    GROUP BY ALL
)
SELECT v.area_code,
       v.measure AS subject,
       v.period_as_published AS period,
       v.edition,
       format('{:.4g}', v.x) AS observed,
       format('{:.4g}', greatest(robust_low(c.med, s.mad, $max_robust_z), 0)) || ' to '
           || format('{:.4g}', robust_high(c.med, s.mad, $max_robust_z)) AS expected,
       'median of ' || c.n_areas || ' areas ' || format('{:.4g}', c.med) || ', robust z '
           || CAST(round(robust_z(v.x, c.med, s.mad), 1) AS VARCHAR) AS detail,
       v.source_id
FROM v
JOIN centre AS c USING (measure, period_as_published, edition)
JOIN spread AS s USING (measure, period_as_published, edition)
WHERE robust_outlier(v.x, c.med, s.mad, $max_robust_z)
