"""The SQL checks against the frictionless library: on a corpus of broken packages, the same errors (resource,
row, field, type), and none on the published package."""

import csv
import io
import json
import shutil

import frictionless
import pytest

from pipeline.defs.resources import PROJECT_DIR
from pipeline.publish import sqlcheck
from schemas import PUBLISHED_TABLES

# (resource, data row (1 = first), column, new cell), one package each: every kind of check, on tables no other
# table references (so one broken cell is a handful of errors, not hundreds of foreign-key ones).
BROKEN = {
    "required": [("local_policing_bodies", 3, "body_name", "")],
    "integer type": [("funding_allocations", 2, "n_reports", "two")],
    "integer with decimals": [("national_totals", 1, "raw_row", "4.0")],
    "number type": [("funding_allocations", 5, "amount_gbp", "12,5")],
    "boolean type": [("funding_allocations", 4, "has_conflict", "yes")],
    "date type": [("area_outcomes", 7, "period_start", "2019-02-30")],
    "pattern": [("violence_reduction_units", 2, "first_funded_year", "2019/20")],
    "enum": [("funding_coverage", 3, "known", "perhaps")],
    "minimum": [("funding_allocations", 6, "n_sources", "0")],
    "unique and primary key": [("quality_flags", 4, "flag_id", None)],  # None: the value of the row above
    "primary key across columns": [
        ("initiative_approaches", 2, "approach_id", None),
        ("initiative_approaches", 2, "initiative_id", None),
    ],  # fmt: skip
    "foreign key": [("area_names", 5, "area_code", "E23000099")],
    "several at once": [
        ("outcome_comparison", 1, "n_areas", "-"),
        ("outcome_comparison", 2, "variant", ""),
        ("funding_coverage", 9, "stream", "grants"),
        ("local_policing_bodies", 1, "area_code", "W15000099"),
    ],
}


def referenced(names: set[str]) -> set[str]:
    """The tables named and every table their foreign keys reach."""
    more = names | {fk.table for name in names for fk in PUBLISHED_TABLES[name].foreign_keys}
    return more if more == names else referenced(more)


def broken_package(tmp_path, edits) -> dict:
    """A copy of the published package with the edits made; bytes and hash dropped so that only cells are wrong.
    Only the edited tables and the tables their foreign keys reach are kept: the rest of the package is valid
    either way, and validating it again for every case would only cost time."""
    folder = tmp_path / "package"
    shutil.copytree(PROJECT_DIR / "outputs", folder)
    kept = referenced({resource for resource, *_ in edits})
    for resource, row, column, value in edits:
        path = folder / "data" / f"{resource}.csv"
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
        at = rows[0].index(column)
        rows[row][at] = rows[row - 1][at] if value is None else value
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        path.write_text(buffer.getvalue(), encoding="utf-8")
    descriptor = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    descriptor["resources"] = [r for r in descriptor["resources"] if r["name"] in kept]
    for resource in descriptor["resources"]:
        resource.pop("bytes"), resource.pop("hash")
    (folder / "datapackage.json").write_text(json.dumps(descriptor), encoding="utf-8")
    return descriptor


def frictionless_errors(folder) -> set[tuple]:
    report = frictionless.validate(str(folder / "datapackage.json"))
    return {
        (task.name, error.row_number, getattr(error, "field_name", None), error.type)
        for task in report.tasks
        for error in task.errors
        if error.type not in ("hash-count", "byte-count")
    }


@pytest.mark.parametrize("case", list(BROKEN))
def test_sql_checks_find_what_frictionless_finds(tmp_path, case):
    descriptor = broken_package(tmp_path, BROKEN[case])
    expected = frictionless_errors(tmp_path / "package")
    found = sqlcheck.validate_package(tmp_path / "package", descriptor, PUBLISHED_TABLES)
    assert expected, "the corpus case must break the package"
    assert {(e.resource, e.row, e.field, e.type) for e in found} == expected


def test_the_published_package_passes_both(tmp_path):
    descriptor = json.loads((PROJECT_DIR / "outputs" / "datapackage.json").read_text(encoding="utf-8"))
    assert sqlcheck.validate_package(PROJECT_DIR / "outputs", descriptor, PUBLISHED_TABLES) == []


def test_a_file_changed_after_it_was_described_is_a_hash_error(tmp_path):
    folder = tmp_path / "package"
    shutil.copytree(PROJECT_DIR / "outputs", folder)
    path = folder / "data" / "national_totals.csv"
    path.write_bytes(path.read_bytes() + b"\n")
    descriptor = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    errors = sqlcheck.validate_package(folder, descriptor, PUBLISHED_TABLES, ["national_totals"])
    assert sqlcheck.Error("national_totals", None, None, "hash-count") in errors


def test_large_tables_are_checked_in_duckdb_when_the_package_is_validated(tmp_path, monkeypatch):
    """Above SQL_CHECKED_ROWS a table is checked by the SQL checks, the rest by frictionless; a broken cell in a
    large table still makes the package invalid, named by resource, row and field."""
    from pipeline.publish import package

    monkeypatch.setattr(package, "SQL_CHECKED_ROWS", 1000)
    folder = tmp_path / "package"
    shutil.copytree(PROJECT_DIR / "outputs", folder)
    whole = package.validate_package(folder, PUBLISHED_TABLES)
    assert whole.valid and "area_outcomes" in whole.sql_checked and "sources" not in whole.sql_checked
    broken_package(tmp_path / "broken", [("area_outcomes", 7, "period_start", "2019-02-30")])
    result = package.validate_package(tmp_path / "broken" / "package", PUBLISHED_TABLES)
    assert not result.valid
    assert result.errors == ["area_outcomes, row 8, field 'period_start': type-error"]


def test_sql_checks_on_a_warehouse_table_find_what_pandera_finds(fresh_build, tmp_path):
    """For a table too large for pandas, the out step checks the warehouse table with the same SQL: on broken
    cells (a minimum, an enum, a pattern, a duplicate primary key) it names the rows and columns pandera names."""
    import duckdb

    from pipeline.validation import validate

    shutil.copy(fresh_build.root / "warehouse.duckdb", tmp_path / "w.duckdb")
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    first, last = con.execute("SELECT min(report_id), max(report_id) FROM out.funding_allocations").fetchone()
    update = "UPDATE out.funding_allocations SET {} WHERE report_id = ?"
    con.execute(update.format("n_sources = 0"), [first])  # below its minimum of 1
    con.execute(update.format("amount_kind = 'roughly'"), [last])  # not in its enum
    second = con.execute("SELECT max(report_id) FROM out.funding_allocations WHERE report_id < ?", [last]).fetchone()
    con.execute(update.format("area_code = 'E2300000X'"), second)  # not an area code
    table = PUBLISHED_TABLES["funding_allocations"]
    order = ", ".join(table.primary_key)
    frame = con.execute(f"SELECT * FROM out.funding_allocations ORDER BY {order}").df()
    by_pandera = {(f.row, f.column) for f in validate(frame, table, "x")}
    by_sql = {(e.row, e.field) for e in sqlcheck.validate_table(con, "out.funding_allocations", table)}
    assert len(by_pandera) >= 3 and by_sql == by_pandera
