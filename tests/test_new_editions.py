"""A new ONS edition dropped into raw/ is judged when it arrives: one that does not add up stops the run at its
core asset (a blocking check); one whose values jump is flagged. (A further workbook of a known layout published
with no code change: tests/test_manifest_tool.py.)"""

import csv
import io

import duckdb

from tests.conftest import edited_workbook, snapshot


def rows(path) -> tuple[list[str], list[list[str]]]:
    data = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    return data[0], data[1:]


def write_csv(path, header, body) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([header, *body])
    return buffer.getvalue().encode("utf-8")


def add_edition(project, source: str, new_path: str, file_id: str, data: bytes, **changes) -> None:
    """A copy of an existing manifest entry (and its source) under a new file id, for data written here."""
    (project.raw / new_path).write_bytes(data)
    manifest = project.manifest()
    entry = next(f for f in manifest["files"] if f["path"] == source)
    source_entry = next(s for s in manifest["sources"] if s["source_id"] == entry["source_id"])
    manifest["sources"].append(source_entry | {"source_id": f"TEST_{file_id.upper()}"})
    manifest["files"].append(
        entry | {"file_id": file_id, "path": new_path, "source_id": f"TEST_{file_id.upper()}"} | changes
    )
    project.write_manifest(manifest)
    project.write_raw(new_path, data)


def test_an_edition_whose_values_jump_is_flagged(project, fresh_build):
    source = "outcomes/ons-els-homicide-offences-2025-02-11.csv"
    header, body = rows(project.raw / source)
    code, value = header.index("AREACD"), header.index("Observation")
    jumped = "E23000013"  # any area: the rules must find whichever one it is
    for row in body:
        if row[code] == jumped and row[value]:
            row[value] = str(float(row[value]) * 3)
    add_edition(
        project,
        source,
        "outcomes/ons-els-homicide-offences-test-edition.csv",
        "ons__homicide_offences_test",
        write_csv(project.raw / source, header, body),
        edition_date="2026-06-01",
    )
    # The graph is built from the copy's manifest, so the new edition has its own raw asset.
    build = project.build(only="core_quality_flags", after=fresh_build)
    assert build.result.success, build.step_failures()
    materialised = {e.asset_key.to_user_string() for e in build.result.get_asset_materialization_events()}
    assert "raw_ons__homicide_offences_test" in materialised
    con = duckdb.connect(str(project.root / "warehouse.duckdb"), read_only=True)
    flags = [dict(zip(("check_name", "area_code", "subject", "edition"), row, strict=True)) for row in con.execute(
        "SELECT check_name, area_code, subject, edition FROM core.quality_flags"
    ).fetchall()]  # fmt: skip
    new = [f for f in flags if f["edition"] == "ons__homicide_offences_test"]
    revised = {f["area_code"] for f in new if f["check_name"] == "revision_within_tolerance"}
    # The copied edition also moves back any area whose homicide rates the newest real edition had moved.
    already = {
        f["area_code"]
        for f in flags
        if f["check_name"] == "revision_within_tolerance"
        and f["subject"] == "homicide_rate_per_million"
        and f not in new
    }
    assert revised == {jumped} | already


def test_an_edition_that_does_not_add_up_stops_the_run_at_its_core_asset(project, fresh_build):
    before = snapshot(project.outputs)
    source = "outcomes/workbooks/policeforceareatablesyeendingmarch2019.xlsx"
    # Cleveland's population in Table P3 (566,200 as published), beyond the rounding tolerance of populations.
    data = edited_workbook(project.raw / source, "Table P3", "E23000013", "Population figures", 567200)
    add_edition(
        project,
        source,
        "outcomes/workbooks/test-edition.xlsx",
        "ons__pfa_test",
        data,
        edition_date="2019-03-31",  # the period it prints: the manifest ties each period to its edition's date
    )
    build = project.build(only="core_area_outcomes", after=fresh_build)
    assert not build.result.success
    failure = next(e for e in build.failed_checks() if e.check_name == "counts_add_up")
    assert failure.blocking and "ons__pfa_test" in failure.description
    assert "Population figures (mid-2017)" in failure.description
    assert snapshot(project.outputs) == before
