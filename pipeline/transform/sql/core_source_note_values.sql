-- Which published values each publisher's note covers: a value of the note's table (its cell is under the same
-- sheet), edition, area and measure, in the periods the note's words set (all; periods overlapping; or within the
-- dates). A rate area_outcome_rates computes from a linked count has the count's key (area, measure, period,
-- edition), so it carries the same note.
CREATE OR REPLACE TABLE core.source_note_values AS
WITH coverage AS (
    SELECT n.note_id, n.edition, n.source_table, n.kind, n.excluded_from_comparisons, n.covers, n.covers_from,
           n.covers_until, a.area_code, m.measure
    FROM core.source_notes AS n
    CROSS JOIN LATERAL (SELECT unnest(string_split(n.area_codes, ';')) AS area_code) AS a
    CROSS JOIN LATERAL (SELECT unnest(string_split(n.measures, ';')) AS measure) AS m
    WHERE n.kind IS NOT NULL
)
SELECT c.note_id, c.kind, c.excluded_from_comparisons, o.area_code, o.measure, o.period_as_published, o.period,
       o.edition, o.value, o.raw_cell, o.source_id
FROM coverage AS c
JOIN core.area_outcomes AS o
  ON o.edition = c.edition AND o.area_code = c.area_code AND o.measure = c.measure
 AND split_part(o.raw_cell, '!', 1) = c.source_table
 AND (c.covers = 'all'
      OR (c.covers = 'overlapping' AND o.period_end >= coalesce(c.covers_from, o.period_end)
          AND o.period_start <= coalesce(c.covers_until, o.period_start))
      OR (c.covers = 'within' AND o.period_start >= coalesce(c.covers_from, o.period_start)
          AND o.period_end <= coalesce(c.covers_until, o.period_end)))
