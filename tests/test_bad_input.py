"""Bad input fails loudly, names the file (and row and column), and leaves outputs/ byte-identical.

One case per kind of bad input. Decisions recorded here: a UTF-8 byte-order mark and CRLF line endings
are accepted (publishers' files carry them, and the result is the same package); a text cell that a
spreadsheet would run as a formula (=, + or @ first) is refused.
"""

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from pipeline.defs.resources import PROJECT_DIR
from pipeline.operations.build import JOB_COMMAND
from schemas import PUBLISHED_TABLES
from tests.conftest import snapshot

HO = "funding/home-office-serious-violence-funding-allocations-2023-24.csv"
HO_LABEL = f"raw/{HO}"
VRU_2019 = "funding/home-office-vru-allocations-2019-20-local-reports.csv"
ALIASES = "mappings/area_names.csv"
METADATA = "outcomes/ons-els-homicide-offences.json"
WORKBOOK = "outcomes/workbooks/policeforceareatablesyeendingmarch2019.xlsx"


def failure_text(build) -> str:
    """Everything a person running the build is shown about why it failed."""
    checks = [f"{e.check_name}: {e.description}" for e in build.failed_checks()]
    return "\n".join(build.step_failures() + checks)


def extra_column(p):
    p.replace_raw(
        HO,
        "Area,Grip police force allocation,VRU allocation",
        "Area,Grip police force allocation,VRU allocation,Comment",
    )


def manifest_path_escape(p):
    manifest = p.manifest()
    manifest["files"][0]["path"] = "../outputs/datapackage.json"
    p.write_manifest(manifest)


# Where each bad input is met: the asset whose step or check fails on it. Each case materialises that asset
# and what it reads; one full build per layer (test_a_failure_in_each_layer_publishes_nothing) and the CLI
# test below show that the same failure stops the whole run before anything is published.
RAW_HO = "raw_home_office__funding_allocations_2023_24"
MANIFEST = "raw_manifest__sources"
FUNDING = "core_funding_reports"

