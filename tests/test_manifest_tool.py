"""The manifest tool: a new file in a known layout is the file plus one command, and nothing else."""

import csv
import io
import shutil

import duckdb
import pytest

from pipeline.sources import manifest_tool
from pipeline.sources.manifest import ManifestError, load_manifest
from tests.conftest import snapshot

DARLINGTON = "funding/darlington-and-stockton-times-hotspot-funding-2024-25.csv"
SEPTEMBER_2019 = "outcomes/workbooks/policeforceareatablesyearendingseptember2019.xlsx"


def rows_of(path):
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def test_add_writes_one_checked_entry_with_the_layout_of_its_model(project):
    before = (project.raw / "sources.yaml").read_text(encoding="utf-8")
    shutil.copy(project.raw / SEPTEMBER_2019, project.raw / "outcomes/workbooks/reissue.xlsx")
    entry = manifest_tool.add_file(
        project.raw,
        project.raw / "outcomes/workbooks/reissue.xlsx",
        "ons__pfa_ye_sep2019",
        "ons__pfa_ye_sep2019_reissue",
        edition_date="2019-09-30",
        period="year ending September 2019",
    )
    after = (project.raw / "sources.yaml").read_text(encoding="utf-8")
    assert after.startswith(before.rstrip("\n"))  # appended: every comment and entry above kept as it was
    manifest = load_manifest(project.raw)
    added, model = manifest.file("ons__pfa_ye_sep2019_reissue"), manifest.file("ons__pfa_ye_sep2019")
    assert (added.table_layout, added.table_options, added.source_id) == (
        model.table_layout,
        model.table_options,
        model.source_id,
    )
    assert (added.sha256, added.bytes, added.edition_date) == (model.sha256, model.bytes, "2019-09-30")
    assert entry["date_retrieved"] == added.date_retrieved


def test_a_new_edition_gets_its_own_period_not_its_models(project):
    """`add --like` asks for the period wherever the model words one; the model's, left for a later edition, is
    refused by the manifest, which ties every period to its edition's date (issue 24, finding 5)."""
    before = (project.raw / "sources.yaml").read_bytes()
    shutil.copy(project.raw / SEPTEMBER_2019, project.raw / "outcomes/workbooks/later.xlsx")
    later = project.raw / "outcomes/workbooks/later.xlsx"
    with pytest.raises(ManifestError, match=r"ons__pfa_ye_sep2019 words its period .*give the new edition's own"):
        manifest_tool.add_file(project.raw, later, "ons__pfa_ye_sep2019", "ons__later", edition_date="2020-03-31")
    manifest = project.manifest()
    model = next(e for e in manifest["files"] if e["file_id"] == "ons__pfa_ye_sep2019")
    manifest["files"].append(
        {**model, "file_id": "ons__later", "path": "outcomes/workbooks/later.xlsx", "edition_date": "2020-03-31"}
    )
    project.write_manifest(manifest)
    with pytest.raises(
        ManifestError,
        match=r"file_id ons__later\): table_options.period_as_published 'year ending September 2019': the period ends "
        r"in September 2019, but edition_date is 2020-03-31",
    ):
        load_manifest(project.raw)
    (project.raw / "sources.yaml").write_bytes(before)

    manifest_tool.add_file(
        project.raw,
        later,
        "ons__pfa_ye_sep2019",
        "ons__later",
        edition_date="2020-03-31",
        period="year ending March 2020",
    )
    options = load_manifest(project.raw).file("ons__later").table_options
    worded = [
        options["period_as_published"],
        *(s["period_as_published"] for s in options["sheets"] if "period_as_published" in s),
    ]
    assert len(worded) > 1 and set(worded) == {"year ending March 2020"}


def test_a_refused_entry_leaves_the_manifest_as_it_was(project):
    before = (project.raw / "sources.yaml").read_bytes()
    shutil.copy(project.raw / SEPTEMBER_2019, project.raw / "outcomes/workbooks/reissue.xlsx")
    with pytest.raises(ManifestError, match=r"file_id ons__x\): edition_date: '2019-02-30' is not an ISO date"):
        manifest_tool.add_file(
            project.raw,
            project.raw / "outcomes/workbooks/reissue.xlsx",
            "ons__pfa_ye_sep2019",
            "ons__x",
            edition_date="2019-02-30",
            period="year ending February 2019",
        )
    with pytest.raises(ManifestError, match="already has an entry"):
        manifest_tool.add_file(project.raw, project.raw / SEPTEMBER_2019, "ons__pfa_ye_sep2019", "ons__y")
    assert (project.raw / "sources.yaml").read_bytes() == before


