"""The DuckDB warehouse, as the assets use it: run a SQL file, read or write a table, count rows, and the
assets a SQL file reads (its lineage)."""

import re
from pathlib import Path

import pandas as pd
from dagster_duckdb import DuckDBResource

from pipeline.transform.sqltext import sql_text
from schemas.model import Table

MANIFEST_ASSET = "raw_manifest__sources"
SQL_DIR = Path(__file__).resolve().parent / "sql"
# What the SQL reads that an asset other than its namesake makes: helper tables and macros.
MADE_BY = {
    "raw.manifest_sources": MANIFEST_ASSET,
    "core.source_urls": "core_sources",
    "core.cited_source": "core_sources",
    "core.plausibility_rules": "core_quality_flags",
    "core.ons_pfa_cells": "core_area_outcomes",
    "core.ons_wide_cells": "core_area_outcomes",
    "core.full_year": "core_area_outcomes",
    "core.period_start": "core_area_outcomes",
    "core.period_end": "core_area_outcomes",
}
_TABLE_REF = re.compile(r"\b(raw|core)\.([a-z][a-z0-9_]*)")


def sql_deps(name: str) -> list[str]:
    """The assets whose tables or macros pipeline/transform/sql/<name>.sql reads: `raw.x` is made by raw_x, `core.x` by
    core_x (or as MADE_BY says), so the lineage auditors see is the lineage the SQL has."""
    text = sql_text(SQL_DIR / f"{name}.sql")
    code = "\n".join(line.split("--")[0] for line in text.splitlines())
    return sorted(
        {MADE_BY.get(f"{schema}.{table}", f"{schema}_{table}") for schema, table in _TABLE_REF.findall(code)} - {name}
    )


def run_sql(duckdb: DuckDBResource, name: str, **params: object) -> pd.DataFrame | None:
    """Run pipeline/transform/sql/<name>.sql; a SELECT returns its rows as a frame."""
    query = sql_text(SQL_DIR / f"{name}.sql")
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


def write_table(
    duckdb: DuckDBResource, schema: str, name: str, frame: pd.DataFrame, declared: Table | None = None
) -> None:
    """Store a frame as a table. With the table's declaration, its number columns (money among them) take their
    declared type as they are written: amounts travel as exact text ('29409.93') and become DECIMAL(18, 2) here,
    never a float."""
    numbers = [c for c in (declared.columns if declared else ()) if c.type == "number" and c.name in frame]
    select = "*" + (
        " REPLACE (" + ", ".join(f"CAST({c.name} AS {c.duckdb_type}) AS {c.name}" for c in numbers) + ")"
        if numbers
        else ""
    )
    with duckdb.get_connection() as con:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        con.register("incoming", frame)
        con.execute(f"CREATE OR REPLACE TABLE {schema}.{name} AS SELECT {select} FROM incoming")
        con.unregister("incoming")
