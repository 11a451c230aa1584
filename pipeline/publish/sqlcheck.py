"""The package's row checks in DuckDB, derived from the same column declarations as its Frictionless schema.

The frictionless library stays the final word on the published package (`make data` runs `frictionless
validate`), but it reads every cell in Python: a million-row table costs it about a minute. These are the same
checks as SQL over the written CSV, at the speed of the data: types, required, unique, pattern, enum, minimum
and maximum, primary and foreign keys, and the resource's bytes and sha256. Each error is reported as
frictionless reports it, (resource, row, field, type), so that tests/test_sqlcheck.py can prove on a corpus of
broken packages that both find the same errors.

Frictionless's rules, followed here: rows are numbered as in the file (the header is row 1); a blank cell is
missing and only `required` applies to it; a cell that is not of its type gets a type error and no constraint
error; a repeated unique value or primary key is an error on each later row; a foreign key whose cells are all
present must match a row of the referenced resource.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import duckdb

from schemas.model import Column, Table

# How a cell reads as its declared type; NULL where it does not (a type error).
_TYPED = {
    "string": "{c}",
    "integer": "CASE WHEN regexp_full_match({c}, '[+-]?[0-9]+') THEN TRY_CAST({c} AS HUGEINT) END",
    "number": "CASE WHEN regexp_full_match({c}, '[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)') THEN TRY_CAST({c} AS DOUBLE) END",
    "boolean": "CASE WHEN {c} IN ('true', 'True', 'TRUE', '1') THEN true "
    "WHEN {c} IN ('false', 'False', 'FALSE', '0') THEN false END",
    "date": "TRY_STRPTIME({c}, '%Y-%m-%d')",
}


@dataclass(frozen=True, order=True)
class Error:
    resource: str
    row: int | None
    field: str | None
    type: str  # type-error, constraint-error, unique-error, primary-key, foreign-key, hash-count


def quoted(name: str) -> str:
    """A SQL identifier, quoted: a heading as a publisher prints it ('Violence with injury') is a column name."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _view(con: duckdb.DuckDBPyConnection, name: str, path: Path) -> str:
    """The CSV as text cells, numbered as frictionless numbers rows (the header is row 1). A view, not a copy: the
    cell checks read it once (`_row_errors`), so a large table is streamed rather than held in memory."""
    view = f"cells_{name}"
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT row_number() OVER () + 1 AS _row, * FROM read_csv("
        f"{literal(str(path))}, all_varchar = true, header = true, delim = ',', quote = '\"', escape = '\"', "
        "nullstr = '', auto_detect = false, columns = "
        + "{"
        + ", ".join(f"{literal(c)}: 'VARCHAR'" for c in _header(path))
        + "})"
    )
    return view


def _header(path: Path) -> list[str]:
    with path.open(encoding="utf-8") as handle:
        return handle.readline().rstrip("\n").split(",")


def _cell_error(column: Column) -> str:
    """The error type of one cell of `column` as SQL: NULL when the cell is valid."""
    c = quoted(column.name)
    typed = _TYPED[column.type].format(c=c)
    # Constraint failures in frictionless's order of checking, for cells of the right type.
    failing = []
    if column.enum:
        failing.append(f"{c} NOT IN ({', '.join(literal(v) for v in column.enum)})")
    if column.pattern:
        failing.append(f"NOT regexp_full_match({c}, {literal(column.pattern)})")
    if column.minimum is not None:
        failing.append(f"({typed}) < {column.minimum}")
    if column.maximum is not None:
        failing.append(f"({typed}) > {column.maximum}")
    constraint = " OR ".join(f"({f})" for f in failing) or "false"
    missing = "'constraint-error'" if column.required else "NULL"
    return (
        f"CASE WHEN {c} IS NULL THEN {missing} WHEN ({typed}) IS NULL THEN 'type-error' "
        f"WHEN {constraint} THEN 'constraint-error' END"
    )


def _repeats(con: duckdb.DuckDBPyConnection, view: str, key: str, present: str = "true") -> list[int]:
    """Rows whose `key` an earlier row already has (frictionless reports each later row)."""
    return [
        row
        for (row,) in con.execute(
            f"SELECT _row FROM (SELECT _row, row_number() OVER (PARTITION BY {key} ORDER BY _row) AS n "
            f"FROM {view} WHERE {present}) WHERE n > 1 ORDER BY _row"
        ).fetchall()
    ]


