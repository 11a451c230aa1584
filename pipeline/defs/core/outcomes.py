"""Core layer, outcomes: ONS statistics by area and edition, revisions, before/after change, quality flags
and the comparison of VRU areas with the others."""

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from pipeline.defs.core.common import GROUP, KINDS, sql_core_asset
from pipeline.defs.raw import load_manifest_or_fail
from pipeline.defs.resources import ProjectPaths
from pipeline.defs.steps import Step, step
from pipeline.transform import plausibility
from pipeline.transform.sqltext import sql_text
from pipeline.transform.warehouse import SQL_DIR, count, quoted, run_sql, sql_deps
from pipeline.validation import Failure
from schemas.plausibility import RULES, Action
from schemas.published import OUTCOME_CHANGE


def edition_columns(f) -> str:
    """The columns that tag a row with the edition (raw file) it comes from, and the file's path in the archive."""
    return (
        f"'{f.file_id}' AS edition, DATE '{f.edition_date}' AS edition_date, '{f.source_id}' AS source_id, "
        f"'raw/{f.path}' AS raw_file"
    )


ELS_FIELDS = ("areacd", "geography", "period", "observation", "status")
WIDE_KEYS = ("area_code", "area_name", "partnership_code", "partnership_name")


def wide_cells(manifest) -> str:
    """Every wide table (layout ons_wide_table) as one cell per row and offence column, with its edition."""
    parts = []
    for f in manifest.editions("ons_wide_table"):
        keys = {field: quoted(f.layout_columns[field]) for field in WIDE_KEYS}
        excluded = ", ".join([*(quoted(h) for h in f.layout_columns.values()), "_row"])
        options = f.table_options
        parts.append(
            "SELECT "
            + ", ".join(f"{heading} AS {field}" for field, heading in keys.items())
            + f", _row, column_heading, value_as_published, '{options['source_table']}' AS source_table, "
            f"'{options['period_as_published']}' AS period_as_published, {edition_columns(f)} "
            f"FROM (UNPIVOT raw.{f.file_id} ON COLUMNS(* EXCLUDE ({excluded})) "
            "INTO NAME column_heading VALUE value_as_published)"
        )
    if not parts:  # no wide table in raw/: an empty table of the same shape
        return (
            "SELECT "
            + ", ".join(f"NULL::VARCHAR AS {field}" for field in WIDE_KEYS)
            + ", NULL::INTEGER AS _row, NULL::VARCHAR AS column_heading, NULL::VARCHAR AS value_as_published, "
            "NULL::VARCHAR AS source_table, NULL::VARCHAR AS period_as_published, NULL::VARCHAR AS edition, "
            "NULL::DATE AS edition_date, NULL::VARCHAR AS source_id, NULL::VARCHAR AS raw_file WHERE false"
        )
    return " UNION ALL ".join(parts)


