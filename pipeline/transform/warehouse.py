"""The DuckDB warehouse, as the assets use it: run a SQL file, read or write a table, count rows, and the
assets a SQL file reads (its lineage, parsed with sqlglot)."""

import functools
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import sqlglot
import sqlglot.errors
from dagster_duckdb import DuckDBResource
from sqlglot import exp

from pipeline.transform.sqltext import sql_text
from schemas.model import Table

MANIFEST_ASSET = "raw_manifest__sources"
SQL_DIR = Path(__file__).resolve().parent / "sql"
# The schemas whose tables and macros assets make; anything else a query names (out, a CTE, a temp view) is not
# lineage between assets.
LINEAGE_SCHEMAS = ("raw", "core")
# Tables SQL reads that Python code makes rather than a SQL file, and the asset whose code makes them
# (pipeline/defs/raw.py, pipeline/defs/core/outcomes.py). What a SQL file creates is read from the file.
MADE_IN_PYTHON = {
    "raw.manifest_sources": MANIFEST_ASSET,
    "core.plausibility_rules": "core_quality_flags",
    "core.ons_pfa_cells": "core_area_outcomes",
    "core.ons_pfa_footnotes": "core_area_outcomes",
    "core.ons_wide_cells": "core_area_outcomes",
}


def quoted(name: str) -> str:
    """A SQL identifier, quoted: a heading as a publisher prints it ('Violence with injury') is a column name."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class Lineage:
    """The `schema.name` of every table or macro in the raw and core schemas a SQL text reads, and of those it
    creates (CREATE TABLE, VIEW or MACRO)."""

    reads: frozenset[str]
    creates: frozenset[str]


@functools.cache  # by text: every asset's lineage reads every file's, and an edited file is new text
def lineage(text: str, label: str = "SQL") -> Lineage:
    """What `text` (DuckDB SQL, one or more statements) reads and creates, from its syntax tree: a name in a
    comment or a string is not a reference. A macro call `core.f(x)` parses as `core` dot a function call."""
    try:
        statements = [s for s in sqlglot.parse(text, read="duckdb") if s is not None]
    except sqlglot.errors.SqlglotError as exc:
        raise ValueError(f"{label}: sqlglot cannot parse it, so its lineage is unknown: {exc}") from exc
    reads, creates = set(), set()
    for statement in statements:
        target = statement.this.find(exp.Table) if isinstance(statement, exp.Create) else None
        if target is not None:
            creates.add(f"{target.db}.{target.name}")
        reads |= {
            f"{table.db}.{table.name}"
            for table in statement.find_all(exp.Table)
            if table is not target and table.db in LINEAGE_SCHEMAS and not table.catalog
        }
        reads |= {
            f"{dot.this.name}.{dot.expression.name}"
            for dot in statement.find_all(exp.Dot)
            if isinstance(dot.this, exp.Identifier)
            and dot.this.name in LINEAGE_SCHEMAS
            and isinstance(dot.expression, exp.Anonymous)
        }
    return Lineage(frozenset(reads), frozenset(creates))


def sql_lineage(name: str, sql_dir: Path = SQL_DIR) -> Lineage:
    """The lineage of <sql_dir>/<name>.sql."""
    path = sql_dir / f"{name}.sql"
    return lineage(sql_text(path), f"pipeline/transform/sql/{name}.sql")


def made_by(sql_dir: Path = SQL_DIR) -> dict[str, str]:
    """The asset that makes each table or macro: the SQL file that creates it (core_sources.sql makes
    core.source_urls and core.cited_source), or the Python code of MADE_IN_PYTHON."""
    made = dict(MADE_IN_PYTHON)
    for path in sorted(sql_dir.glob("*.sql")):
        made |= dict.fromkeys(sql_lineage(path.stem, sql_dir).creates, path.stem)
    return made


def sql_deps(name: str, sql_dir: Path = SQL_DIR) -> list[str]:
    """The assets whose tables or macros <sql_dir>/<name>.sql reads: the asset that makes each (`made_by`), else
    by the naming rule, `raw.x` made by raw_x and `core.x` by core_x; so the lineage auditors see is the lineage
    the SQL has."""
    made = made_by(sql_dir)
    reads = sql_lineage(name, sql_dir).reads
    return sorted({made.get(ref, ref.replace(".", "_", 1)) for ref in reads} - {name})


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