def test_rehash_updates_the_projects_mappings_and_refuses_a_publishers_file(project):
    mapping = project.raw / "mappings/area_names.csv"
    mapping.write_bytes(mapping.read_bytes() + b"Cleveland Police area,E23000013,a spelling added in a test\n")
    with pytest.raises(ManifestError, match="does not match the manifest"):
        manifest_tool.check(project.raw)
    assert manifest_tool.rehash(project.raw, []) == ["mappings/area_names.csv"]
    assert manifest_tool.check(project.raw) == len(load_manifest(project.raw).files)
    (project.raw / DARLINGTON).write_bytes((project.raw / DARLINGTON).read_bytes().replace(b"1.4m", b"1.5m"))
    with pytest.raises(ManifestError, match="publisher's file .* not edited in place"):
        manifest_tool.rehash(project.raw, [project.raw / DARLINGTON])


def test_a_new_funding_file_and_a_new_edition_need_only_the_tool(project, fresh_build):
    """Two new files, one manifest_tool command each, no other edit: both get a raw asset with their rows; the
    edition's values reach the published table under its own id; the funding file's figures, which repeat a source
    already transcribed (the same article, copied), are read and kept once. (The two published tables are built,
    not the whole package: writing a package is tested on its own.)"""
    before = snapshot(project.root / "raw")
    shutil.copy(project.raw / DARLINGTON, project.raw / "funding/darlington-copy.csv")
    shutil.copy(project.raw / SEPTEMBER_2019, project.raw / "outcomes/workbooks/reissue.xlsx")
    assert manifest_tool.main(
        ["--raw", str(project.raw), "add", str(project.raw / "funding/darlington-copy.csv"),
         "--like", "darlington_and_stockton_times__hotspot_2024_25", "--file-id", "darlington_copy"]
    ) == 0  # fmt: skip
    assert manifest_tool.main(
        ["--raw", str(project.raw), "add", str(project.raw / "outcomes/workbooks/reissue.xlsx"),
         "--like", "ons__pfa_ye_sep2019", "--file-id", "ons__pfa_ye_sep2019_reissue", "--edition-date", "2019-09-30",
         "--period", "year ending September 2019"]
    ) == 0  # fmt: skip
    edited = {name for name, data in snapshot(project.root / "raw").items() if before.get(name) != data}
    assert edited == {"sources.yaml", "funding/darlington-copy.csv", "outcomes/workbooks/reissue.xlsx"}

    published = {r["report_id"] for r in rows_of(project.outputs / "data" / "funding_reports.csv")}
    build = project.build(only=("out_funding_reports", "out_area_outcomes"), after=fresh_build)
    assert build.result.success, build.step_failures()
    materialised = {e.asset_key.to_user_string() for e in build.result.get_asset_materialization_events()}
    assert {"raw_darlington_copy", "raw_ons__pfa_ye_sep2019_reissue"} <= materialised
    funding = next(
        e.materialization.metadata
        for e in build.result.get_asset_materialization_events()
        if e.asset_key.to_user_string() == "core_funding_reports"
    )
    funding_files = [f.file_id for f in load_manifest(project.raw).files.values() if f.funding_layout]
    assert "darlington_copy" in funding_files and funding["files_read"].value == len(funding_files)
    with duckdb.connect(str(project.root / "warehouse.duckdb"), read_only=True) as con:
        reports = con.execute("SELECT report_id FROM out.funding_reports").df().to_dict("records")
        outcomes = (
            con.execute("SELECT area_code, measure, CAST(value AS VARCHAR) AS value, edition FROM out.area_outcomes")
            .df()
            .to_dict("records")
        )
    assert {r["report_id"] for r in reports} == published  # the copy's four figures are repeats, kept once
    reissued = {(r["area_code"], r["measure"], r["value"]) for r in outcomes if r["edition"].endswith("_reissue")}
    original = {(r["area_code"], r["measure"], r["value"]) for r in outcomes if r["edition"] == "ons__pfa_ye_sep2019"}
    assert reissued == original and len(reissued) > 43 * 6
