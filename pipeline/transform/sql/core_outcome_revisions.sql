-- Each outcome value beside the same area's value for the same measure and period in the most recent
-- earlier edition of the statistic (editions ordered by edition_date). A period is settled when it is
-- not the newest period of the earlier edition (ONS revises its newest figures as a matter of course).
-- Both values keep the file and row (and workbook cell) they were read from.
CREATE OR REPLACE TABLE core.outcome_revisions AS
WITH v AS (
    SELECT * FROM core.area_outcomes WHERE value IS NOT NULL AND period_first_year IS NOT NULL
), newest AS (
    SELECT edition, measure, max(period_last_year) AS newest_year FROM v GROUP BY ALL
), pairs AS (
    SELECT n.area_code, n.measure, n.period_first_year, n.period_last_year, n.period_as_published, n.period,
           o.edition AS edition_old, n.edition AS edition_new,
           o.value AS value_old, n.value AS value_new,
           o.period_last_year < w.newest_year AS is_settled,
           n.source_id,
           o.raw_file AS raw_file_old, o.raw_row AS raw_row_old, o.raw_cell AS raw_cell_old,
           n.raw_file AS raw_file_new, n.raw_row AS raw_row_new, n.raw_cell AS raw_cell_new,
           row_number() OVER (
               PARTITION BY n.area_code, n.measure, n.period_first_year, n.period_last_year, n.edition
               -- An edition that prints a period twice (Table P4 and the series of Table P5): the same table as
               -- the later value's, then the first cell, so the pair and its cells are the same every build.
               ORDER BY o.edition_date DESC, o.edition DESC,
                        split_part(o.raw_cell, '!', 1) = split_part(n.raw_cell, '!', 1) DESC, o.raw_cell,
                        n.raw_cell
           ) AS nearest
    FROM v AS n
    JOIN v AS o
      ON o.area_code = n.area_code AND o.measure = n.measure
     AND o.period_first_year = n.period_first_year AND o.period_last_year = n.period_last_year
     AND o.edition_date < n.edition_date
    JOIN newest AS w ON w.edition = o.edition AND w.measure = o.measure
)
SELECT * EXCLUDE (nearest),
       CAST(value_new AS DOUBLE) - CAST(value_old AS DOUBLE) AS change,
       round(100 * (CAST(value_new AS DOUBLE) - CAST(value_old AS DOUBLE)) / NULLIF(CAST(value_old AS DOUBLE), 0), 2)
           AS percent_change
FROM pairs
WHERE nearest = 1
