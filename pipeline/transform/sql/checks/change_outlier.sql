-- An area whose change between the two periods is far from the other areas' for the same measure and pair
-- of editions: more than $max_robust_z robust deviations from the median percentage change, among the
-- areas with at least $min_count_before offences before (the robust_* macros,
-- pipeline/transform/sql/macros/robust_score.sql).
WITH v AS (
    SELECT * FROM core.outcome_change_by_area
    WHERE percent_change IS NOT NULL AND CAST(value_before AS DOUBLE) >= $min_count_before
), centre AS (
    SELECT measure, before_edition, after_edition, robust_centre(percent_change) AS med, count(*) AS n_areas
    FROM v GROUP BY ALL
), spread AS (
    SELECT measure, before_edition, after_edition, robust_spread(v.percent_change, c.med) AS mad
    FROM v JOIN centre AS c USING (measure, before_edition, after_edition)
    GROUP BY ALL
)
SELECT v.area_code,
       v.measure AS subject,
       v.before_period || ' to ' || v.after_period AS period,
       v.before_edition || ' to ' || v.after_edition AS edition,
       'a change of ' || format('{:+.1f}%', v.percent_change) || ' (' || v.value_before || ' to '
           || v.value_after || ')' AS observed,
       'between ' || format('{:+.1f}%', robust_low(c.med, s.mad, $max_robust_z)) || ' and '
           || format('{:+.1f}%', robust_high(c.med, s.mad, $max_robust_z)) AS expected,
       'median change of ' || c.n_areas || ' areas ' || format('{:+.1f}%', c.med) || ', robust z '
           || CAST(round(robust_z(v.percent_change, c.med, s.mad), 1) AS VARCHAR) AS detail,
       v.source_id
FROM v
JOIN centre AS c USING (measure, before_edition, after_edition)
JOIN spread AS s USING (measure, before_edition, after_edition)
WHERE robust_outlier(v.percent_change, c.med, s.mad, $max_robust_z)
