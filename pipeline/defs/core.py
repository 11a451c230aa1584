"""Core layer: raw tables cleaned and joined in the DuckDB warehouse (schema `core`).

Joins and renames are SQL (pipeline/sql/); the few steps that parse published wording (amounts,
start years, identifiers) are the pure functions of pipeline/parsing.py.
"""

import re
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from pipeline import funding, parsing, plausibility
from pipeline.defs.raw import MANIFEST_ASSET, OWNERS, load_manifest_or_fail, write_table
from pipeline.manifest import Manifest
from pipeline.resources import ProjectPaths
from pipeline.validation import Failure, check_result
from schemas.plausibility import RULES
from schemas.published import OUTCOME_CHANGE
from schemas.raw import (
    AREA_NAMES,
    EVIDENCE_RATINGS,
    FUNDING_STREAMS,
    IMPACT_CLAIMS,
    INITIATIVE_APPROACHES,
    INITIATIVES,
    NATIONAL_TOTALS,
    POLICE_FORCE_AREAS,
    REPORT_CLAIM_VERDICTS,
    REPORT_CLAIMS,
    VIOLENCE_REDUCTION_UNITS,
)

GROUP = "core"
SQL_DIR = Path(__file__).resolve().parents[1] / "sql"
KINDS = {"duckdb", "sql"}
# What the SQL reads that an asset other than its namesake makes: helper tables and macros.
MADE_BY = {
    "raw.manifest_sources": MANIFEST_ASSET,
    "core.source_urls": "core_sources",
    "core.cited_source": "core_sources",
    "core.ons_pfa_cells": "core_area_outcomes",
    "core.ons_wide_cells": "core_area_outcomes",
    "core.full_year": "core_area_outcomes",
    "core.period_start": "core_area_outcomes",
    "core.period_end": "core_area_outcomes",
}
_TABLE_REF = re.compile(r"\b(raw|core)\.([a-z][a-z0-9_]*)")


