"""Core layer: raw tables cleaned and joined in the DuckDB warehouse (schema `core`).

Joins and renames are SQL (pipeline/sql/); the few steps that parse published wording (amounts,
start years, identifiers) are the pure functions of pipeline/parsing.py.
"""

from pathlib import Path

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from pipeline import parsing
from pipeline.defs.raw import MANIFEST_ASSET, OWNERS, load_manifest_or_fail, write_table
from pipeline.resources import ProjectPaths
from pipeline.validation import Failure, check_result
from schemas.raw import (
    AREA_NAMES,
    HOME_OFFICE_ALLOCATIONS_2023_24,
    INITIATIVES,
    POLICE_FORCE_AREAS,
    VIOLENCE_REDUCTION_UNITS,
)

GROUP = "core"
SQL_DIR = Path(__file__).resolve().parents[1] / "sql"
KINDS = {"duckdb", "sql"}


def run_sql(duckdb: DuckDBResource, name: str, **params: object) -> pd.DataFrame | None:
    """Run pipeline/sql/<name>.sql; a SELECT returns its rows as a frame."""
    query = (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")
    with duckdb.get_connection() as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS core")
        result = con.execute(query, params or None)
        return result.df() if result.description else None


def count(duckdb: DuckDBResource, table: str) -> int:
    with duckdb.get_connection() as con:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def source_id_of(paths: ProjectPaths, file_id: str) -> str:
    return load_manifest_or_fail(paths).file(file_id).source_id


@dg.asset(group_name=GROUP, owners=OWNERS, kinds=KINDS, code_version="1", deps=[MANIFEST_ASSET])
def core_sources(duckdb: DuckDBResource) -> dg.MaterializeResult:
    """Every public document of the manifest, one row each, with dates as dates."""
    run_sql(duckdb, "core_sources")
    return dg.MaterializeResult(metadata={"dagster/row_count": count(duckdb, "core.sources")})


@dg.asset(group_name=GROUP, owners=OWNERS, kinds=KINDS, code_version="1", deps=[POLICE_FORCE_AREAS.name])
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
    code_version="1",
    deps=[core_police_force_areas, AREA_NAMES.name],
)
def core_area_names(paths: ProjectPaths, duckdb: DuckDBResource) -> dg.MaterializeResult:
    """Every accepted spelling of an area name with its ONS code.

    The ONS names and force names come from the police force areas; other spellings that sources
    print come from raw/mappings/area_names.csv. An area name not listed here stops the pipeline.
    """
    run_sql(duckdb, "core_area_names", alias_source_id=source_id_of(paths, AREA_NAMES.file_id))
    return dg.MaterializeResult(metadata={"dagster/row_count": count(duckdb, "core.area_names")})


@dg.asset(group_name=GROUP, owners=OWNERS, kinds=KINDS, code_version="1", deps=[VIOLENCE_REDUCTION_UNITS.name])
def core_violence_reduction_units(paths: ProjectPaths, duckdb: DuckDBResource) -> dg.MaterializeResult:
    """The 20 Violence Reduction Units keyed by area, with financial years as YYYY-YY."""
    run_sql(duckdb, "core_violence_reduction_units", source_id=source_id_of(paths, VIOLENCE_REDUCTION_UNITS.file_id))
    return dg.MaterializeResult(metadata={"dagster/row_count": count(duckdb, "core.violence_reduction_units")})


def add_initiative_ids(frame: pd.DataFrame) -> pd.DataFrame:
    """Identifier from the name, and the start year where the wording starts with one."""
    out = frame.copy()
    out.insert(0, "initiative_id", [parsing.slug(name) for name in out["initiative_name"]])
    position = out.columns.get_loc("start_as_published")
    out.insert(
        position, "year_started", pd.array([parsing.leading_year(s) for s in out["start_as_published"]], dtype="Int64")
    )
    return out