def area_outcomes_asset(outcome_tables: list[str]) -> Step:
    """core_area_outcomes, depending on the raw asset of every ONS edition the manifest declares."""

    @step(
        group=GROUP,
        kinds=KINDS,
        deps=[*sql_deps("core_area_outcomes"), *outcome_tables],
        check_specs=plausibility.check_specs("core_area_outcomes"),
    )
    def core_area_outcomes(paths: ProjectPaths, duckdb: DuckDBResource):
        """ONS outcome statistics by police force area: one row per area, measure, period and edition.

        The homicide rate per million over three-year rolling periods from every edition of the ONS Explore
        Local Statistics file in raw/ (editions of May 2023 to February 2026: ONS revises earlier periods in
        each, so every edition is kept and compared in core_outcome_revisions), and from the ONS police
        force area tables (years ending March 2018 and 2019, December 2019): violence with and without
        injury and homicide (counts and rates), population, and knife or sharp instrument offences 2010-11
        to 2018-19. A cell ONS filled with a symbol (-, +, .., NA, N/A, u) keeps the symbol and no value,
        never a zero. Greater Manchester's knife figures before 2018 are under-counts (ONS footnote).

        Its plausibility checks: each table's areas add up to the England and Wales total and no count or
        rate is negative (both stop the run), rates far outside their peers, and three-year homicide rates
        against the areas' own single-year counts (warnings, listed in quality_flags).
        """
        manifest = load_manifest_or_fail(paths)
        # Headings differ between editions ("AREACD", "areacd"): each edition's own names, quoted.
        els = " UNION ALL ".join(
            "SELECT "
            + ", ".join(f"{quoted(f.layout_columns[field])} AS {field}" for field in ELS_FIELDS)
            + f", _row AS raw_row, {edition_columns(f)} FROM raw.{f.file_id}"
            for f in manifest.editions("ons_els_indicator")
        )
        # A workbook's cells carry the cell they were read from; a transcription (a CSV) only its row.
        pfa = " UNION ALL ".join(
            f"SELECT * EXCLUDE (_row{', source_cell' if workbook else ''}), _row AS raw_row, "
            f"{'source_cell' if workbook else 'NULL::VARCHAR'} AS raw_cell, {edition_columns(f)} FROM raw.{f.file_id}"
            for workbook, layout in ((False, "ons_pfa_long"), (True, "ons_pfa_workbook"))
            for f in manifest.editions(layout)
        )
        # The footnotes printed under each workbook's tables, with the edition they come from.
        footnotes = " UNION ALL ".join(
            f"SELECT *, {edition_columns(f)} FROM raw.{f.file_id}__footnotes"
            for f in manifest.editions("ons_pfa_workbook")
        ) or (
            "SELECT NULL::VARCHAR AS source_table, NULL::BIGINT AS note_number, NULL::VARCHAR AS note_cell, "
            "NULL::VARCHAR AS note_text, NULL::VARCHAR AS edition, NULL::DATE AS edition_date, "
            "NULL::VARCHAR AS source_id, NULL::VARCHAR AS raw_file WHERE false"
        )
        query = sql_text(SQL_DIR / "core_area_outcomes.sql")
        with duckdb.get_connection() as con:
            con.execute(f"CREATE OR REPLACE TEMP VIEW els_cells AS {els}")
            con.execute(f"CREATE OR REPLACE TABLE core.ons_pfa_cells AS {pfa}")
            con.execute(f"CREATE OR REPLACE TABLE core.ons_pfa_footnotes AS {footnotes}")
            # A force's total is its row without a partnership, or its only row where it has one partnership.
            con.execute(
                "CREATE OR REPLACE TABLE core.ons_wide_cells AS SELECT *, "
                "partnership_code IS NULL AND partnership_name IS NULL "
                "OR count(DISTINCT _row) OVER (PARTITION BY edition, area_code) = 1 AS is_area_total "
                f"FROM ({wide_cells(manifest)})"
            )
            unreadable = con.execute(
                "SELECT edition, _row, column_heading, value_as_published FROM core.ons_wide_cells "
                "WHERE NOT regexp_full_match(value_as_published, '\\d{1,3}(,\\d{3})* ?|\\[x\\]') "
                "ORDER BY edition, _row, column_heading"
            ).fetchall()
            if unreadable:
                failures = [
                    Failure(
                        f"raw/{manifest.file(edition).path}",
                        row,
                        heading,
                        value,
                        "expected a count like '13,388 ' or [x]",
                    )
                    for edition, row, heading, value in unreadable
                ]
                raise dg.Failure(description="; ".join(f.message() for f in failures[:10]))
            con.execute(query)
            measures = dict(
                con.execute("SELECT measure, count(*) FROM core.area_outcomes GROUP BY 1 ORDER BY 1").fetchall()
            )
            editions = con.execute("SELECT count(DISTINCT edition) FROM core.area_outcomes").fetchone()[0]
        yield dg.MaterializeResult(
            metadata={
                "dagster/row_count": sum(measures.values()),
                "editions_read": editions,
                "rows_by_measure": dg.MetadataValue.json(measures),
            }
        )
        yield from plausibility.run_checks(duckdb, "core_area_outcomes")

    return core_area_outcomes


@sql_core_asset("core_outcome_revisions")
def core_outcome_revisions(duckdb: DuckDBResource):
    """How each outcome value moved from the most recent earlier edition of the same statistic.

    One row per area, measure, period and edition that an earlier edition also gives: the earlier and
    the later value, the change and the percentage change, and the file and row (or workbook cell) of each.
    A period is settled when it was not the newest period of the earlier edition; a value that moves by more
    than the declared tolerance, settled or not, is flagged (check revision_within_tolerance, listed in
    quality_flags).
    """
    run_sql(duckdb, "core_outcome_revisions")
    with duckdb.get_connection() as con:
        pairs = con.execute("SELECT count(*), count(*) FILTER (is_settled) FROM core.outcome_revisions").fetchone()
    yield dg.MaterializeResult(metadata={"dagster/row_count": pairs[0], "settled_pairs": pairs[1]})
    yield from plausibility.run_checks(duckdb, "core_outcome_revisions")