def sql_deps(name: str) -> list[str]:
    """The assets whose tables or macros pipeline/sql/<name>.sql reads: `raw.x` is made by raw_x, `core.x` by
    core_x (or as MADE_BY says), so the lineage auditors see is the lineage the SQL has."""
    text = (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")
    code = "\n".join(line.split("--")[0] for line in text.splitlines())
    return sorted(
        {MADE_BY.get(f"{schema}.{table}", f"{schema}_{table}") for schema, table in _TABLE_REF.findall(code)} - {name}
    )


def run_sql(duckdb: DuckDBResource, name: str, **params: object) -> pd.DataFrame | None:
    """Run pipeline/sql/<name>.sql; a SELECT returns its rows as a frame."""
    query = (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")
    with duckdb.get_connection() as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS core")
        result = con.execute(query, params or None)
        return plain(result.df()) if result.description else None


def plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Missing values as None in object columns, so rows read like the published cells."""
    return frame.astype(object).where(frame.notna(), None)


def read_table(duckdb: DuckDBResource, table: str) -> pd.DataFrame:
    with duckdb.get_connection() as con:
        return plain(con.execute(f"SELECT * FROM {table}").df())


def count(duckdb: DuckDBResource, table: str) -> int:
    with duckdb.get_connection() as con:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def source_id_of(paths: ProjectPaths, file_id: str) -> str:
    return load_manifest_or_fail(paths).file(file_id).source_id


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    kinds=KINDS,
    deps=sql_deps("core_sources"),
    check_specs=plausibility.check_specs("core_sources"),
)
def core_sources(duckdb: DuckDBResource):
    """Every public document of the manifest, one row each, with dates as dates, the authority rank of
    its kind (raw/mappings/source_kinds.csv), which decides between conflicting figures, where it was
    read (archive_url, for a mirror copy) and how it was last checked (verification)."""
    run_sql(duckdb, "core_sources")
    yield dg.MaterializeResult(metadata={"dagster/row_count": count(duckdb, "core.sources")})
    yield from plausibility.run_checks(duckdb, "core_sources")


@dg.asset(group_name=GROUP, owners=OWNERS, kinds=KINDS, deps=sql_deps("core_police_force_areas"))
def core_police_force_areas(paths: ProjectPaths, duckdb: DuckDBResource) -> dg.MaterializeResult:
    """The 43 territorial police force areas with ONS code and name, force name and country.

    The reference file's British Transport Police note row has no area code and is left out.
    """
    run_sql(duckdb, "core_police_force_areas", source_id=source_id_of(paths, POLICE_FORCE_AREAS.file_id))
    kept = count(duckdb, "core.police_force_areas")
    read = count(duckdb, f"raw.{POLICE_FORCE_AREAS.file_id}")
    return dg.MaterializeResult(metadata={"dagster/row_count": kept, "rows_left_out_without_code": read - kept})


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    kinds=KINDS,
    deps=sql_deps("core_area_names"),
)
def core_area_names(paths: ProjectPaths, duckdb: DuckDBResource) -> dg.MaterializeResult:
    """Every accepted spelling of an area name with its ONS code.

    The ONS names and force names come from the police force areas; other spellings that sources
    print come from raw/mappings/area_names.csv. An area name not listed here stops the pipeline.
    """
    run_sql(duckdb, "core_area_names", alias_source_id=source_id_of(paths, AREA_NAMES.file_id))
    return dg.MaterializeResult(metadata={"dagster/row_count": count(duckdb, "core.area_names")})


def sql_asset(table: str, source_file: str, description: str, *, row_sources: str = "") -> dg.AssetsDefinition:
    """A core table that is one SQL statement (pipeline/sql/core_<table>.sql) over raw or core tables.

    Its rows cite the source of the raw file, or, with `row_sources` (the raw column of URLs), each
    row cites the document at its own first URL (see core_sources).
    """

    @dg.asset(
        name=f"core_{table}",
        group_name=GROUP,
        owners=OWNERS,
        kinds=KINDS,
        deps=sql_deps(f"core_{table}"),
        description=description,
    )
    def _core(paths: ProjectPaths, duckdb: DuckDBResource) -> dg.MaterializeResult:
        if row_sources:
            run_sql(duckdb, f"core_{table}")
            require_cited_sources(duckdb, table, load_manifest_or_fail(paths), source_file, row_sources)
        else:
            run_sql(duckdb, f"core_{table}", source_id=source_id_of(paths, source_file))
        return dg.MaterializeResult(metadata={"dagster/row_count": count(duckdb, f"core.{table}")})

    return _core


def require_cited_sources(duckdb: DuckDBResource, table: str, manifest, file_id: str, url_column: str) -> None:
    """Every row must cite a document of the manifest: its first URL must be a source's url or archive_url."""
    with duckdb.get_connection() as con:
        missing = con.execute(
            f"SELECT row_number() OVER () AS n, source_urls FROM core.{table} WHERE source_id IS NULL"
        ).fetchall()
        if not missing:
            return
        rows = dict(
            con.execute(f"SELECT {url_column}, _row FROM raw.{file_id} WHERE {url_column} IS NOT NULL").fetchall()
        )
    failures = [
        Failure(
            f"raw/{manifest.file(file_id).path}",
            rows.get(urls),
            url_column,
            (urls or "").split(";")[0].strip(),
            "the row's first URL is not a source in raw/sources.yaml (url or archive_url): add the document",
        ).message()
        for _, urls in missing
    ]
    raise dg.Failure(description="; ".join(failures[:10]) + ("; …" if len(failures) > 10 else ""))


core_violence_reduction_units = sql_asset(
    "violence_reduction_units",
    VIOLENCE_REDUCTION_UNITS.file_id,
    "The 20 Violence Reduction Units keyed by area, with financial years as YYYY-YY; each cites the document "
    "at its first URL.",
    row_sources="source_urls",
)
core_local_policing_bodies = sql_asset(
    "local_policing_bodies",
    POLICE_FORCE_AREAS.file_id,
    "The local policing body of each police force area (PCC, PFCC, mayor or police authority) and since when, "
    "as the reference compilation records it; the basis column says whether the title was seen in a source.",
)
core_impact_claims = sql_asset(
    "impact_claims",
    IMPACT_CLAIMS.file_id,
    "Published national impact figures about VRUs, Grip and funding, values and dates as published, each with "
    "the URLs it comes from; each cites the document at its first URL.",
    row_sources="source_url",
)
core_report_claims = sql_asset(
    "report_claims",
    REPORT_CLAIMS.file_id,
    "The APCC report's headline claims as stated, with this project's verdict against the primary sources "
    "(raw/mappings/report_claim_verdicts.csv) and what those sources say.",
)
core_report_claim_evidence = sql_asset(
    "report_claim_evidence",
    REPORT_CLAIM_VERDICTS.file_id,
    "Which impact claims each verdict rests on, one row per pair.",
)
core_evidence_approaches = sql_asset(
    "evidence_approaches",
    EVIDENCE_RATINGS.file_id,
    "Youth Endowment Fund Toolkit approaches with their estimated impact band, coded from the band as published; "
    "each cites the Youth Endowment Fund page at its first URL.",
    row_sources="source_urls",
)
core_initiative_approaches = sql_asset(
    "initiative_approaches",
    INITIATIVE_APPROACHES.file_id,
    "Each initiative linked to the Toolkit approaches it uses, marked full, partial or indirect.",
)


def add_initiative_ids(frame: pd.DataFrame) -> pd.DataFrame:
    """Identifier from the name, and the start year where the wording starts with one."""
    out = frame.copy()
    out.insert(0, "initiative_id", [parsing.slug(name) for name in out["initiative_name"]])
    position = out.columns.get_loc("start_as_published")
    out.insert(
        position, "year_started", pd.array([parsing.leading_year(s) for s in out["start_as_published"]], dtype="Int64")
    )
    return out


@dg.asset(group_name=GROUP, owners=OWNERS, kinds=KINDS | {"pandas"}, deps=[INITIATIVES.name, "core_sources"])
def core_initiatives(paths: ProjectPaths, duckdb: DuckDBResource) -> dg.MaterializeResult:
    """The eight APCC case-study initiatives with an identifier and a start year.

    The start year is taken only where the published wording begins with a year; otherwise it is
    left blank and the wording kept in start_as_published.
    """
    frame = run_sql(duckdb, "core_initiatives")
    frame = add_initiative_ids(frame)
    write_table(duckdb, "core", "initiatives", frame)
    require_cited_sources(duckdb, "initiatives", load_manifest_or_fail(paths), INITIATIVES.file_id, "source_urls")
    return dg.MaterializeResult(metadata={"dagster/row_count": len(frame)})


def funding_reports_asset(funding_files: list[str]) -> dg.AssetsDefinition:
    """core_funding_reports, depending on the raw asset of every funding file the manifest declares."""

    @dg.asset(
        group_name=GROUP,
        owners=OWNERS,
        kinds=KINDS | {"pandas"},
        deps=[*funding_files, FUNDING_STREAMS.name, core_area_names, core_sources],
        check_specs=[
            dg.AssetCheckSpec(
                "figures_read",
                asset="core_funding_reports",
                blocking=True,
                description="Every printed area name, stream label, period and amount is mapped or parsed; "
                "anything unreadable is named by file, row and column.",
            ),
            *plausibility.check_specs("core_funding_reports"),
        ],
    )
    def core_funding_reports(context: dg.AssetExecutionContext, paths: ProjectPaths, duckdb: DuckDBResource):
        """Every funding figure as one source reports it, read from all the funding files in raw/.

        Each file's columns are mapped onto one shape by its manifest entry (funding_layout); area
        names and stream labels are coded through raw/mappings/; periods and amounts are parsed with the
        printed strings kept beside them. A blank cell is a gap and gets no row. A figure that two files
        transcribe from the same source is kept once. Each row names the raw file and row it came from.
        """
        manifest = load_manifest_or_fail(paths)
        parts = []
        read = [entry for entry in manifest.files.values() if entry.funding_layout]
        for entry in read:
            raw = read_table(duckdb, f"raw.{entry.file_id}")
            parts.append(
                funding.standardise(raw, entry.funding_layout, entry.file_id, f"raw/{entry.path}", entry.source_id)
            )
        with duckdb.get_connection() as con:
            areas = dict(con.execute("SELECT area_as_published, area_code FROM core.area_names").fetchall())
            streams = {
                label: (stream, component)
                for label, stream, component in con.execute(
                    f"SELECT stream_as_published, stream, component FROM raw.{FUNDING_STREAMS.file_id}"
                ).fetchall()
            }
            ranks = dict(con.execute("SELECT source_id, authority_rank FROM core.sources").fetchall())
        reports, failures = funding.normalise(pd.concat(parts, ignore_index=True), areas, streams)
        unknown_sources = sorted(set(reports["source_id"]) - set(ranks)) if len(reports) else []
        if unknown_sources:
            failures.append(
                Failure(
                    "raw/sources.yaml",
                    None,
                    "source_id",
                    ", ".join(unknown_sources),
                    "cited by funding files but not in the manifest's sources",
                )
            )
        for failure in failures[:20]:
            context.log.error(failure.message())
        reports, repeats = funding.drop_repeats(reports)
        reports["authority_rank"] = reports["source_id"].map(ranks)
        write_table(duckdb, "core", "funding_reports", reports)
        with duckdb.get_connection() as con:
            con.execute("ALTER TABLE core.funding_reports ALTER amount_gbp TYPE DECIMAL(18, 2)")
        yield dg.MaterializeResult(
            metadata={"dagster/row_count": len(reports), "repeats_dropped": repeats, "files_read": len(read)}
        )
        yield check_result("figures_read", failures, "funding files")
        yield from plausibility.run_checks(duckdb, "core_funding_reports")

    return core_funding_reports


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    kinds=KINDS | {"pandas"},
    deps=["core_funding_reports"],
    check_specs=plausibility.check_specs("core_funding_allocations"),
)
def core_funding_allocations(duckdb: DuckDBResource):
    """One figure per area, stream and financial year: the report from the most authoritative source.

    Authority: Home Office table > Home Office answer > PCC/VRU/force publication > press
    (raw/mappings/source_kinds.csv); among equals exact beats rounded beats a bound, then the more
    precise wording, then the lowest source id (as a number: S14 before S113). Only whole-allocation,
    single-year, single-area figures of the four streams count.
    has_conflict marks cells whose reports cannot all be true at once.
    """
    reports = read_core(duckdb, "funding_reports")
    allocations = funding.choose_allocations(reports)
    write_table(duckdb, "core", "funding_allocations", allocations)
    with duckdb.get_connection() as con:
        con.execute("ALTER TABLE core.funding_allocations ALTER amount_gbp TYPE DECIMAL(18, 2)")
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(allocations),
            "cells_with_conflict": int(allocations["has_conflict"].sum()),
        }
    )
    yield from plausibility.run_checks(duckdb, "core_funding_allocations")