@dg.asset(group_name=GROUP, owners=OWNERS, kinds=KINDS | {"pandas"}, code_version="1", deps=[INITIATIVES.name])
def core_initiatives(paths: ProjectPaths, duckdb: DuckDBResource) -> dg.MaterializeResult:
    """The eight APCC case-study initiatives with an identifier and a start year.

    The start year is taken only where the published wording begins with a year; otherwise it is
    left blank and the wording kept in start_as_published.
    """
    frame = run_sql(duckdb, "core_initiatives", source_id=source_id_of(paths, INITIATIVES.file_id))
    frame = add_initiative_ids(frame.astype(object).where(frame.notna(), None))
    write_table(duckdb, "core", "initiatives", frame)
    return dg.MaterializeResult(metadata={"dagster/row_count": len(frame)})


def parse_amounts(frame: pd.DataFrame, file_label: str, column: dict[str, str]) -> tuple[pd.DataFrame, list[Failure]]:
    """amount_gbp and amount_kind from amount_as_published; unreadable strings become failures."""
    amounts, kinds, failures = [], [], []
    for row in frame.itertuples(index=False):
        try:
            amount = parsing.parse_amount(row.amount_as_published)
        except parsing.ParseError as exc:
            failures.append(Failure(file_label, row.raw_row, column[row.stream], row.amount_as_published, str(exc)))
            amounts.append(None)
            kinds.append(None)
            continue
        amounts.append(str(amount.gbp))  # text, so DuckDB casts it to DECIMAL exactly
        kinds.append(amount.kind)
    out = frame.copy()
    position = out.columns.get_loc("amount_as_published")
    out.insert(position, "amount_gbp", amounts)
    out.insert(position + 2, "amount_kind", kinds)
    return out, failures


def unresolved_areas(frame: pd.DataFrame, file_label: str, column: str) -> list[Failure]:
    return [
        Failure(
            file_label,
            row.raw_row,
            column,
            row.area_as_published,
            "unknown area name: add the spelling to raw/mappings/area_names.csv if it is a real area",
        )
        for row in frame[frame["area_code"].isna()].itertuples(index=False)
    ]


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    kinds=KINDS | {"pandas"},
    code_version="1",
    deps=[HOME_OFFICE_ALLOCATIONS_2023_24.name, core_area_names],
    check_specs=[
        dg.AssetCheckSpec(
            "areas_and_amounts_resolve",
            asset="core_funding_reports",
            blocking=True,
            description="Every printed area name maps to an ONS code and every printed amount parses.",
        )
    ],
)
def core_funding_reports(context: dg.AssetExecutionContext, paths: ProjectPaths, duckdb: DuckDBResource):
    """Every funding figure as its source prints it, with the amount parsed and the area coded.

    From the Home Office's 2023/24 allocations table (S01): one row per area and stream (Grip ->
    surge_grip, VRU -> vru). Blank cells are gaps and get no row. The published string is kept
    beside the parsed amount, and each row names the raw file and row it was read from.
    """
    manifest = load_manifest_or_fail(paths)
    entry = manifest.file(HOME_OFFICE_ALLOCATIONS_2023_24.file_id)
    label = f"raw/{entry.path}"
    frame = run_sql(duckdb, "core_funding_reports__home_office_2023_24", source_id=entry.source_id, raw_file=label)
    frame = frame.astype(object).where(frame.notna(), None)
    columns = {"surge_grip": "Grip police force allocation", "vru": "VRU allocation"}
    frame, failures = parse_amounts(frame, label, columns)
    failures = unresolved_areas(frame, label, "Area") + failures
    for failure in failures[:20]:
        context.log.error(failure.message())
    frame.insert(
        0, "report_id", frame[["source_id", "area_code", "stream", "financial_year"]].astype(str).agg(":".join, axis=1)
    )
    write_table(duckdb, "core", "funding_reports", frame)
    with duckdb.get_connection() as con:
        con.execute("ALTER TABLE core.funding_reports ALTER amount_gbp TYPE DECIMAL(18, 2)")
    yield dg.MaterializeResult(metadata={"dagster/row_count": len(frame)})
    yield check_result("areas_and_amounts_resolve", failures, label)


CORE_ASSETS = [
    core_sources,
    core_police_force_areas,
    core_area_names,
    core_violence_reduction_units,
    core_initiatives,
    core_funding_reports,
]
