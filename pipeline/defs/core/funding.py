"""Core layer, funding: every printed figure as a report, one figure per cell, coverage and national totals."""

from decimal import Decimal

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from pipeline.defs.core.common import GROUP, KINDS, sql_core_asset
from pipeline.defs.raw import load_manifest_or_fail
from pipeline.defs.resources import ProjectPaths
from pipeline.defs.steps import Step, step
from pipeline.transform import funding, parsing, plausibility
from pipeline.transform.warehouse import plain, read_table, run_sql, write_table
from pipeline.validation import check_result
from schemas import PUBLISHED_TABLES
from schemas.plausibility import rules_for
from schemas.raw import (
    FUNDING_STREAMS,
    NATIONAL_TOTALS,
)


def funding_reports_asset(funding_files: list[str]) -> Step:
    """core_funding_reports, depending on the raw asset of every funding file the manifest declares."""

    @step(
        group=GROUP,
        kinds=KINDS,
        deps=[*funding_files, FUNDING_STREAMS.name, "core_area_names", "core_sources"],
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
        files = [
            funding.FundingFile(e.file_id, f"raw.{e.file_id}", e.funding_layout, f"raw/{e.path}", e.source_id)
            for e in manifest.files.values()
            if e.funding_layout
        ]
        with duckdb.get_connection() as con:
            repeats, failures = funding.build_reports(
                con,
                files,
                areas="core.area_names",
                streams=f"raw.{FUNDING_STREAMS.file_id}",
                sources="core.sources",
                target="core.funding_reports",
            )
            ((rows,),) = con.execute("SELECT count(*) FROM core.funding_reports").fetchall()
        for failure in failures[:20]:
            context.log.error(failure.message())
        yield dg.MaterializeResult(
            metadata={"dagster/row_count": rows, "repeats_dropped": repeats, "files_read": len(files)}
        )
        yield check_result("figures_read", failures, "funding files")
        yield from plausibility.run_checks(duckdb, "core_funding_reports")

    return core_funding_reports


@sql_core_asset("core_funding_allocations")
def core_funding_allocations(duckdb: DuckDBResource):
    """One figure per area, stream and financial year: the report from the most authoritative source.

    Authority: Home Office table > Home Office answer > PCC/VRU/force publication > press
    (raw/mappings/source_kinds.csv); among equals exact beats rounded beats a bound, then the more
    precise wording, then the lowest source id (as a number: S14 before S113). A bound a more authoritative
    report contradicts is set aside; a lower and an upper bound that meet pin the figure (bounds_combined).
    chosen_because names the step that decided. Only whole-allocation, single-year, single-area figures of the
    four streams count. has_conflict marks cells whose reports (a floor for every VRU included) cannot all be
    true at once; superseded_because marks a figure of a stream another replaced that year (never summed).
    """
    run_sql(duckdb, "core_funding_allocations", streams=list(funding.ALLOCATION_STREAMS))
    with duckdb.get_connection() as con:
        rows, conflicts = con.execute(
            "SELECT count(*), count(*) FILTER (has_conflict) FROM core.funding_allocations"
        ).fetchall()[0]
    yield dg.MaterializeResult(metadata={"dagster/row_count": rows, "cells_with_conflict": conflicts})
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


def flagged(duckdb: DuckDBResource) -> dict[tuple[str, str, str], str]:
    """The chosen figures the rules of core_funding_allocations flagged (their checks run with that asset, before
    any total is summed), by area, stream and year: the rules' names."""
    found: dict[tuple[str, str, str], list[str]] = {}
    with duckdb.get_connection() as con:
        for rule in rules_for("core_funding_allocations"):
            for area, stream, year in con.execute(
                f"SELECT area_code, subject, period FROM core.flags__{rule.name} ORDER BY ALL"
            ).fetchall():
                found.setdefault((area, stream, year), []).append(rule.name)
    return {cell: ", ".join(rules) for cell, rules in found.items()}


@step(
    group=GROUP,
    kinds=KINDS | {"pandas"},
    deps=["core_funding_allocations", "core_violence_reduction_units", "core_police_force_areas"],
)
def core_funding_coverage(duckdb: DuckDBResource) -> dg.MaterializeResult:
    """For every area, stream and year a Home Office figure could exist: what kind of figure is known.

    exact / rounded / lower_bound / upper_bound (the chosen figure's kind), multi_year_only (only a
    total over several years covers it), or none. Gaps stay gaps: nothing is filled from another
    year, source or national total.
    """
    # The reports of one area that span several years: all that matters beside the chosen figures, selected here
    # rather than in pandas (a million reports need not leave the warehouse).
    with duckdb.get_connection() as con:
        spans = con.execute(
            "SELECT area_code, stream, financial_year, financial_year_last FROM core.funding_reports "
            "WHERE area_code IS NOT NULL AND financial_year IS NOT NULL "
            "AND financial_year IS DISTINCT FROM financial_year_last"
        ).df()
    table = funding.coverage(expected(duckdb), read_core(duckdb, "funding_allocations"), plain(spans))
    write_table(duckdb, "core", "funding_coverage", table)
    counts = table["known"].value_counts().to_dict()
    return dg.MaterializeResult(
        metadata={"dagster/row_count": len(table), **{f"known_{k}": int(v) for k, v in counts.items()}}
    )


@step(
    group=GROUP,
    kinds=KINDS | {"pandas"},
    deps=[NATIONAL_TOTALS.name, "core_funding_allocations", "core_violence_reduction_units", "core_police_force_areas"],
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
    'rests_on_flagged' when it would, but only with a figure in doubt (conflicting reports, or a rule of
    core_funding_allocations flagged it); 'incomplete' when cells are missing, however close the sum;
    'does_not_reconcile' otherwise.
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
    table = funding.reconcile(totals, read_core(duckdb, "funding_allocations"), expected(duckdb), flagged(duckdb))
    # The range each printed total allows, for the plausibility rules (not published).
    stated = [parsing.parse_amount(a) for a in table["amount_as_published"]]
    table["amount_low"] = [float(a.low) for a in stated]
    table["amount_high"] = pd.array([None if a.high is None else float(a.high) for a in stated], dtype="Float64")
    write_table(duckdb, "core", "national_totals", table, PUBLISHED_TABLES["national_totals"])
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