def read_core(duckdb: DuckDBResource, name: str) -> pd.DataFrame:
    """A core table; amounts as text, so that writing them back casts to DECIMAL exactly."""
    frame = read_table(duckdb, f"core.{name}")
    if "amount_gbp" in frame:
        frame["amount_gbp"] = [None if a is None else str(a) for a in frame["amount_gbp"]]
    return frame


def expected(duckdb: DuckDBResource) -> pd.DataFrame:
    with duckdb.get_connection() as con:
        firsts = dict(con.execute("SELECT area_code, first_funded_year FROM core.violence_reduction_units").fetchall())
        areas = [r[0] for r in con.execute("SELECT area_code FROM core.police_force_areas ORDER BY 1").fetchall()]
    return funding.expected_cells(firsts, areas)


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    kinds=KINDS | {"pandas"},
    deps=[core_funding_allocations, core_violence_reduction_units, core_police_force_areas],
)
def core_funding_coverage(duckdb: DuckDBResource) -> dg.MaterializeResult:
    """For every area, stream and year a Home Office figure could exist: what kind of figure is known.

    exact / rounded / lower_bound / upper_bound (the chosen figure's kind), multi_year_only (only a
    total over several years covers it), or none. Gaps stay gaps: nothing is filled from another
    year, source or national total.
    """
    table = funding.coverage(
        expected(duckdb), read_core(duckdb, "funding_allocations"), read_core(duckdb, "funding_reports")
    )
    write_table(duckdb, "core", "funding_coverage", table)
    counts = table["known"].value_counts().to_dict()
    return dg.MaterializeResult(
        metadata={"dagster/row_count": len(table), **{f"known_{k}": int(v) for k, v in counts.items()}}
    )


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    kinds=KINDS | {"pandas"},
    deps=[NATIONAL_TOTALS.name, core_funding_allocations, core_violence_reduction_units, core_police_force_areas],
    check_specs=[
        dg.AssetCheckSpec(
            "totals_reconcile",
            asset="core_national_totals",
            description="Each published national total against the sum of the known cells of its stream and year. "
            "Passes unless every cell is known and the sum still differs; missing cells are reported, never "
            "treated as reconciled.",
        ),
        *plausibility.check_specs("core_national_totals"),
    ],
)
def core_national_totals(paths: ProjectPaths, duckdb: DuckDBResource):
    """Published national totals by stream and year, beside the sum of the known area figures.

    status is 'reconciles' only when no expected cell is missing and the sum agrees with the total;
    'incomplete' when cells are missing, however close the sum; 'does_not_reconcile' otherwise.
    """
    manifest = load_manifest_or_fail(paths)
    entry = manifest.file(NATIONAL_TOTALS.file_id)
    raw = read_table(duckdb, f"raw.{NATIONAL_TOTALS.file_id}")
    with duckdb.get_connection() as con:
        streams = dict(con.execute(f"SELECT stream_as_published, stream FROM raw.{FUNDING_STREAMS.file_id}").fetchall())
    totals = pd.DataFrame(
        {
            "total_id": [
                f"{streams[s]}:{parsing.normalise_financial_year(y)}:{src}"
                for s, y, src in zip(
                    raw["stream_as_published"], raw["year_as_published"], raw["source_id"], strict=True
                )
            ],
            "stream": raw["stream_as_published"].map(streams),
            "financial_year": [parsing.normalise_financial_year(y) for y in raw["year_as_published"]],
            "amount_gbp": [str(parsing.parse_amount(a).gbp) for a in raw["amount_as_published"]],
            "amount_kind": [parsing.parse_amount(a).kind for a in raw["amount_as_published"]],
            "amount_as_published": raw["amount_as_published"],
            "description": raw["description"],
            "source_id": raw["source_id"],
            "raw_file": f"raw/{entry.path}",
            "raw_row": raw["_row"],
        }
    )
    table = funding.reconcile(totals, read_core(duckdb, "funding_allocations"), expected(duckdb))
    # The range each printed total allows, for the plausibility rules (not published).
    stated = [parsing.parse_amount(a) for a in table["amount_as_published"]]
    table["amount_low"] = [float(a.low) for a in stated]
    table["amount_high"] = pd.array([None if a.high is None else float(a.high) for a in stated], dtype="Float64")
    write_table(duckdb, "core", "national_totals", table)
    with duckdb.get_connection() as con:
        for column in ("amount_gbp", "sum_known_gbp"):
            con.execute(f"ALTER TABLE core.national_totals ALTER {column} TYPE DECIMAL(18, 2)")
    summary = (
        "| total | stated | sum of known cells | known / expected | status |\n|---|---|---|---|---|\n"
        + "\n".join(
            f"| {r.total_id} | {r.amount_as_published} | £{Decimal(r.sum_known_gbp):,.0f} | {r.cells_known} / "
            f"{r.cells_expected} | {r.status} |"
            for r in table.itertuples(index=False)
        )
    )
    yield dg.MaterializeResult(
        metadata={"dagster/row_count": len(table), "reconciliation": dg.MetadataValue.md(summary)}
    )
    yield dg.AssetCheckResult(
        check_name="totals_reconcile",
        passed=not (table["status"] == "does_not_reconcile").any(),
        description=", ".join(f"{status}: {n}" for status, n in table["status"].value_counts().sort_index().items()),
        metadata={"reconciliation": dg.MetadataValue.md(summary)},
    )
    yield from plausibility.run_checks(duckdb, "core_national_totals")


