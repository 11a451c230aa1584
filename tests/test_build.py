"""A full build from the committed raw/ into a temporary folder: what researchers download."""

import csv
import io
import json

import duckdb
import frictionless
import pytest

from pipeline.resources import PROJECT_DIR
from schemas import PUBLISHED_TABLES
from tests.conftest import snapshot


def read_table(build, name: str) -> list[dict]:
    text = (build.outputs / "data" / f"{name}.csv").read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def test_build_succeeds_with_every_check_passing(fresh_build):
    assert fresh_build.result.success, fresh_build.step_failures()
    evaluations = fresh_build.result.get_asset_check_evaluations()
    assert len(evaluations) >= 2 * len(PUBLISHED_TABLES)
    assert all(e.passed for e in evaluations)


def test_package_is_valid_with_foreign_keys(fresh_build):
    report = frictionless.validate(str(fresh_build.outputs / "datapackage.json"))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])
    descriptor = json.loads((fresh_build.outputs / "datapackage.json").read_text())
    foreign_keys = {r["name"]: r["schema"].get("foreignKeys", []) for r in descriptor["resources"]}
    assert {"fields": ["area_code"], "reference": {"resource": "police_force_areas", "fields": ["area_code"]}} in (
        foreign_keys["funding_reports"]
    )


def test_package_rejects_a_dangling_foreign_key(fresh_build, tmp_path):
    """frictionless really checks the declared keys: an unknown area code makes the package invalid."""
    import shutil

    copy = tmp_path / "pkg"
    shutil.copytree(fresh_build.outputs, copy)
    path = copy / "data" / "funding_reports.csv"
    path.write_text(path.read_text().replace(",E23000029,", ",E23000099,"))
    descriptor = json.loads((copy / "datapackage.json").read_text())
    for resource in descriptor["resources"]:  # keep bytes/hash consistent so only the key is wrong
        resource.pop("bytes"), resource.pop("hash")
    (copy / "datapackage.json").write_text(json.dumps(descriptor))
    report = frictionless.validate(str(copy / "datapackage.json"))
    assert not report.valid
    assert "foreign-key" in {e.type for task in report.tasks for e in task.errors}


def test_row_counts(fresh_build):
    counts = {name: len(read_table(fresh_build, name)) for name in PUBLISHED_TABLES}
    assert counts["police_force_areas"] == 43
    assert counts["violence_reduction_units"] == 20
    assert counts["initiatives"] == 8
    # 9 areas x 2 streams, less Lancashire's VRU cell, which the stored page never showed.
    assert counts["funding_reports"] == 17
    assert counts["sources"] == 4


def test_a_published_figure_traces_back_to_its_raw_cell(fresh_build):
    rows = {r["report_id"]: r for r in read_table(fresh_build, "funding_reports")}
    met_grip = rows["S01:E23000001:surge_grip:2023-24"]
    assert met_grip["amount_gbp"] == "8907532"
    assert met_grip["amount_as_published"] == "£8,907,532"
    raw_file = PROJECT_DIR / met_grip["raw_file"]
    raw_rows = list(csv.reader(io.StringIO(raw_file.read_text(encoding="utf-8"))))
    assert raw_rows[int(met_grip["raw_row"]) - 1] == ["Metropolitan Police/London", "£8,907,532", "£9,497,400"]
    sources = {r["source_id"]: r for r in read_table(fresh_build, "sources")}
    assert sources[met_grip["source_id"]]["url"].startswith("https://www.gov.uk/")


def test_gaps_stay_gaps(fresh_build):
    """Lancashire's VRU cell is blank in the source: no row, and certainly no zero."""
    rows = read_table(fresh_build, "funding_reports")
    assert not [r for r in rows if r["area_code"] == "E23000003" and r["stream"] == "vru"]
    assert all(float(r["amount_gbp"]) > 0 for r in rows)


def test_csvs_read_with_declared_types_in_duckdb(fresh_build):
    path = fresh_build.outputs / "data" / "funding_reports.csv"
    con = duckdb.connect()
    total = con.execute(
        "SELECT sum(amount_gbp) FROM read_csv(?, columns={'report_id': 'VARCHAR', 'area_code': 'VARCHAR', "
        "'area_as_published': 'VARCHAR', 'stream': 'VARCHAR', 'financial_year': 'VARCHAR', "
        "'amount_gbp': 'DECIMAL(18,2)', 'amount_as_published': 'VARCHAR', 'amount_kind': 'VARCHAR', "
        "'source_id': 'VARCHAR', 'raw_file': 'VARCHAR', 'raw_row': 'INTEGER'}, header=true) WHERE stream = 'vru'",
        [str(path)],
    ).fetchone()[0]
    # The eight VRU figures the stored gov.uk page shows (a check only, not a published total).
    assert float(total) == 32_995_827


def test_csv_conventions(fresh_build):
    for name, table in PUBLISHED_TABLES.items():
        data = (fresh_build.outputs / "data" / f"{name}.csv").read_bytes()
        assert b"\r\n" not in data and data.endswith(b"\n"), name
        assert data.decode("utf-8").splitlines()[0] == ",".join(table.column_names), name


def test_rebuild_is_byte_identical(fresh_build, project):
    """Same inputs, same bytes: a second build into a folder holding the first changes nothing."""
    import shutil

    before = snapshot(fresh_build.outputs)
    shutil.rmtree(project.outputs)
    shutil.copytree(fresh_build.outputs, project.outputs)
    second = project.build()
    assert second.result.success, second.step_failures()
    assert snapshot(project.outputs) == before


def test_committed_outputs_equal_a_rebuild(project):
    """CI catches a stale package: rebuilding the committed raw/ over the committed outputs/ changes no file
    (a stale package would get new data, a new version and a changelog entry)."""
    committed = snapshot(project.outputs)
    build = project.build()
    assert build.result.success, build.step_failures()
    rebuilt = snapshot(project.outputs)
    assert sorted(rebuilt) == sorted(committed)
    stale = [path for path in rebuilt if committed[path] != rebuilt[path]]
    assert not stale, f"outputs/ is stale, run `make data` and commit: {stale}"


@pytest.mark.parametrize("name", list(PUBLISHED_TABLES))
def test_every_published_row_cites_a_source_with_a_url(fresh_build, name):
    sources = {r["source_id"]: r["url"] for r in read_table(fresh_build, "sources")}
    rows = read_table(fresh_build, name)
    assert rows, name
    for row in rows:
        assert sources[row["source_id"]].startswith("https://"), (name, row)
