-- Each area's recorded offences in a year before VRU funding against a year after it, for the counts in
-- both (violence with and without injury, homicide, possession of weapons). Before: year-long periods
-- that end by $before_ends_by (2017-18, 2018-19, and the rolling years of 2019, which overlap the first
-- months of funding); after: year-long periods that start from $after_starts_from (after the first funded
-- year). Every pair of a before and an after edition is a row; a symbol in either keeps the change blank.
-- Recorded crime, not the true level of violence; recording practice changed between the periods.
-- Both values keep the file and row (and workbook cell) they were read from.
CREATE OR REPLACE TABLE core.outcome_change_by_area AS
WITH counts AS (
    SELECT *, TRY_CAST(value AS DOUBLE) AS x
    FROM core.area_outcomes
    WHERE list_contains($measures, measure)
      AND period_end = CAST(period_start + INTERVAL 1 YEAR - INTERVAL 1 DAY AS DATE)
), before AS (
    SELECT * FROM counts WHERE period_end <= CAST($before_ends_by AS DATE)
), after AS (
    SELECT * FROM counts WHERE period_start >= CAST($after_starts_from AS DATE)
)
SELECT b.measure, b.area_code,
       b.edition AS before_edition, b.period_as_published AS before_period,
       b.period_start AS before_start, b.period_end AS before_end,
       a.edition AS after_edition, a.period_as_published AS after_period,
       a.period_start AS after_start, a.period_end AS after_end,
       b.value AS value_before, a.value AS value_after,
       coalesce(b.symbol, a.symbol) AS symbol,
       a.x - b.x AS change,
       round(100 * (a.x - b.x) / NULLIF(b.x, 0), 2) AS percent_change,
       a.source_id,
       b.raw_file AS raw_file_before, b.raw_row AS raw_row_before, b.raw_cell AS raw_cell_before,
       a.raw_file AS raw_file_after, a.raw_row AS raw_row_after, a.raw_cell AS raw_cell_after
FROM before AS b
JOIN after AS a USING (measure, area_code)
