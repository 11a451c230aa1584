-- outcome_comparison's groups of one-year counts as rates per 1,000 people: computed there, beside the counts and
-- from the same areas (so both variants leave out the same values), and published apart, one row per group with a
-- rate.
CREATE OR REPLACE TABLE core.outcome_group_rates AS
SELECT measure, period_as_published, period_first_year, edition, area_group, variant, n_areas,
       CAST(sum_value AS BIGINT) AS offences, population_mid_year, population, rate_per_1000, source_id
FROM core.outcome_comparison
WHERE rate_per_1000 IS NOT NULL
