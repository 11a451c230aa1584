"""ONS outcome tables: transcriptions that add up, editions that need no code, symbols that stay symbols."""

import csv
import io
import shutil
import subprocess
from collections import defaultdict

import yaml

from pipeline.build import JOB_COMMAND
from pipeline.manifest import load_manifest
from pipeline.resources import PROJECT_DIR

RAW = PROJECT_DIR / "raw"


def cells(path):
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


def number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def test_every_count_column_adds_up_to_the_published_england_and_wales_total():
    """For every count column of every ONS table: the 43 areas plus British Transport Police equal the
    published England and Wales figure (where one is published as a number); populations, rounded to
    100 per area, within 400."""
    manifest = load_manifest(RAW)
    checked = 0
    for entry in manifest.files.values():
        if entry.table_layout != "ons_pfa_long":
            continue
        columns = defaultdict(list)
        for row in cells(RAW / entry.path):
            columns[(row["column_group"], row["column_heading"], row["unit_as_published"])].append(row)
        for (group, heading, unit), rows in columns.items():
            is_count = unit == "Numbers" or heading.startswith("Number")
            is_population = heading.startswith("Population figures")
            if not (is_count or is_population):
                continue
            total = [number(r["value_as_published"]) for r in rows if r["area_code"] == "K04000001"]
            if len(total) != 1 or total[0] is None:
                continue
            members = [
                number(r["value_as_published"]) or 0.0
                for r in rows
                if r["area_code"][:3] in ("E23", "W15") or r["area_name"].startswith("British Transport")
            ]
            where = f"{entry.path}: {group} / {heading}"
            if is_count:
                assert sum(members) == total[0], where
            else:
                assert abs(sum(members) - total[0]) <= 400, where
            checked += 1
    assert checked >= 60  # P1 x2 (23 columns each), P4 (7), P5 x2 (16), populations (3)


def test_a_new_edition_is_picked_up_without_code_changes(project):
    """Dropping a later edition into raw/ with its manifest entry is enough: it gets a raw asset, its
    own rows in area_outcomes, and its own rows in the comparison."""
    source = project.raw / "outcomes" / "ons-pfa-tables-ye-mar2019-table-p4.csv"
    copy = project.raw / "outcomes" / "ons-pfa-tables-ye-mar2019-table-p4-reissue.csv"
    shutil.copy(source, copy)
    manifest = project.manifest()
    entry = next(f for f in manifest["files"] if f["path"] == "outcomes/ons-pfa-tables-ye-mar2019-table-p4.csv")
    manifest["files"].append(
        entry
        | {
            "file_id": "ons__pfa_ye_mar2019_table_p4_reissue",
            "path": "outcomes/ons-pfa-tables-ye-mar2019-table-p4-reissue.csv",
        }
    )
    project.write_manifest(manifest)
    env = project.cli_env()
    run = subprocess.run(JOB_COMMAND, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=600)
    logs = run.stdout + run.stderr
    assert run.returncode == 0, logs[-3000:]
    assert "raw_ons__pfa_ye_mar2019_table_p4_reissue" in logs
    outcomes = cells(project.outputs / "data" / "area_outcomes.csv")
    editions = {r["edition"] for r in outcomes if r["measure"] == "knife_homicide_offences"}
    assert editions == {"ons__pfa_ye_mar2019_table_p4", "ons__pfa_ye_mar2019_table_p4_reissue"}
    assert yaml.safe_load((project.raw / "sources.yaml").read_text())  # the manifest stays valid YAML


def test_symbols_never_become_numbers(fresh_build):
    rows = cells(fresh_build.outputs / "data" / "area_outcomes.csv")
    symbols = [r for r in rows if r["symbol"]]
    # ONS tables print the symbol in the cell; the homicide file leaves the cell blank with a status code.
    assert symbols and all(r["value"] == "" and r["value_as_published"] in (r["symbol"], "") for r in symbols)
    assert {r["symbol"] for r in symbols} >= {"u", "NA"}
    greater_manchester = [r for r in symbols if r["area_code"] == "E23000005"]
    # Greater Manchester's missing figures are all in the December 2019 edition (new IT system, 2019).
    assert {r["edition"] for r in greater_manchester} == {
        "ons__pfa_ye_dec2019_table_p3",
        "ons__pfa_ye_dec2019_table_p5",
    }
    for row in rows:
        if row["value"]:
            assert float(row["value"]) == float(row["value_as_published"])
