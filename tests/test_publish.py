"""Writing CSVs and publishing atomically, on tiny packages."""

from decimal import Decimal

import pytest

from pipeline.publish import package
from schemas.model import Column, Table
from tests import reference
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
    data = reference.csv_bytes(TINY.column_names, rows)
    source = {"title": "T", "path": "https://example.org/t", "licence": "OGL-UK-3.0"}
    resource = package.resource_descriptor(TINY, data, [source])
    return package.package_descriptor([resource], [source], ["OGL-UK-3.0"]), {"data/tiny.csv": data}


def duckdb_csv(con, query: str, tmp_path) -> bytes:
    """A table written as the pipeline writes it: DuckDB's CSV writer over `csv_select`."""
    target = tmp_path / "out.csv"
    con.execute(f"COPY ({package.csv_select(con, query)}) TO '{target}' (HEADER, NULLSTR '')")
    return target.read_bytes()


def python_csv(con, query: str) -> bytes:
    result = con.execute(query)
    return reference.csv_bytes([c[0] for c in result.description], result.fetchall())


@pytest.mark.parametrize(
    ("sql", "cell"),
    [
        ("NULL::VARCHAR", ""),
        ("''", ""),  # empty text and missing text print alike
        ("8907532.00::DECIMAL(18, 2)", "8907532.00"),  # two places declared, two printed
        ("0.50::DECIMAL(18, 2)", "0.50"),
        ("8907532::DECIMAL(38, 24)", "8907532"),  # whole numbers whole
        ("0.012435506440367628::DECIMAL(38, 24)", "0.012435506440367628"),  # no trailing zeros of the storage type
        ("true", "true"),
        ("DATE '2023-08-29'", "2023-08-29"),
        ("2023", "2023"),
        ("'a,b'", '"a,b"'),  # quoted only where needed
        ("'£1,000'", '"£1,000"'),
        ("'x' || chr(10) || 'y'", '"x\ny"'),
        ("'plain'", "plain"),
    ],
)
def test_the_pipelines_csv_writer_prints_each_kind_of_cell_as_the_contract_says(sql, cell, tmp_path):
    import duckdb

    written = duckdb_csv(duckdb.connect(), f"SELECT {sql} AS v", tmp_path)
    assert written == f"v\n{cell}\n".encode()


def test_floats_are_refused_before_they_are_written():
    import duckdb

    with pytest.raises(TypeError, match="DOUBLE: declare it as an exact number"):
        package.csv_select(duckdb.connect(), "SELECT 8907532.0000001::DOUBLE AS amount_gbp")


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


def test_duckdb_writes_the_csv_contract_byte_for_byte_on_awkward_cells(tmp_path):
    """Blank versus empty text, quotes, commas and newlines, whole and fractional money, long decimals,
    negatives, booleans and dates: DuckDB's writer with csv_select prints what the reference writer prints."""
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
    bytes of the reference writer (tests/reference.py), and the bytes in the package."""
    import duckdb

    from schemas import PUBLISHED_TABLES

    con = duckdb.connect(str(fresh_build.root / "warehouse.duckdb"), read_only=True)
    for name, table in PUBLISHED_TABLES.items():
        query = f"SELECT * FROM out.{name} ORDER BY {', '.join(table.primary_key)}"
        written = duckdb_csv(con, query, tmp_path)
        assert written == python_csv(con, query), name
        assert written == (fresh_build.outputs / "data" / f"{name}.csv").read_bytes(), name