@sql_core_asset("core_outcome_change_by_area")
def core_outcome_change_by_area(duckdb: DuckDBResource):
    """Each area's recorded offences in a year before VRU funding against a year after it.

    Violence with and without injury, homicide and possession of weapons offences: the before years from
    Table P1 of every ONS police force area workbook in raw/ (years ending March 2018 to December 2019), the
    after year (July 2024 to June 2025, a rolling year) from Table C2 of the June 2025 edition. Counts
    only: no population for mid-2025, inside the after year, is in hand. Recorded crime, not the true level of violence;
    recording practice changed between the periods. An area whose change is far out of line with the
    others is flagged.
    """
    run_sql(
        duckdb,
        "core_outcome_change_by_area",
        measures=list(OUTCOME_CHANGE["measures"]),
        before_ends_by=OUTCOME_CHANGE["before_ends_by"],
        after_starts_from=OUTCOME_CHANGE["after_starts_from"],
    )
    yield dg.MaterializeResult(metadata={"dagster/row_count": count(duckdb, "core.outcome_change_by_area")})
    yield from plausibility.run_checks(duckdb, "core_outcome_change_by_area")


RULE_ASSETS = sorted({rule.asset for rule in RULES})


def rules_frame(rules=RULES) -> pd.DataFrame:
    """core.plausibility_rules: each rule as the SQL reads it. `action` is the published wording; the comparisons
    leave out a rule's flagged values where `excluded_from_comparisons` (the rule's Action, not its wording)."""
    return pd.DataFrame(
        [
            (r.name, r.severity, r.table, r.explanation, r.action_text, str(r.action), r.action is Action.EXCLUDED)
            for r in rules
        ],
        columns=["rule", "severity", "table_name", "explanation", "action", "action_code", "excluded_from_comparisons"],
    )


@step(group=GROUP, kinds=KINDS, deps=RULE_ASSETS)
def core_quality_flags(duckdb: DuckDBResource) -> dg.MaterializeResult:
    """Every value a plausibility rule flagged (schemas/plausibility.py), one row per rule and value.

    Each rule runs as an asset check on the asset that makes the data: WARN where a person must decide
    (an outlier, an implausible revision, a single-source figure that breaks the area's pattern), ERROR
    where a value is impossible (those stop the run, so a published package has none). Each flag says
    what was observed, what was expected, why, and what the package did with the value.
    """
    rules = rules_frame()
    flags = " UNION ALL ".join(f"SELECT '{r.name}' AS rule, * FROM core.flags__{r.name}" for r in RULES)
    query = sql_text(SQL_DIR / "core_quality_flags.sql")
    with duckdb.get_connection() as con:
        con.register("rules", rules)
        con.execute("CREATE OR REPLACE TABLE core.plausibility_rules AS SELECT * FROM rules")
        con.unregister("rules")
        con.execute(f"CREATE OR REPLACE TEMP VIEW flags AS {flags}")
        con.execute(query)
        by_check = dict(
            con.execute("SELECT check_name, count(*) FROM core.quality_flags GROUP BY 1 ORDER BY 1").fetchall()
        )
    return dg.MaterializeResult(
        metadata={"dagster/row_count": sum(by_check.values()), "flags_by_check": dg.MetadataValue.json(by_check)}
    )


NOTE_COVERAGE_FILE = "raw/mappings/source_note_coverage.csv"


