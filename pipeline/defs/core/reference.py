"""Core layer, reference tables: sources, police force areas, VRUs, initiatives, claims and evidence."""

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from pipeline.defs.core.common import GROUP, KINDS, sql_core_asset
from pipeline.defs.raw import load_manifest_or_fail
from pipeline.defs.resources import ProjectPaths
from pipeline.defs.steps import Step, step
from pipeline.transform import parsing, plausibility
from pipeline.transform.warehouse import count, run_sql, sql_deps, write_table
from pipeline.validation import Failure
from schemas.raw import (
    AREA_NAMES,
    EVIDENCE_RATINGS,
    IMPACT_CLAIMS,
    INITIATIVE_APPROACHES,
    INITIATIVES,
    POLICE_FORCE_AREAS,
    REPORT_CLAIM_VERDICTS,
    REPORT_CLAIMS,
    VIOLENCE_REDUCTION_UNITS,
)


def source_id_of(paths: ProjectPaths, file_id: str) -> str:
    return load_manifest_or_fail(paths).file(file_id).source_id


@sql_core_asset("core_sources")
def core_sources(duckdb: DuckDBResource):
    """Every public document of the manifest, one row each, with dates as dates, the authority rank of
    its kind (raw/mappings/source_kinds.csv), which decides between conflicting figures, where it was
    read (archive_url, for a mirror copy) and how it was last checked (verification)."""
    run_sql(duckdb, "core_sources")
    yield dg.MaterializeResult(metadata={"dagster/row_count": count(duckdb, "core.sources")})
    yield from plausibility.run_checks(duckdb, "core_sources")


@sql_core_asset("core_police_force_areas")
def core_police_force_areas(paths: ProjectPaths, duckdb: DuckDBResource) -> dg.MaterializeResult:
    """The 43 territorial police force areas with ONS code and name, force name and country.

    The reference file's British Transport Police note row has no area code and is left out.
    """
    run_sql(duckdb, "core_police_force_areas", source_id=source_id_of(paths, POLICE_FORCE_AREAS.file_id))
    kept = count(duckdb, "core.police_force_areas")
    read = count(duckdb, f"raw.{POLICE_FORCE_AREAS.file_id}")
    return dg.MaterializeResult(metadata={"dagster/row_count": kept, "rows_left_out_without_code": read - kept})


@sql_core_asset("core_area_names")
def core_area_names(paths: ProjectPaths, duckdb: DuckDBResource) -> dg.MaterializeResult:
    """Every accepted spelling of an area name with its ONS code.

    The ONS names and force names come from the police force areas; other spellings that sources
    print come from raw/mappings/area_names.csv. An area name not listed here stops the pipeline.
    """
    run_sql(duckdb, "core_area_names", alias_source_id=source_id_of(paths, AREA_NAMES.file_id))
    return dg.MaterializeResult(metadata={"dagster/row_count": count(duckdb, "core.area_names")})


def sql_asset(table: str, source_file: str, description: str, *, row_sources: str = "") -> Step:
    """A core table that is one SQL statement (pipeline/transform/sql/core_<table>.sql) over raw or core tables.

    Its rows cite the source of the raw file, or, with `row_sources` (the raw column of URLs), each
    row cites the document at its own first URL (see core_sources).
    """

    @step(
        name=f"core_{table}",
        group=GROUP,
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


@step(group=GROUP, kinds=KINDS | {"pandas"}, deps=[INITIATIVES.name, "core_sources"])
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
