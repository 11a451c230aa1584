"""The validators that remain, each on the real data and on a broken copy of it:

- pandera, on every raw file (raw/) and every published table (outputs/, loaded with its declared types, as the out
  layer holds it), at any size;
- the out layer's foreign-key SQL (`dangling_keys`), on the published tables;
- frictionless, on the written package: every table cell by cell, and a table above FRICTIONLESS_CELL_ROWS as a file.

On a corpus of broken packages pandera names the same rows and columns as frictionless for every constraint both
check (required, unique, pattern, enum, minimum, primary key); types are the warehouse's and the CSV reader's.
"""

import csv
import io
import json
import shutil

import duckdb
import frictionless
import pytest
from dagster_duckdb import DuckDBResource

from pipeline.defs.out import dangling_keys, rows_to_check
from pipeline.defs.resources import PROJECT_DIR
from pipeline.publish import package
from pipeline.sources import workbooks
from pipeline.sources.csvfile import read_raw_csv
from pipeline.sources.manifest import load_manifest
from pipeline.transform.warehouse import literal, quoted
from pipeline.validation import validate
from schemas import PUBLISHED_TABLES, RAW_TABLES

OUTPUTS = PROJECT_DIR / "outputs"

# (resource, data row (1 = first), column, new cell), one package each; None: the value of the row above. No edit
# moves a row in primary-key order: the out layer numbers rows in that order, as the CSV is written.
CONSTRAINTS = {
    "required": [("local_policing_bodies", 3, "body_name", "")],
    "pattern": [("violence_reduction_units", 2, "first_funded_year", "2019/20")],
    "enum": [("funding_coverage", 3, "known", "perhaps")],
    "minimum": [("funding_allocations", 6, "n_sources", "0")],
    "unique and primary key": [("quality_flags", 4, "flag_id", None)],
    "primary key across columns": [
        ("initiative_approaches", 2, "approach_id", None),
        ("initiative_approaches", 2, "initiative_id", None),
    ],
    "several at once": [
        # The group's last variant: a blank key sorts last in the loaded table, so rows keep their numbers.
        ("outcome_comparison", 3, "variant", ""),
        ("funding_coverage", 9, "known", "maybe"),
        ("local_policing_bodies", 1, "area_code", "W15000099"),
    ],
}
# What only frictionless sees in a CSV: cells that are not of their type, and a key into another table.
TYPES_AND_KEYS = {
    "integer type": [("funding_allocations", 2, "n_reports", "two")],
    "integer with decimals": [("national_totals", 1, "raw_row", "4.0")],
    "number type": [("funding_allocations", 5, "amount_gbp", "12,5")],
    "boolean type": [("funding_allocations", 4, "has_conflict", "yes")],
    "date type": [("area_outcomes", 7, "period_start", "2019-02-30")],
    "foreign key": [("area_names", 5, "area_code", "E23000099")],
}


def broken_package(tmp_path, edits):
    """A copy of the published package with the edits made, its descriptor trimmed to the edited tables; bytes and
    hash dropped so that only cells are wrong."""
    folder = tmp_path / "package"
    shutil.copytree(OUTPUTS, folder)
    for resource, row, column, value in edits:
        path = folder / "data" / f"{resource}.csv"
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
        at = rows[0].index(column)
        rows[row][at] = rows[row - 1][at] if value is None else value
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        path.write_text(buffer.getvalue(), encoding="utf-8")
    keep_only(folder, [resource for resource, *_ in edits], cells_only=True)
    return folder


def keep_only(folder, names, *, cells_only: bool = False) -> None:
    """The package's descriptor with only the tables named and those their foreign keys reach (frictionless checks a
    table on its own apart from those keys, and the whole package takes it seconds); `cells_only` drops bytes and
    hash."""
    descriptor = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    by_name = {r["name"]: r for r in descriptor["resources"]}
    kept, reach = set(), list(names)
    while reach:
        name = reach.pop()
        if name not in kept:
            kept.add(name)
            reach += [fk["reference"].get("resource") or name for fk in by_name[name]["schema"].get("foreignKeys", [])]
    descriptor["resources"] = [r for r in descriptor["resources"] if r["name"] in kept]
    for resource in descriptor["resources"] if cells_only else []:
        resource.pop("bytes"), resource.pop("hash")
    (folder / "datapackage.json").write_text(json.dumps(descriptor), encoding="utf-8")


def load_out_tables(folder, database) -> duckdb.DuckDBPyConnection:
    """The package's CSVs as the out layer's tables: each column of its declared DuckDB type."""
    con = duckdb.connect(str(database))
    con.execute("CREATE SCHEMA out")
    for name, table in PUBLISHED_TABLES.items():
        columns = "{" + ", ".join(f"{literal(c.name)}: {literal(c.duckdb_type)}" for c in table.columns) + "}"
        path = literal(str(folder / "data" / f"{name}.csv"))
        con.execute(
            f"CREATE TABLE out.{quoted(name)} AS SELECT * FROM read_csv({path}, header = true, auto_detect = false, "
            f"nullstr = '', columns = {columns})"
        )
    return con


def pandera_cells(con, names) -> set[tuple]:
    return {
        (name, failure.row, failure.column)
        for name in names
        for failure in validate(rows_to_check(con, PUBLISHED_TABLES[name]), PUBLISHED_TABLES[name], name)
    }


