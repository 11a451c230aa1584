"""A new ONS edition dropped into raw/ is judged when it arrives: one that does not add up stops the run at its
core asset and publishes nothing; one whose values jump is published with its values flagged."""

import csv
import io
import subprocess

from pipeline.build import JOB_COMMAND
from pipeline.resources import PROJECT_DIR
from tests.conftest import edited_workbook, snapshot


def build_cli(project) -> subprocess.CompletedProcess:
    """A CLI build of the copy: the definitions are loaded from its manifest, new editions included."""
    return subprocess.run(
        JOB_COMMAND, cwd=PROJECT_DIR, env=project.cli_env(), capture_output=True, text=True, timeout=600
    )


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


def test_an_edition_whose_values_jump_is_published_with_flags(project):
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
    run = build_cli(project)
    logs = run.stdout + run.stderr
    assert run.returncode == 0, logs[-3000:]
    assert "raw_ons__homicide_offences_test" in logs
    flags = list(csv.DictReader(io.StringIO((project.outputs / "data" / "quality_flags.csv").read_text())))
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


def test_an_edition_that_does_not_add_up_stops_the_run_and_publishes_nothing(project):
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
        edition_date="2019-06-30",
    )
    run = build_cli(project)
    logs = run.stdout + run.stderr
    assert run.returncode != 0
    failure = next(line for line in logs.splitlines() if "counts_add_up" in line and "ons__pfa_test" in line)
    assert "Population figures (mid-2017)" in failure
    assert snapshot(project.outputs) == before


def test_a_further_quarterly_workbook_is_published_with_no_code_change(project):
    """A workbook of a known layout, dropped into raw/ with its manifest entry, gets its own raw asset and rows."""
    source = "outcomes/workbooks/policeforceareatablesyearendingseptember2019.xlsx"
    data = (project.raw / source).read_bytes()
    add_edition(
        project,
        source,
        "outcomes/workbooks/reissued-september-2019.xlsx",
        "ons__pfa_ye_sep2019_reissue",
        data,
        edition_date="2019-10-01",
    )
    run = build_cli(project)
    logs = run.stdout + run.stderr
    assert run.returncode == 0, logs[-3000:]
    assert "raw_ons__pfa_ye_sep2019_reissue" in logs
    outcomes = list(csv.DictReader(io.StringIO((project.outputs / "data" / "area_outcomes.csv").read_text())))
    reissued = [r for r in outcomes if r["edition"] == "ons__pfa_ye_sep2019_reissue"]
    original = [r for r in outcomes if r["edition"] == "ons__pfa_ye_sep2019"]
    # Every published count, rate and population of Tables P1, P3, P4 and P5 for every police force area, as in
    # the original.
    assert len(reissued) == len(original) > 43 * 6
    assert {(r["area_code"], r["measure"], r["value"]) for r in reissued} == {
        (r["area_code"], r["measure"], r["value"]) for r in original
    }
