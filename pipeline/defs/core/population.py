"""Core layer, population: each police force area's population by mid-year, summed from the ONS mid-year estimates
by district, and the per-1,000 rates of the outcome counts that it makes possible."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipeline.defs.core.common import GROUP, KINDS, sql_core_asset
from pipeline.defs.raw import load_manifest_or_fail
from pipeline.defs.resources import ProjectPaths
from pipeline.defs.steps import step
from pipeline.transform import plausibility
from pipeline.transform.warehouse import count, run_sql, sql_deps
from pipeline.validation import Failure

ESTIMATES = "ons__mye_lad23_2011_2023"
LOOKUP = "ons__lad23_csp_pfa_lookup_dec2023"
# MYE4's rows that are districts (its other rows are countries, regions and counties, which contain districts).
DISTRICT_GEOGRAPHIES = ("Unitary Authority", "Non-metropolitan District", "Metropolitan District", "London Borough")


def mapping_failures(con, estimates_file: str, lookup_file: str) -> list[Failure]:
    """Why the districts cannot be placed in areas, each naming the file, row (or cell) and column: a district the
    lookup places in two areas, a district of the estimates the lookup lacks, or one the estimates lack."""
    failures = []
    twice = con.execute(
        f"""SELECT l._row, l.LAD23CD, l.PFA23CD, other._row, other.PFA23CD
        FROM raw.{LOOKUP} AS l
        JOIN raw.{LOOKUP} AS other ON other.LAD23CD = l.LAD23CD AND other.PFA23CD <> l.PFA23CD AND other._row < l._row
        QUALIFY row_number() OVER (PARTITION BY l._row ORDER BY other._row) = 1
        ORDER BY l._row"""
    ).fetchall()
    failures += [
        Failure(
            lookup_file,
            row,
            "PFA23CD",
            area,
            f"district {district} is placed in {first_area} on row {first_row}: a district must lie in one police "
            "force area",
        )
        for row, district, area, first_row, first_area in twice
    ]
    geographies = ", ".join(f"'{g}'" for g in DISTRICT_GEOGRAPHIES)
    unmapped = con.execute(
        f"""SELECT DISTINCT e._row, e.area_code, e.area_name FROM raw.{ESTIMATES} AS e
        WHERE e.source_table = 'MYE4' AND e.geography IN ({geographies})
          AND e.area_code NOT IN (SELECT LAD23CD FROM raw.{LOOKUP})
        ORDER BY e._row"""
    ).fetchall()
    failures += [
        Failure(
            f"{estimates_file}, sheet MYE4",
            row,
            "Code",
            district,
            f"district {name} is in no police force area of {lookup_file}",
        )
        for row, district, name in unmapped
    ]
    missing = con.execute(
        f"""SELECT min(l._row), l.LAD23CD FROM raw.{LOOKUP} AS l
        WHERE l.LAD23CD NOT IN (SELECT area_code FROM raw.{ESTIMATES} WHERE source_table = 'MYE4')
        GROUP BY l.LAD23CD ORDER BY 1"""
    ).fetchall()
    failures += [
        Failure(lookup_file, row, "LAD23CD", district, f"district has no population in {estimates_file}, sheet MYE4")
        for row, district in missing
    ]
    return failures


@step(
    group=GROUP,
    kinds=KINDS,
    # The plausibility check against Table P3 reads the populations ONS printed there (core_area_outcomes).
    deps=[*sql_deps("core_area_populations"), "core_area_outcomes"],
    check_specs=plausibility.check_specs("core_area_populations"),
)
def core_area_populations(paths: ProjectPaths, duckdb: DuckDBResource):
    """Each police force area's population for every mid-year from mid-2011 to mid-2023: the sum of its local
    authority districts (2023 boundaries) in the ONS mid-year estimates (sheet MYE4), each district placed in the
    area the ONS December 2023 lookup gives it.

    Refused before anything is summed, naming the file, row and column: a district the lookup places in two areas, a
    district of the estimates the lookup lacks, or one the estimates lack. Its checks: the areas add up to the
    England and Wales total the workbook prints for each mid-year (stops the run), and each area against the
    population Table P3 of the police force area tables printed for mid-2016 to mid-2018 (a warning beyond the
    declared tolerance: the estimates were rebased after Census 2021).
    """
    manifest = load_manifest_or_fail(paths)
    estimates, lookup = manifest.file(ESTIMATES), manifest.file(LOOKUP)
    with duckdb.get_connection() as con:
        failures = mapping_failures(con, f"raw/{estimates.path}", f"raw/{lookup.path}")
    if failures:
        raise dg.Failure(description="; ".join(f.message() for f in failures[:10]))
    run_sql(
        duckdb,
        "core_area_populations",
        source_id=estimates.source_id,
        lookup_source_id=lookup.source_id,
    )
    with duckdb.get_connection() as con:
        rows, years = con.execute("SELECT count(*), count(DISTINCT mid_year) FROM core.area_populations").fetchone()
    yield dg.MaterializeResult(metadata={"dagster/row_count": rows, "mid_years": years})
    yield from plausibility.run_checks(duckdb, "core_area_populations")


@sql_core_asset("core_area_outcome_rates")
def core_area_outcome_rates(duckdb: DuckDBResource) -> dg.MaterializeResult:
    """Every count of recorded offences in area_outcomes as a rate per 1,000 people, wherever the area's population
    for the period is in area_populations: the mid-year estimate (30 June) that falls inside the period (one per
    one-year period; the year to June 2025 has none in hand, so no rate). One row per count, with the count, the
    population and the mid-year it uses."""
    run_sql(duckdb, "core_area_outcome_rates")
    return dg.MaterializeResult(metadata={"dagster/row_count": count(duckdb, "core.area_outcome_rates")})
