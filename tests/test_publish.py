"""Writing CSVs and publishing atomically, on tiny packages."""

import datetime as dt
from decimal import Decimal

import pytest

from pipeline.publish import package
from schemas.model import Column, Table
from tests.conftest import snapshot

TINY = Table(
    name="tiny",
    title="Tiny",
    description="A two-column table for tests.",
    columns=(
        Column("tiny_id", "string", "Key.", required=True, unique=True),
        Column("amount_gbp", "number", "Money.", minimum=0),
    ),
    primary_key=("tiny_id",),
)


def tiny_package(rows: list[tuple]) -> tuple[dict, dict[str, bytes]]:
    data = package.csv_bytes(TINY.column_names, rows)
    source = {"title": "T", "path": "https://example.org/t", "licence": "OGL-UK-3.0"}
    resource = package.resource_descriptor(TINY, data, [source])
    return package.package_descriptor([resource], [source], ["OGL-UK-3.0"]), {"data/tiny.csv": data}


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (None, ""),
        (Decimal("8907532.00"), "8907532.00"),  # two places declared, two printed
        (Decimal("8907532"), "8907532"),
        (Decimal("29409.93"), "29409.93"),
        (Decimal("0.50"), "0.50"),
        (True, "true"),
        (dt.date(2023, 8, 29), "2023-08-29"),
        (2023, "2023"),
        ("a,b", "a,b"),
    ],
)
def test_format_value(value, cell):
    assert package.format_value(value) == cell


def test_floats_are_refused():
    with pytest.raises(TypeError, match="float"):
        package.format_value(8907532.0000001)


def test_csv_bytes_are_utf8_lf_and_quoted_only_where_needed():
    data = package.csv_bytes(["a", "b"], [("£1,000", None), ("x\ny", "z")])
    assert data == 'a,b\n"£1,000",\n"x\ny",z\n'.encode()


def test_valid_package_replaces_outputs(tmp_path):
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    (outputs / "old.txt").write_text("previous package")
    descriptor, files = tiny_package([("a", Decimal("1"))])
    staging = package.staging_dir(outputs, "run1")
    package.build_and_publish(outputs, staging, descriptor, files)
    assert sorted(snapshot(outputs)) == ["data/tiny.csv", "datapackage.json"]
    assert not staging.exists()


def test_invalid_package_leaves_outputs_exactly_as_they_were(tmp_path):
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    (outputs / "old.txt").write_text("previous package")
    before = snapshot(outputs)
    descriptor, files = tiny_package([("a", Decimal("1")), ("a", Decimal("-2"))])  # duplicate key, negative
    staging = package.staging_dir(outputs, "run2")
    with pytest.raises(package.PackageInvalid) as info:
        package.build_and_publish(outputs, staging, descriptor, files)
    assert "tiny, row 3" in str(info.value)
    assert snapshot(outputs) == before
    assert not staging.exists()


def test_stale_staging_folders_are_removed(tmp_path):
    outputs = tmp_path / "outputs"
    stale = package.staging_dir(outputs, "dead-run")
    (stale / "data").mkdir(parents=True)
    assert package.remove_stale_staging(outputs) == [stale]
    assert not stale.exists()


def duckdb_csv(con, query: str, tmp_path) -> bytes:
    target = tmp_path / "out.csv"
    con.execute(f"COPY ({package.csv_select(con, query)}) TO '{target}' (HEADER, NULLSTR '')")
    return target.read_bytes()


def python_csv(con, query: str) -> bytes:
    result = con.execute(query)
    return package.csv_bytes([c[0] for c in result.description], result.fetchall())


def test_duckdb_writes_the_csv_contract_byte_for_byte_on_awkward_cells(tmp_path):
    """Blank versus empty text, quotes, commas and newlines, whole and fractional money, long decimals,
    negatives, booleans and dates: DuckDB's writer with csv_select prints what format_value prints."""
    import duckdb

    con = duckdb.connect()
    con.execute(
        """CREATE TABLE t AS SELECT * FROM (VALUES
        ('a,b', NULL, 1.50::DECIMAL(18, 2), true, DATE '2023-08-29', '', 0.012435506440367628::DECIMAL(38, 24), 7),
        ('x' || chr(10) || 'y', 'he said "hi"', 8907532.00::DECIMAL(18, 2), false, NULL, ' lead', 2.0, NULL),
        ('£1,000', 'plain', -0.50::DECIMAL(18, 2), NULL, NULL, 'trail ', -13.25::DECIMAL(38, 24), -3)
        ) AS v(a, b, c, d, e, f, g, h)"""
    )
    query = "SELECT * FROM t"
    assert duckdb_csv(con, query, tmp_path) == python_csv(con, query)


def test_every_published_table_is_written_as_the_python_writer_would(fresh_build, tmp_path):
    """The differential test on the real data: for every published table, the bytes DuckDB writes equal the
    bytes of the reference writer (csv_bytes), and the bytes in the package."""
    import duckdb

    from schemas import PUBLISHED_TABLES

    con = duckdb.connect(str(fresh_build.root / "warehouse.duckdb"), read_only=True)
    for name, table in PUBLISHED_TABLES.items():
        query = f"SELECT * FROM out.{name} ORDER BY {', '.join(table.primary_key)}"
        written = duckdb_csv(con, query, tmp_path)
        assert written == python_csv(con, query), name
        assert written == (fresh_build.outputs / "data" / f"{name}.csv").read_bytes(), name