def edition_columns(f) -> str:
    """The columns that tag a row with the edition (raw file) it comes from."""
    return f"'{f.file_id}' AS edition, DATE '{f.edition_date}' AS edition_date, '{f.source_id}' AS source_id"


def quoted(heading: str) -> str:
    return '"' + heading.replace('"', '""') + '"'


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
            "NULL::DATE AS edition_date, NULL::VARCHAR AS source_id WHERE false"
        )
    return " UNION ALL ".join(parts)


def area_outcomes_asset(outcome_tables: list[str]) -> dg.AssetsDefinition:
    """core_area_outcomes, depending on the raw asset of every ONS edition the manifest declares."""

    @dg.asset(
        group_name=GROUP,
        owners=OWNERS,
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
            + f", {edition_columns(f)} FROM raw.{f.file_id}"
            for f in manifest.editions("ons_els_indicator")
        )
        pfa = " UNION ALL ".join(
            f"SELECT * EXCLUDE (_row), {edition_columns(f)} FROM raw.{f.file_id}"
            for f in [*manifest.editions("ons_pfa_long"), *manifest.editions("ons_pfa_workbook")]
        )
        query = (SQL_DIR / "core_area_outcomes.sql").read_text(encoding="utf-8")
        with duckdb.get_connection() as con:
            con.execute(f"CREATE OR REPLACE TEMP VIEW els_cells AS {els}")
            con.execute(f"CREATE OR REPLACE TABLE core.ons_pfa_cells AS {pfa}")
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


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    kinds=KINDS,
    deps=sql_deps("core_outcome_revisions"),
    check_specs=plausibility.check_specs("core_outcome_revisions"),
)
def core_outcome_revisions(duckdb: DuckDBResource):
    """How each outcome value moved from the most recent earlier edition of the same statistic.

    One row per area, measure, period and edition that an earlier edition also gives: the earlier and
    the later value, the change and the percentage change. A period is settled when it was not the newest
    period of the earlier edition; a settled value that moves by more than the declared tolerance is
    flagged (check revision_within_tolerance, listed in quality_flags).
    """
    run_sql(duckdb, "core_outcome_revisions")
    with duckdb.get_connection() as con:
        pairs = con.execute("SELECT count(*), count(*) FILTER (is_settled) FROM core.outcome_revisions").fetchone()
    yield dg.MaterializeResult(metadata={"dagster/row_count": pairs[0], "settled_pairs": pairs[1]})
    yield from plausibility.run_checks(duckdb, "core_outcome_revisions")


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    kinds=KINDS,
    deps=sql_deps("core_outcome_change_by_area"),
    check_specs=plausibility.check_specs("core_outcome_change_by_area"),
)
def core_outcome_change_by_area(duckdb: DuckDBResource):
    """Each area's recorded offences in a year before VRU funding against a year after it.

    Violence with and without injury, homicide and possession of weapons offences: the before years from
    Table P1 of every ONS police force area workbook in raw/ (years ending March 2018 to December 2019), the
    after year (July 2024 to June 2025, a rolling year) from Table C2 of the June 2025 edition. Counts
    only: no population after mid-2018 is in hand. Recorded crime, not the true level of violence;
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


@dg.asset(group_name=GROUP, owners=OWNERS, kinds=KINDS, deps=RULE_ASSETS)
def core_quality_flags(duckdb: DuckDBResource) -> dg.MaterializeResult:
    """Every value a plausibility rule flagged (schemas/plausibility.py), one row per rule and value.

    Each rule runs as an asset check on the asset that makes the data: WARN where a person must decide
    (an outlier, an implausible revision, a single-source figure that breaks the area's pattern), ERROR
    where a value is impossible (those stop the run, so a published package has none). Each flag says
    what was observed, what was expected, why, and what the package did with the value.
    """
    rules = pd.DataFrame(
        [(r.name, r.severity, r.table, r.explanation, r.action) for r in RULES],
        columns=["rule", "severity", "table_name", "explanation", "action"],
    )
    flags = " UNION ALL ".join(f"SELECT '{r.name}' AS rule, * FROM core.flags__{r.name}" for r in RULES)
    query = (SQL_DIR / "core_quality_flags.sql").read_text(encoding="utf-8")
    with duckdb.get_connection() as con:
        con.register("rules", rules)
        con.execute(f"CREATE OR REPLACE TEMP VIEW flags AS {flags}")
        con.execute(query)
        con.unregister("rules")
        by_check = dict(
            con.execute("SELECT check_name, count(*) FROM core.quality_flags GROUP BY 1 ORDER BY 1").fetchall()
        )
    return dg.MaterializeResult(
        metadata={"dagster/row_count": sum(by_check.values()), "flags_by_check": dg.MetadataValue.json(by_check)}
    )


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    kinds=KINDS,
    deps=sql_deps("core_outcome_comparison"),
)
def core_outcome_comparison(duckdb: DuckDBResource) -> dg.MaterializeResult:
    """Areas with a VRU (grouped by first funded year) against the other areas, per measure, period and
    edition, in two variants: every value, and without the values a plausibility rule flagged.

    The number of areas with a value, how many of the values used are flagged, the unweighted mean and
    median, the mean weighted by mid-2018 population (rates), and the areas left out. Descriptive, not
    causal: the VRU areas were chosen because they had the most serious violence.
    """
    run_sql(duckdb, "core_outcome_comparison")
    return dg.MaterializeResult(metadata={"dagster/row_count": count(duckdb, "core.outcome_comparison")})


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    kinds=KINDS,
    deps=sql_deps("core_outcome_change_by_group"),
)
def core_outcome_change_by_group(duckdb: DuckDBResource) -> dg.MaterializeResult:
    """VRU areas and the others: summed recorded offences before and after VRU funding, with the change.

    Over the areas with a value in both periods, in two variants: every value, and without the areas whose
    values or change a plausibility rule flagged. Descriptive, not causal.
    """
    run_sql(duckdb, "core_outcome_change_by_group")
    return dg.MaterializeResult(metadata={"dagster/row_count": count(duckdb, "core.outcome_change_by_group")})


def core_assets(manifest: Manifest | None) -> list[dg.AssetsDefinition]:
    """The core layer; the funding and outcome assets depend on the files the manifest declares."""
    files = manifest.files.values() if manifest else []
    funding_files = [f"raw_{f.file_id}" for f in files if f.funding_layout]
    outcome_layouts = ("ons_pfa_long", "ons_pfa_workbook", "ons_els_indicator", "ons_wide_table")
    outcome_tables = [f"raw_{f.file_id}" for f in files if f.table_layout in outcome_layouts]
    return [
        core_sources,
        core_police_force_areas,
        core_area_names,
        core_violence_reduction_units,
        core_local_policing_bodies,
        core_initiatives,
        core_impact_claims,
        core_report_claims,
        core_report_claim_evidence,
        core_evidence_approaches,
        core_initiative_approaches,
        funding_reports_asset(funding_files),
        core_funding_allocations,
        core_funding_coverage,
        core_national_totals,
        area_outcomes_asset(outcome_tables),
        core_outcome_revisions,
        core_outcome_change_by_area,
        core_quality_flags,
        core_outcome_comparison,
        core_outcome_change_by_group,
    ]