@sql_core_asset("core_source_notes")
def core_source_notes(duckdb: DuckDBResource):
    """Every numbered footnote under the ONS tables the package reads, as printed, with what it covers where it
    says so: the kind of note (under-count, estimate, not comparable, revision, one event counted), its areas,
    measures and periods (raw/mappings/source_note_coverage.csv, each row citing the note's cell).

    A row of the mapping that names no note printed in its workbook, or a measure no ONS table gives, stops the
    run, naming the mapping's row: a note is read from its cell, never retyped.
    """
    run_sql(duckdb, "core_source_notes")
    with duckdb.get_connection() as con:
        problems = con.execute(
            "SELECT c._row, 'note_cell', c.file_id || ' ' || c.note_cell, 'names no numbered note printed under a "
            "table of that workbook' FROM raw.project__source_note_coverage AS c WHERE NOT EXISTS (SELECT 1 FROM "
            "core.source_notes AS n WHERE n.edition = c.file_id AND n.note_cell = c.note_cell) "
            "UNION ALL SELECT c._row, 'measures', m.measure, 'not a measure of raw/mappings/outcome_measures.csv' "
            "FROM raw.project__source_note_coverage AS c, "
            "(SELECT unnest(string_split(c.measures, ';')) AS measure) AS m "
            "WHERE m.measure NOT IN (SELECT measure FROM raw.project__outcome_measures) ORDER BY 1"
        ).fetchall()
        by_kind = dict(
            con.execute(
                "SELECT coalesce(kind, 'general'), count(*) FROM core.source_notes GROUP BY 1 ORDER BY 1"
            ).fetchall()
        )
    if problems:
        failures = [
            Failure(NOTE_COVERAGE_FILE, row, column, value, expected) for row, column, value, expected in problems
        ]
        raise dg.Failure(description="; ".join(f.message() for f in failures[:10]))
    yield dg.MaterializeResult(
        metadata={"dagster/row_count": sum(by_kind.values()), "notes_by_kind": dg.MetadataValue.json(by_kind)}
    )
    yield from plausibility.run_checks(duckdb, "core_source_notes")


@sql_core_asset("core_source_note_values")
def core_source_note_values(duckdb: DuckDBResource) -> dg.MaterializeResult:
    """Which area_outcomes values each publisher's note covers (a link table): the note, its kind, and the value's
    key and cell. The excluding_flagged_and_noted comparisons leave out the values an under-count, estimate or
    not-comparable note covers."""
    run_sql(duckdb, "core_source_note_values")
    return dg.MaterializeResult(metadata={"dagster/row_count": count(duckdb, "core.source_note_values")})


@sql_core_asset("core_outcome_comparison")
def core_outcome_comparison(duckdb: DuckDBResource) -> dg.MaterializeResult:
    """Areas with a VRU (grouped by first funded year) against the other areas, per measure, period and
    edition, in two variants: every value, and without the values a plausibility rule flagged.

    The number of areas with a value, how many of the values used are flagged, the unweighted mean and
    median, the mean weighted by mid-2018 population (rates), and the areas left out. Descriptive, not
    causal: the VRU areas were chosen because they had the most serious violence.
    """
    run_sql(duckdb, "core_outcome_comparison")
    return dg.MaterializeResult(metadata={"dagster/row_count": count(duckdb, "core.outcome_comparison")})


@sql_core_asset("core_outcome_group_rates")
def core_outcome_group_rates(duckdb: DuckDBResource) -> dg.MaterializeResult:
    """outcome_comparison's one-year counts as each group's rate per 1,000 people, in both variants: the groups'
    offences over the same areas' populations (area_populations) for the mid-year inside the period."""
    run_sql(duckdb, "core_outcome_group_rates")
    return dg.MaterializeResult(metadata={"dagster/row_count": count(duckdb, "core.outcome_group_rates")})


@sql_core_asset("core_outcome_change_by_group")
def core_outcome_change_by_group(duckdb: DuckDBResource) -> dg.MaterializeResult:
    """VRU areas and the others: summed recorded offences before and after VRU funding, with the change.

    Over the areas with a value in both periods, in two variants: every value, and without the areas whose
    values or change a plausibility rule flagged. Descriptive, not causal.
    """
    run_sql(duckdb, "core_outcome_change_by_group")
    return dg.MaterializeResult(metadata={"dagster/row_count": count(duckdb, "core.outcome_change_by_group")})


@sql_core_asset("core_area_year")
def core_area_year(duckdb: DuckDBResource) -> dg.MaterializeResult:
    """A panel for analysis: every police force area and financial year, the funding figure chosen per stream
    (with what is known of it and its source) beside the recorded offences ONS prints for that financial year
    (the newest edition that prints it, and its source). Outcomes by financial year exist up to 2018-19 in the
    editions in hand; the funded years' outcomes are rolling years, compared in outcome_change_by_area."""
    run_sql(duckdb, "core_area_year")
    return dg.MaterializeResult(metadata={"dagster/row_count": count(duckdb, "core.area_year")})