CASES = {
    "missing file": (RAW_HO, lambda p: (p.raw / HO).unlink(), [HO, "is missing"]),
    "file not in the manifest": (
        MANIFEST,
        lambda p: (p.raw / "funding" / "extra.csv").write_text("Area\nKent\n"),
        ["not listed in the manifest: funding/extra.csv"],
    ),
    "sha256 mismatch": (
        RAW_HO,
        lambda p: p.replace_raw(HO, "£861,445", "£861,446", update_manifest=False),
        [HO, "sha256", "does not match the manifest"],
    ),
    # A file no asset reads as a table (the publisher's metadata) is still checked: it goes into the archive.
    "metadata file edited": (
        MANIFEST,
        lambda p: p.write_raw(METADATA, (p.raw / METADATA).read_bytes() + b" ", update_manifest=False),
        [METADATA, "sha256", "does not match the manifest's", "file_id ons__homicide_offences_2026_02_11_metadata"],
    ),
    "empty file": (RAW_HO, lambda p: p.write_raw(HO, b""), [HO, "file is empty"]),
    "renamed column": (
        RAW_HO,
        lambda p: p.replace_raw(HO, "VRU allocation", "VRU allocations"),
        [HO_LABEL, "column 'VRU allocation'", "column is missing from the file"],
    ),
    "extra column": (RAW_HO, extra_column, [HO_LABEL, "column 'Comment'", "not in the schema"]),
    "wrong type": (
        "raw_reference__violence_reduction_units",
        lambda p: p.replace_raw("reference/violence_reduction_units.csv", "E23000014", "E2300001X"),
        ["raw/reference/violence_reduction_units.csv, row 3, column 'pfa_code'", "ONS police force area code"],
    ),
    "unparseable amount": (
        FUNDING,
        lambda p: p.replace_raw(VRU_2019, "£3.37 million", "lots of money"),
        [f"raw/{VRU_2019}, row 3, column 'amount_as_published'", "cannot read amount 'lots of money'"],
    ),
    "negative amount": (
        RAW_HO,
        lambda p: p.replace_raw(HO, '"£861,445"', '"-£861,445"'),
        [f"{HO_LABEL}, row 9, column 'Grip police force allocation': value '-£861,445'"],
    ),
    "unknown area name": (
        FUNDING,
        lambda p: p.replace_raw(HO, "Thames Valley,", "Thames Vally,"),
        [f"{HO_LABEL}, row 9, column 'Area': value 'Thames Vally': unknown area name"],
    ),
    "duplicate primary key": (
        RAW_HO,
        lambda p: p.replace_raw(HO, "Thames Valley,", "Northumbria,"),
        [f"{HO_LABEL}, row 9, column 'Area'", "duplicate value"],
    ),
    "dangling foreign key": (
        "out_area_names",
        lambda p: p.replace_raw(ALIASES, "Avon & Somerset,E23000036", "Avon & Somerset,E23000096"),
        ["outputs/data/area_names.csv, row 2, column 'area_code': value 'E23000096': matches no row"],
    ),
    "financial year out of range": (
        FUNDING,
        lambda p: p.replace_raw(VRU_2019, "VRU,2019/20,£3.37 million", "VRU,2031/32,£3.37 million"),
        [f"raw/{VRU_2019}, row 3, column 'financial_year'", "outside 2019-20"],
    ),
    "malformed financial year": (
        FUNDING,
        lambda p: p.replace_raw(VRU_2019, "VRU,2019/20,£3.37 million", "VRU,next year,£3.37 million"),
        [f"raw/{VRU_2019}, row 3, column 'financial_year'", "cannot read period 'next year'"],
    ),
    "non-UTF-8 bytes": (
        RAW_HO,
        lambda p: p.write_raw(HO, (p.raw / HO).read_bytes().replace(b"Thames", b"Th\xe9mes")),
        [HO, "line 9 is not valid UTF-8"],
    ),
    "spreadsheet formula in a text cell": (
        "raw_project__area_names",
        lambda p: p.replace_raw(ALIASES, "Ampersand spelling", "=HYPERLINK(0)"),
        ["raw/mappings/area_names.csv, row 5, column 'notes'", "run as a formula"],
    ),
    # Cleveland's share of knife offences, 5.575926160070805 as published, typed as 155.5.
    "percentage share above 100 in a workbook": (
        "raw_ons__pfa_ye_mar2019",
        lambda p: p.edit_workbook(WORKBOOK, "Table P4", "E23000013", "% involving a knife", 155.5),
        [
            f"{WORKBOOK}, sheet 'Table P4', cell D10 (Cleveland, Total of selected serious offences: "
            "% involving a knife): value '155.5': a percentage share must lie between 0 and 100"
        ],
    ),
    "malformed manifest": (
        MANIFEST,
        lambda p: (p.raw / "sources.yaml").write_text("sources: [\n"),
        ["sources.yaml", "not readable YAML"],
    ),
    "manifest path escaping raw/": (MANIFEST, manifest_path_escape, ["sources.yaml", "escapes"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_fails_with_a_clear_error_and_publishes_nothing(project, case):
    asset, mutate, expected = CASES[case]
    published = snapshot(project.outputs)
    mutate(project)
    build = project.build(only=asset)
    assert not build.result.success
    text = failure_text(build)
    for fragment in expected:
        assert fragment in text, f"{fragment!r} not in:\n{text}"
    assert snapshot(project.outputs) == published


def break_area_code_pattern(project, monkeypatch):
    """The published police_force_areas declared to accept Welsh codes only: its out asset's schema check fails
    on the English areas, though every raw and core check passes."""
    table = PUBLISHED_TABLES["police_force_areas"]
    columns = [replace(c, pattern=r"W15\d{6}") if c.name == "area_code" else c for c in table.columns]
    monkeypatch.setitem(PUBLISHED_TABLES, "police_force_areas", replace(table, columns=columns))


# Per layer (each one Dagster step, pipeline/defs/steps.py): a failure, the asset whose blocking check fails, an asset
# of the same step that reads it (not computed), one that does not (computed), and the asset built up to.
BLOCKING = {
    "raw": (
        lambda project, _: CASES["spreadsheet formula in a text cell"][1](project),
        ("raw_project__area_names", "matches_schema"),
        "core_area_names",
        "raw_reference__police_force_areas",
        "core_area_names",
    ),
    "core": (
        lambda project, _: CASES["unparseable amount"][1](project),
        ("core_funding_reports", "figures_read"),
        "core_funding_allocations",
        "core_sources",
        "core_funding_coverage",
    ),
    "out": (
        break_area_code_pattern,
        ("out_police_force_areas", "matches_schema"),
        "out_violence_reduction_units",
        "out_sources",
        "out_violence_reduction_units",
    ),
}


@pytest.mark.parametrize("layer", list(BLOCKING))
def test_a_failed_blocking_check_stops_what_reads_the_asset_in_every_layer(project, monkeypatch, layer):
    """A failed blocking check stops every asset that reads the checked one, whether it is computed in the same
    step (each layer is one) or a later one; assets that do not read it are still computed."""
    mutate, (failed, check), stopped, unaffected, target = BLOCKING[layer]
    mutate(project, monkeypatch)
    build = project.build(only=target)
    materialised = {m.asset_key.to_user_string() for m in build.result.get_asset_materialization_events()}
    evaluations = {
        (e.asset_key.to_user_string(), e.check_name): e.passed for e in build.result.get_asset_check_evaluations()
    }
    assert evaluations[(failed, check)] is False
    assert failed in materialised and unaffected in materialised
    assert stopped not in materialised
    assert "blocking asset check failed" in failure_text(build) and check in failure_text(build)


@pytest.mark.slow
@pytest.mark.parametrize("case", ["sha256 mismatch", "unknown area name", "dangling foreign key"])
def test_a_failure_in_each_layer_publishes_nothing(project, case):
    """A whole build, for one failure in each layer (raw, core, out): it stops the run, names the file, row and
    column, and outputs/ stays byte-identical."""
    _, mutate, expected = CASES[case]
    published = snapshot(project.outputs)
    mutate(project)
    build = project.build()
    assert not build.result.success
    text = failure_text(build)
    assert all(fragment in text for fragment in expected), text
    assert snapshot(project.outputs) == published


@pytest.mark.parametrize("case", ["byte-order mark", "CRLF line endings"])
def test_accepted_variants_are_read_as_the_same_table(project, case):
    """A byte-order mark or CRLF line endings change no cell, no row number and no column of what is read."""
    from pipeline.sources.csvfile import read_raw_csv

    original = read_raw_csv(project.raw / ALIASES)
    data = (project.raw / ALIASES).read_bytes()
    variant = b"\xef\xbb\xbf" + data if case == "byte-order mark" else data.replace(b"\n", b"\r\n")
    assert variant != data
    (project.raw / ALIASES).write_bytes(variant)
    read = read_raw_csv(project.raw / ALIASES)
    assert read.equals(original) and list(read.index) == list(original.index)


@pytest.mark.slow
@pytest.mark.parametrize("case", ["byte-order mark", "CRLF line endings"])
def test_accepted_variants_give_the_same_package(project, case):
    published = snapshot(project.outputs)
    data = (project.raw / ALIASES).read_bytes()
    if case == "byte-order mark":
        project.write_raw(ALIASES, b"\xef\xbb\xbf" + data)
    else:
        assert b"\r\n" not in data
        project.write_raw(ALIASES, data.replace(b"\n", b"\r\n"))
    build = project.build()
    assert build.result.success, build.step_failures()
    assert snapshot(project.outputs) == published


@pytest.mark.slow
def test_cli_build_exits_non_zero_and_names_the_file(project):
    project.replace_raw(HO, "£861,445", "£861,446", update_manifest=False)
    env = project.cli_env()
    published = snapshot(project.outputs)
    run = subprocess.run(
        JOB_COMMAND,
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode != 0
    assert HO in run.stdout + run.stderr and "does not match the manifest" in run.stdout + run.stderr
    assert snapshot(project.outputs) == published


def test_make_data_names_a_malformed_manifest_entry_without_a_traceback(project):
    """`make data` reads the manifest before it launches the job: an impossible date is one line naming the
    manifest, the entry and the field; nothing runs and nothing published changes."""
    manifest = project.manifest()
    entry = manifest["files"][3]
    entry["date_retrieved"] = "2026-02-30"
    project.write_manifest(manifest)
    published = snapshot(project.outputs)
    env = project.cli_env() | {"FORCE": "1"}
    run = subprocess.run(
        [sys.executable, "-m", "pipeline.operations.build"], cwd=PROJECT_DIR, env=env, capture_output=True, text=True
    )
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [
        f"make data: {project.raw / 'sources.yaml'}: files entry 4 (file_id {entry['file_id']}): "
        "date_retrieved: '2026-02-30' is not an ISO date (YYYY-MM-DD)"
    ]
    assert "Traceback" not in run.stdout + run.stderr
    assert snapshot(project.outputs) == published


@pytest.mark.slow
@pytest.mark.parametrize("case", ["spreadsheet formula in a text cell", "sha256 mismatch"])
def test_make_data_ends_with_the_reason_and_no_stack_frame(project, case):
    """A failed `make data` ends with a short summary: the failed check or step with its file, row, column and
    value, where the full log is, and that outputs/ is unchanged; the console has no stack frame."""
    _, mutate, expected = CASES[case]
    mutate(project)
    published = snapshot(project.outputs)
    env = project.cli_env() | {"FORCE": "1"}
    run = subprocess.run(
        [sys.executable, "-m", "pipeline.operations.build"], cwd=PROJECT_DIR, env=env, capture_output=True, text=True
    )
    assert run.returncode != 0
    last = run.stderr.strip().splitlines()[-4:]
    assert all(fragment in last[-1] for fragment in expected), "\n".join(last)  # the reason is the last line
    header = next(line for line in last if line.startswith("make data failed."))
    assert f"Nothing was published: {project.outputs} is as it was." in header
    full_log = Path(header.split("Full log: ")[1])
    assert 'File "' in full_log.read_text()  # the stack frames are kept there, for whoever needs them
    for text in (run.stdout, run.stderr):
        assert "Traceback" not in text and 'File "' not in text and " - DEBUG - " not in text
    assert snapshot(project.outputs) == published
