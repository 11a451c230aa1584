-- Every numbered footnote printed under the ONS tables the package reads, exactly as the cell holds it
-- (core.ons_pfa_footnotes, read from the workbooks), with what this project's reading says it covers
-- (raw/mappings/source_note_coverage.csv, one row per note citing its cell; blank for a general note: a definition,
-- a source). The note's kind decides whether the excluding_flagged_and_noted comparisons leave its values out.
CREATE OR REPLACE TABLE core.source_notes AS
SELECT n.edition || ':' || n.note_cell AS note_id, n.edition, n.raw_file, n.source_table, n.note_number,
       n.note_cell, n.note_text, c.kind, c.area_codes, c.measures, c.covers,
       CAST(c.covers_from AS DATE) AS covers_from, CAST(c.covers_until AS DATE) AS covers_until,
       {{ note_excluded("c.kind") }} AS excluded_from_comparisons,
       n.source_id
FROM core.ons_pfa_footnotes AS n
LEFT JOIN raw.project__source_note_coverage AS c ON c.file_id = n.edition AND c.note_cell = n.note_cell
