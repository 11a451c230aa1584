-- A break in an area's own series: its count changes from one year to the next (two editions' rolling years a year
-- apart) by more than $max_robust_z robust deviations from the other areas' changes over the same two years, among
-- the areas with at least $min_count_before offences in the first year. Every before-and-after change of that area
-- and measure whose before period ends before the later year of the jump spans the break, and is flagged however
-- its own change compares with the other areas' (change_outlier): year-on-year changes are tightly spread, so a
-- recording change stands far outside them where a change over six years, spread far wider, can hide it.
WITH counts AS (
    SELECT area_code, measure, edition, period_as_published, period_start, period_end,
           TRY_CAST(value AS DOUBLE) AS x
    FROM core.area_outcomes
    WHERE measure IN (SELECT DISTINCT measure FROM core.outcome_change_by_area)
      AND period_end = CAST(period_start + INTERVAL 1 YEAR - INTERVAL 1 DAY AS DATE)
), steps AS (
    SELECT e.area_code, e.measure, e.edition AS first_edition, l.edition AS later_edition,
           e.period_as_published AS first_period, l.period_as_published AS later_period, l.period_end AS later_end,
           e.x AS first_value, l.x AS later_value, 100 * (l.x - e.x) / e.x AS percent_change
    FROM counts AS e
    JOIN counts AS l ON l.area_code = e.area_code AND l.measure = e.measure
                    AND l.period_start = e.period_start + INTERVAL 1 YEAR
    WHERE e.x >= $min_count_before AND l.x IS NOT NULL
), centre AS (
    SELECT measure, first_edition, later_edition, robust_centre(percent_change) AS med, count(*) AS n_areas
    FROM steps GROUP BY ALL
), spread AS (
    SELECT measure, first_edition, later_edition, robust_spread(s.percent_change, c.med) AS mad
    FROM steps AS s JOIN centre AS c USING (measure, first_edition, later_edition)
    GROUP BY ALL
), breaks AS (
    SELECT s.*, c.med, c.n_areas, p.mad
    FROM steps AS s
    JOIN centre AS c USING (measure, first_edition, later_edition)
    JOIN spread AS p USING (measure, first_edition, later_edition)
    WHERE robust_outlier(s.percent_change, c.med, p.mad, $max_robust_z)
), spanned AS (
    -- Each change flagged once, on the largest jump its before period precedes.
    SELECT v.*, b.first_period, b.later_period, b.first_value, b.later_value, b.percent_change AS jump, b.med,
           b.mad, b.n_areas,
           row_number() OVER (PARTITION BY v.area_code, v.measure, v.before_edition, v.after_edition
                              ORDER BY robust_z(b.percent_change, b.med, b.mad) DESC, b.later_edition) AS nth
    FROM core.outcome_change_by_area AS v
    JOIN breaks AS b ON b.area_code = v.area_code AND b.measure = v.measure AND v.before_end < b.later_end
    WHERE v.change IS NOT NULL
)
SELECT area_code,
       measure AS subject,
       before_period || ' to ' || after_period AS period,
       before_edition || ' to ' || after_edition AS edition,
       'a change of ' || format('{:+.1f}%', percent_change) || ' (' || value_before || ' to ' || value_after
           || ') across a break in the area''s own series: ' || CAST(first_value AS BIGINT) || ' in the '
           || first_period || ', ' || CAST(later_value AS BIGINT) || ' in the ' || later_period || ' ('
           || format('{:+.1f}%', jump) || ')' AS observed,
       'a change from one year to the next between ' || format('{:+.1f}%', robust_low(med, mad, $max_robust_z))
           || ' and ' || format('{:+.1f}%', robust_high(med, mad, $max_robust_z)) AS expected,
       'median change of ' || n_areas || ' areas over the same two years ' || format('{:+.1f}%', med)
           || ', robust z ' || CAST(round(robust_z(jump, med, mad), 1) AS VARCHAR) AS detail,
       source_id
FROM spanned
WHERE nth = 1