def frictionless_cells(folder) -> set[tuple]:
    report = frictionless.validate(str(folder / "datapackage.json"))
    return {
        (task.name, error.row_number, getattr(error, "field_name", None), error.type)
        for task in report.tasks
        for error in task.errors
    }


@pytest.mark.parametrize("name", list(RAW_TABLES))
def test_pandera_passes_every_raw_file_and_names_a_broken_cell(name, tmp_path):
    table = RAW_TABLES[name]
    manifest = load_manifest(PROJECT_DIR / "raw")
    entry = manifest.file(table.file_id)
    path = PROJECT_DIR / "raw" / entry.path
    header_row = entry.table_options.get("header_row", 1)
    if entry.table_layout == "ons_pfa_workbook":
        frame = workbooks.read_workbook(path, entry.table_options)
    else:
        frame = read_raw_csv(path, header_row)
    assert validate(frame, table, name, raw=True, header_row=header_row) == []
    # Broken: a required column blanked in the third row, or a formula where text is free.
    column = next((c for c in table.columns if c.required), table.columns[0])
    frame.loc[frame.index[2], column.name] = None if column.required else "=HYPERLINK(1)"
    failures = validate(frame, table, name, raw=True, header_row=header_row)
    assert [(f.row, f.column) for f in failures] == [(header_row + 3, column.name)]


def test_pandera_passes_every_published_table(tmp_path):
    con = load_out_tables(OUTPUTS, tmp_path / "w.duckdb")
    assert pandera_cells(con, PUBLISHED_TABLES) == set()


@pytest.mark.parametrize("case", list(CONSTRAINTS))
def test_pandera_names_the_cells_frictionless_names(tmp_path, case):
    folder = broken_package(tmp_path, CONSTRAINTS[case])
    # Foreign keys are the out layer's SQL check (below), not pandera's.
    by_frictionless = {e for e in frictionless_cells(folder) if e[3] != "foreign-key"}
    assert by_frictionless, "the corpus case must break the package"
    names = {resource for resource, *_ in CONSTRAINTS[case]}
    by_pandera = pandera_cells(load_out_tables(folder, tmp_path / "w.duckdb"), names)
    # Frictionless reports a repeated primary key once per row without a field; pandera names its columns.
    assert {(r, row) for r, row, *_ in by_pandera} == {(r, row) for r, row, *_ in by_frictionless}
    assert {(r, row, f) for r, row, f, _ in by_frictionless if f} <= by_pandera


def test_the_foreign_key_check_passes_the_published_tables_and_names_a_dangling_key(tmp_path):
    load_out_tables(OUTPUTS, tmp_path / "w.duckdb").close()
    resource = DuckDBResource(database=str(tmp_path / "w.duckdb"))
    assert [f for name in PUBLISHED_TABLES for f in dangling_keys(resource, PUBLISHED_TABLES[name])] == []
    folder = broken_package(tmp_path / "broken", TYPES_AND_KEYS["foreign key"])
    load_out_tables(folder, tmp_path / "broken.duckdb").close()
    failures = dangling_keys(DuckDBResource(database=str(tmp_path / "broken.duckdb")), PUBLISHED_TABLES["area_names"])
    assert [(f.row, f.column, f.value) for f in failures] == [(6, "area_code", "E23000099")]
    assert {(r, row) for r, row, _, t in frictionless_cells(folder) if t == "foreign-key"} == {("area_names", 6)}


def test_frictionless_passes_the_published_package():
    result = package.validate_package(OUTPUTS)
    assert result.valid, result.errors
    assert result.checked_as_files == [] and result.resources == len(PUBLISHED_TABLES)


@pytest.mark.parametrize("case", list(TYPES_AND_KEYS))
def test_frictionless_names_what_only_it_can_see(tmp_path, case):
    [(resource, row, column, _)] = TYPES_AND_KEYS[case]
    folder = broken_package(tmp_path, TYPES_AND_KEYS[case])
    result = package.validate_package(folder)
    assert not result.valid
    expected = f"{resource}, row {row + 1}" + ("" if case == "foreign key" else f", field {column!r}")
    assert any(line.startswith(expected) for line in result.errors), result.errors


def test_a_large_table_is_checked_as_a_file_whose_bytes_must_match(tmp_path, monkeypatch):
    """Above FRICTIONLESS_CELL_ROWS frictionless checks a table's bytes and sha256, not its cells (pandera checked
    those rows in the out layer, as test_pandera_names_the_cells_frictionless_names shows it would)."""
    monkeypatch.setattr(package, "FRICTIONLESS_CELL_ROWS", 5000)
    folder = tmp_path / "package"
    shutil.copytree(OUTPUTS, folder)
    keep_only(folder, ["area_outcomes", "area_outcome_rates", "funding_reports"])
    whole = package.validate_package(folder)
    assert whole.valid and whole.checked_as_files == ["area_outcomes", "area_outcome_rates"]
    path = folder / "data" / "area_outcomes.csv"
    path.write_bytes(path.read_bytes().replace(b"2019-03-31", b"2019-02-30", 1))
    result = package.validate_package(folder)
    assert not result.valid
    assert [line.split(":")[0] for line in result.errors] == ["area_outcomes"]
    assert "hash" in result.errors[0]
