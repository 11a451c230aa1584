"""Writing CSVs and publishing atomically, on tiny packages."""

import datetime as dt
from decimal import Decimal

import pytest

from pipeline import publish
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
    data = publish.csv_bytes(TINY.column_names, rows)
    source = {"title": "T", "path": "https://example.org/t", "licence": "OGL-UK-3.0"}
    resource = publish.resource_descriptor(TINY, data, [source])
    return publish.package_descriptor([resource], [source], ["OGL-UK-3.0"]), {"data/tiny.csv": data}


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (None, ""),
        (Decimal("8907532.00"), "8907532"),
        (Decimal("29409.93"), "29409.93"),
        (Decimal("0.50"), "0.50"),
        (True, "true"),
        (dt.date(2023, 8, 29), "2023-08-29"),
        (2023, "2023"),
        ("a,b", "a,b"),
    ],
)
def test_format_value(value, cell):
    assert publish.format_value(value) == cell


def test_floats_are_refused():
    with pytest.raises(TypeError, match="float"):
        publish.format_value(8907532.0000001)


def test_csv_bytes_are_utf8_lf_and_quoted_only_where_needed():
    data = publish.csv_bytes(["a", "b"], [("£1,000", None), ("x\ny", "z")])
    assert data == 'a,b\n"£1,000",\n"x\ny",z\n'.encode()


def test_valid_package_replaces_outputs(tmp_path):
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    (outputs / "old.txt").write_text("previous package")
    descriptor, files = tiny_package([("a", Decimal("1"))])
    staging = publish.staging_dir(outputs, "run1")
    publish.build_and_publish(outputs, staging, descriptor, files)
    assert sorted(snapshot(outputs)) == ["data/tiny.csv", "datapackage.json"]
    assert not staging.exists()


def test_invalid_package_leaves_outputs_exactly_as_they_were(tmp_path):
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    (outputs / "old.txt").write_text("previous package")
    before = snapshot(outputs)
    descriptor, files = tiny_package([("a", Decimal("1")), ("a", Decimal("-2"))])  # duplicate key, negative
    staging = publish.staging_dir(outputs, "run2")
    with pytest.raises(publish.PackageInvalid) as info:
        publish.build_and_publish(outputs, staging, descriptor, files)
    assert "tiny, row 3" in str(info.value)
    assert snapshot(outputs) == before
    assert not staging.exists()


def test_stale_staging_folders_are_removed(tmp_path):
    outputs = tmp_path / "outputs"
    stale = publish.staging_dir(outputs, "dead-run")
    (stale / "data").mkdir(parents=True)
    assert publish.remove_stale_staging(outputs) == [stale]
    assert not stale.exists()
