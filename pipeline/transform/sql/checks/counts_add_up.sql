-- Every count column ($published: published as a measure, or not) of every ONS police force area table: the 43 areas plus British Transport Police
-- against the published England and Wales figure (where one is printed as a number). Populations are
-- rounded to 100 per area, so they may differ by up to $population_tolerance.
WITH cells AS (
    SELECT edition, source_id, column_group, column_heading, unit_as_published, area_code, area_name,
           TRY_CAST(value_as_published AS DOUBLE) AS x,
           column_heading LIKE 'Population figures%' AS is_population
    FROM core.ons_pfa_cells AS c
    WHERE (unit_as_published = 'Numbers' OR column_heading LIKE 'Number%' OR column_heading LIKE 'Population figures%')
      -- $published: only the columns published as a measure (or only the others)
      AND $published = EXISTS (
          SELECT 1 FROM raw.project__outcome_measures AS m
          WHERE m.source_table = c.source_table AND m.column_heading = c.column_heading
            AND coalesce(m.unit_as_published, '') = coalesce(c.unit_as_published, '')
            AND (m.column_group = '*' OR coalesce(m.column_group, '') = coalesce(c.column_group, ''))
      )
), columns AS (
    SELECT edition, any_value(source_id) AS source_id, column_group, column_heading, unit_as_published,
           bool_or(is_population) AS is_population,
           sum(CASE WHEN area_code LIKE 'E23%' OR area_code LIKE 'W15%' OR area_name LIKE 'British Transport%'
                    THEN coalesce(x, 0) END) AS members,
           count(CASE WHEN area_code = 'K04000001' THEN 1 END) AS n_totals,
           max(CASE WHEN area_code = 'K04000001' THEN x END) AS total
    FROM cells
    GROUP BY edition, column_group, column_heading, unit_as_published
)
SELECT NULL AS area_code,
       concat_ws(' / ', column_group, column_heading) AS subject,
       unit_as_published AS period,
       edition,
       'areas + British Transport Police: ' || CAST(members AS VARCHAR) AS observed,
       'England and Wales: ' || CAST(total AS VARCHAR)
           || CASE WHEN is_population THEN ' (within ' || $population_tolerance || ')' ELSE '' END AS expected,
       'difference ' || CAST(members - total AS VARCHAR) AS detail,
       source_id
FROM columns
WHERE n_totals = 1 AND total IS NOT NULL
  AND CASE WHEN is_population THEN abs(members - total) > $population_tolerance ELSE members <> total END
