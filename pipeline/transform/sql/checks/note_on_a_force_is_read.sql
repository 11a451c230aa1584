-- A publisher's note that names a force, or whose marker sits on a force's name, without this project's reading of
-- it (a row of raw/mappings/source_note_coverage.csv giving its kind): what it says of that force's figures is not
-- yet used, so a person must read it.
WITH unread AS (
    SELECT * FROM core.source_notes WHERE kind IS NULL
), forces AS (
    -- The forces as the tables print their names (a region or country has another kind of code).
    SELECT DISTINCT area_code, area_name FROM core.ons_pfa_cells WHERE regexp_full_match(area_code, '(E23|W15)\d{6}')
), named AS (
    SELECT n.note_id, a.area_code, 'the note names ' || a.area_name AS detail
    FROM unread AS n
    JOIN forces AS a
      ON contains(lower(replace(n.note_text, '&', 'and')), lower(replace(a.area_name, '&', 'and')))
    UNION
    SELECT n.note_id, c.area_code, 'its marker ' || n.note_number || ' is on ' || c.area_name AS detail
    FROM unread AS n
    JOIN core.ons_pfa_cells AS c
      ON c.edition = n.edition AND c.source_table = n.source_table
     AND list_contains(string_split(c.area_name_footnotes, ','), CAST(n.note_number AS VARCHAR))
     AND regexp_full_match(c.area_code, '(E23|W15)\d{6}')
)
SELECT n.area_code,
       'note' AS subject,
       u.note_cell AS period,  -- where the note is printed: one flag per note and force (a table has several)
       u.edition,
       u.note_cell || ': ' || u.note_text AS observed,
       'a row of raw/mappings/source_note_coverage.csv for this note (its kind, areas, measures and periods)'
           AS expected,
       string_agg(DISTINCT n.detail, '; ' ORDER BY n.detail) AS detail,
       u.source_id
FROM named AS n
JOIN unread AS u USING (note_id)
GROUP BY n.area_code, u.source_table, u.edition, u.note_cell, u.note_text, u.source_id
