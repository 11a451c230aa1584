-- ONS outcome statistics by police force area, one row per area, measure, period and edition.
-- Homicide rates (view els_cells: every Explore Local Statistics edition under common field names):
-- '2019-04-01/P3Y' is April 2019 to March 2022; editions write it with or without 'T00:00:00'.
-- ONS PFA tables (table core.ons_pfa_cells: every edition's cells): columns become measures through
-- raw/mappings/outcome_measures.csv; unmapped columns are not published.
-- ONS wide tables (table core.ons_wide_cells: one cell per area and column, year ending June 2025): the
-- force total rows only (partnerships are detail; a force with a single partnership, the City of London,
-- prints only that row, which is then its total), numbers printed as "13,388 " read without the
-- separators and the space, "[x]" kept as a symbol.
-- A cell holding a symbol instead of a number keeps the symbol and no value: never a zero.
-- Every value keeps where it was read: its raw file and row, and for a workbook its cell ('Table P1!G10').
-- Every period gets its first and last day: "year ending June 2025" is 2024-07-01 to 2025-06-30, a
-- rolling year and not a financial year; a mid-year population is the day it refers to (30 June).
CREATE OR REPLACE MACRO core.full_year(y) AS CASE WHEN length(y) = 2 THEN '20' || y ELSE y END;
CREATE OR REPLACE MACRO core.period_end(p) AS CASE
    WHEN regexp_full_match(p, '\d{4}-04-01(T00:00:00)?/P3Y')
        THEN CAST(CAST(left(p, 10) AS DATE) + INTERVAL 3 YEAR - INTERVAL 1 DAY AS DATE)
    WHEN regexp_full_match(p, 'year ending [A-Za-z]+ \d{2}(\d{2})?')
        THEN last_day(strptime('1 ' || regexp_extract(p, 'ending ([A-Za-z]+)', 1) || ' '
                               || core.full_year(regexp_extract(p, '(\d+)$', 1)), '%d %B %Y'))
    WHEN regexp_full_match(p, '[A-Za-z]{3} ''\d{2} to [A-Za-z]{3} ''\d{2}')
        THEN last_day(strptime('1 ' || regexp_extract(p, 'to ([A-Za-z]{3})', 1) || ' 20' || right(p, 2), '%d %b %Y'))
    WHEN regexp_full_match(p, 'mid-\d{4}') THEN make_date(CAST(right(p, 4) AS INTEGER), 6, 30)
END;
CREATE OR REPLACE MACRO core.period_start(p) AS CASE
    WHEN regexp_full_match(p, '\d{4}-04-01(T00:00:00)?/P3Y') THEN CAST(left(p, 10) AS DATE)
    WHEN regexp_full_match(p, 'year ending [A-Za-z]+ \d{2}(\d{2})?')
        THEN CAST(core.period_end(p) - INTERVAL 1 YEAR + INTERVAL 1 DAY AS DATE)
    WHEN regexp_full_match(p, '[A-Za-z]{3} ''\d{2} to [A-Za-z]{3} ''\d{2}')
        THEN CAST(strptime('1 ' || left(p, 3) || ' 20' || substr(p, 6, 2), '%d %b %Y') AS DATE)
    WHEN regexp_full_match(p, 'mid-\d{4}') THEN make_date(CAST(right(p, 4) AS INTEGER), 6, 30)
END;
-- One spelling per period, so that editions join on it: ISO 8601, the first day and the length in whole years
-- ('2019-04-01/P3Y', whether an edition prints 'T00:00:00' or not; '2024-07-01/P1Y' for 'year ending June
-- 2025'), in months where it is not whole years, and the day alone for a mid-year population.
CREATE OR REPLACE MACRO core.period_iso(first_day, last_day) AS CASE
    WHEN first_day = last_day THEN strftime(first_day, '%Y-%m-%d')
    WHEN date_diff('month', first_day, last_day + 1) % 12 = 0
        THEN strftime(first_day, '%Y-%m-%d') || '/P' || CAST(date_diff('month', first_day, last_day + 1) // 12 AS VARCHAR) || 'Y'
    ELSE strftime(first_day, '%Y-%m-%d') || '/P' || CAST(date_diff('month', first_day, last_day + 1) AS VARCHAR) || 'M'
END;
CREATE OR REPLACE TABLE core.area_outcomes AS
SELECT *, core.period_iso(period_start, period_end) AS period
FROM (
SELECT *, core.period_start(period_as_published) AS period_start, core.period_end(period_as_published) AS period_end
FROM (
    SELECT areacd AS area_code,
           'homicide_rate_per_million' AS measure,
           period AS period_as_published,
           left(period, 4) || '-' || right(CAST(CAST(left(period, 4) AS INTEGER) + 1 AS VARCHAR), 2) AS period_first_year,
           CAST(CAST(left(period, 4) AS INTEGER) + 2 AS VARCHAR) || '-'
               || right(CAST(CAST(left(period, 4) AS INTEGER) + 3 AS VARCHAR), 2) AS period_last_year,
           edition,
           edition_date,
           observation AS value,
           observation AS value_as_published,
           'offences per million population a year (average over the three years)' AS unit,
           NULLIF(status, '') AS symbol,
           source_id,
           raw_file,
           raw_row,
           NULL::VARCHAR AS raw_cell
    FROM els_cells
    WHERE geography = 'Police Force Area'
      AND areacd IN (SELECT area_code FROM core.police_force_areas)
    UNION ALL
    SELECT c.area_code, m.measure, c.period_as_published, c.financial_year, c.financial_year, c.edition,
           c.edition_date,
           CASE WHEN regexp_full_match(c.value_as_published, '-?[0-9]+(\.[0-9]+)?(E-?[0-9]+)?')
                THEN c.value_as_published END,
           c.value_as_published,
           m.unit,
           CASE WHEN NOT regexp_full_match(c.value_as_published, '-?[0-9]+(\.[0-9]+)?(E-?[0-9]+)?')
                THEN c.value_as_published END,
           c.source_id, c.raw_file, c.raw_row, c.raw_cell
    FROM core.ons_pfa_cells AS c
    JOIN raw.project__outcome_measures AS m
      ON m.source_table = c.source_table
     AND m.column_heading = c.column_heading
     AND coalesce(m.unit_as_published, '') = coalesce(c.unit_as_published, '')
     AND (m.column_group = '*' OR coalesce(m.column_group, '') = coalesce(c.column_group, ''))
    WHERE c.area_code IN (SELECT area_code FROM core.police_force_areas)
    UNION ALL
    SELECT w.area_code, m.measure, w.period_as_published, NULL, NULL, w.edition, w.edition_date,
           CASE WHEN regexp_full_match(w.value_as_published, '\d{1,3}(,\d{3})* ?')
                THEN replace(trim(w.value_as_published), ',', '') END,
           w.value_as_published,
           m.unit,
           CASE WHEN w.value_as_published = '[x]' THEN '[x]' END,
           w.source_id, w.raw_file, w._row, NULL
    FROM core.ons_wide_cells AS w
    JOIN raw.project__outcome_measures AS m
      ON m.source_table = w.source_table AND m.column_heading = w.column_heading
     AND m.unit_as_published IS NULL AND m.column_group IS NULL
    WHERE w.is_area_total
      AND w.area_code IN (SELECT area_code FROM core.police_force_areas)
)
)