def validate_resource(con: duckdb.DuckDBPyConnection, folder: Path, resource: dict, table: Table) -> list[Error]:
    """Every error frictionless would report for one resource of the package in `folder`."""
    path = folder / resource["path"]
    with path.open("rb") as handle:  # in blocks: a large table is not held in memory twice
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    errors = []
    if resource.get("bytes") not in (None, path.stat().st_size) or resource.get("hash") not in (
        None,
        "sha256:" + digest,
    ):
        errors.append(Error(table.name, None, None, "hash-count"))
    return errors + _row_errors(con, table, _view(con, table.name, path))


def validate_table(con: duckdb.DuckDBPyConnection, source: str, table: Table) -> list[Error]:
    """The same checks over a warehouse table (`source`, e.g. out.funding_reports) as it will be written: rows
    in primary-key order, numbered as in the CSV, every cell as text. Foreign keys are not checked here."""
    order = ", ".join(quoted(k) for k in table.primary_key) or "ALL"
    cells = ", ".join(f"CAST({quoted(c.name)} AS VARCHAR) AS {quoted(c.name)}" for c in table.columns)
    view = f"cells_{table.name}"
    # First without row numbers, which cost a sort of the whole table: a valid table (the usual case) is done.
    con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT 0 AS _row, * FROM (SELECT {cells} FROM {source})")
    try:
        if not _row_errors(con, table, view):
            return []
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT row_number() OVER (ORDER BY {order}) + 1 AS _row, * "
            f"FROM (SELECT {cells} FROM {source})"
        )
        return _row_errors(con, table, view)
    finally:
        con.execute(f"DROP VIEW {view}")


def _row_errors(con: duckdb.DuckDBPyConnection, table: Table, view: str) -> list[Error]:
    """Every cell's type and constraint errors in one pass over the rows, then the repeated unique values and
    primary keys; listed column by column, each in row order."""
    cells = [_cell_error(column) for column in table.columns]
    found = con.execute(
        f"SELECT * FROM (SELECT _row, {', '.join(f'{cell} AS e{i}' for i, cell in enumerate(cells))} FROM {view}) "
        f"WHERE {' OR '.join(f'e{i} IS NOT NULL' for i in range(len(cells)))} ORDER BY _row"
    ).fetchall()
    errors = []
    for i, column in enumerate(table.columns):
        errors += [Error(table.name, row[0], column.name, row[i + 1]) for row in found if row[i + 1]]
        if column.unique:
            typed = _TYPED[column.type].format(c=quoted(column.name))
            repeated = _repeats(con, view, typed, f"{quoted(column.name)} IS NOT NULL AND ({typed}) IS NOT NULL")
            errors += [Error(table.name, row, column.name, "unique-error") for row in repeated]
    if table.primary_key:
        key = ", ".join(quoted(k) for k in table.primary_key)
        errors += [Error(table.name, row, None, "primary-key") for row in _repeats(con, view, key)]
    return errors


def validate_foreign_keys(con: duckdb.DuckDBPyConnection, tables: dict[str, Table], names: list[str]) -> list[Error]:
    """Rows of `names` whose foreign key (all its cells present) matches no row of the referenced resource.
    The views of every resource must exist (validate_resource made them)."""
    errors = []
    for name in names:
        for fk in tables[name].foreign_keys:
            present = " AND ".join(f"t.{quoted(a)} IS NOT NULL" for a in fk.columns)
            match = " AND ".join(
                f"t.{quoted(a)} = r.{quoted(b)}" for a, b in zip(fk.columns, fk.reference, strict=True)
            )
            rows = con.execute(
                f"SELECT t._row FROM cells_{name} AS t WHERE {present} "
                f"AND NOT EXISTS (SELECT 1 FROM cells_{fk.table} AS r WHERE {match}) ORDER BY t._row"
            ).fetchall()
            errors += [Error(name, row, None, "foreign-key") for (row,) in rows]
    return errors


def validate_package(
    folder: Path, descriptor: dict, tables: dict[str, Table], names: list[str] | None = None
) -> list[Error]:
    """The SQL checks over the resources `names` (default: all) of the package in `folder`; foreign keys may
    reference any resource of the package."""
    names = names if names is not None else [r["name"] for r in descriptor["resources"]]
    resources = {r["name"]: r for r in descriptor["resources"]}
    referenced = {fk.table for name in names for fk in tables[name].foreign_keys}
    with duckdb.connect() as con:
        errors = []
        for name in sorted(set(names) | referenced, key=list(resources).index):
            found = validate_resource(con, folder, resources[name], tables[name])
            errors += found if name in names else []
        errors += validate_foreign_keys(con, tables, names)
    return sorted(errors, key=lambda e: (list(resources).index(e.resource), e.row or 0, e.field or "", e.type))
