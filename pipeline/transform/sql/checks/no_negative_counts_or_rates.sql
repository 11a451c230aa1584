-- Counts, populations and rates below zero, in any cell of any ONS table (published or not) and in
-- every published outcome value. Percentage changes may be negative and are not looked at.
SELECT area_code,
       concat_ws(' / ', column_group, column_heading) AS subject,
       period_as_published AS period,
       edition,
       value_as_published AS observed,
       '0 or more' AS expected,
       source_table || ', ' || coalesce(area_name, '') || ' (a cell of the raw table)' AS detail,
       source_id
FROM core.ons_pfa_cells
WHERE (unit_as_published = 'Numbers' OR unit_as_published LIKE 'Rate%'
       OR column_heading LIKE 'Number%' OR column_heading LIKE 'Population%')
  AND TRY_CAST(value_as_published AS DOUBLE) < 0
UNION ALL
SELECT area_code, measure, period_as_published, edition, value_as_published, '0 or more',
       'a published value of area_outcomes', source_id
FROM core.area_outcomes
WHERE TRY_CAST(value AS DOUBLE) < 0
