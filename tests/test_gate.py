"""The row-level diff of a release and the gate that stops one from losing published data by accident."""

import csv
import subprocess
import sys

import pytest
import yaml

from pipeline.defs.resources import PROJECT_DIR
from pipeline.release import gate
from tests.conftest import snapshot

BEFORE = b'id,area,amount\n1,"Kent, north",10\n2,Essex,20\n3,Surrey,\n'
AFTER = b'id,area,amount\n1,"Kent, north",11\n3,Surrey,5\n4,Devon,40\n'


def test_the_diff_names_keys_added_removed_and_each_changed_cell_as_printed():
    diff = gate.diff_table("t", ["id"], BEFORE, AFTER)
    assert (diff.rows_before, diff.rows_after) == (3, 3)
    assert diff.added == ["id=4"] and diff.removed == ["id=2"]
    assert diff.changed == [("id=1", "amount", "10", "11"), ("id=3", "amount", None, "5")]
    assert diff.changed_rows == 2
    rows = list(csv.reader(gate.diff_csv([diff]).decode().splitlines()))
    assert rows[1:] == [
        ["t", "id=4", "added", "", "", ""],
        ["t", "id=2", "removed", "", "", ""],
        ["t", "id=1", "changed", "amount", "10", "11"],
        ["t", "id=3", "changed", "amount", "", "5"],
    ]
    assert gate.diff_table("t", ["id"], AFTER, AFTER).unchanged


def test_the_gate_stops_a_lost_key_unless_acknowledged_for_the_version_it_replaces(tmp_path):
    diffs = [gate.diff_table("funding", ["id"], BEFORE, AFTER)]
    with pytest.raises(gate.ReleaseBlocked) as blocked:
        gate.check(diffs, tmp_path, "2026.1.1", "2026.1.2")
    message = str(blocked.value)
    assert "funding 1 published key(s) would vanish: (id=2)" in message
    assert "{replaces: '2026.1.1', table: funding, reason: <why>}" in message
    assert "version 2026.1.2 was not published; outputs/ is unchanged" in message

    (tmp_path / "acknowledged.yaml").write_text(
        "acknowledged:\n  - {replaces: '2025.12.31', table: funding, reason: an older release}\n"
    )
    with pytest.raises(gate.ReleaseBlocked):  # an acknowledgement for another release does not carry over
        gate.check(diffs, tmp_path, "2026.1.1", "2026.1.2")
    (tmp_path / "acknowledged.yaml").write_text(
        "acknowledged:\n  - {replaces: '2026.1.1', table: funding, reason: row 2 was a duplicate}\n"
    )
    notes = gate.check(diffs, tmp_path, "2026.1.1", "2026.1.2")
    assert notes == {"funding": "1 published key(s) would vanish: (id=2) (acknowledged: row 2 was a duplicate)"}


def test_a_table_that_shrinks_is_stopped_by_the_keys_it_loses(tmp_path):
    """There is no row-count comparison of its own: a primary key is unique, so fewer rows means lost keys."""
    shrunk = gate.diff_table("t", ["id"], BEFORE, b"id,area,amount\n3,Surrey,\n")
    with pytest.raises(gate.ReleaseBlocked, match=r"t 2 published key\(s\) would vanish: \(id=1\); \(id=2\)"):
        gate.check([shrunk], tmp_path, "2026.1.1", "2026.1.2")


def test_the_gate_stops_a_table_below_its_committed_row_count_and_a_table_that_disappears(tmp_path):
    (tmp_path / "expected_rows.csv").write_text("table,min_rows\nt,4\n")
    grown = gate.diff_table("t", ["id"], None, AFTER)  # a first release: nothing to lose, but 3 < 4 rows
    assert (grown.is_new_table, grown.keys_added, grown.added) == (True, 3, [])
    with pytest.raises(gate.ReleaseBlocked, match=r"t has 3 rows, fewer than the 4 in release/expected_rows\.csv"):
        gate.check([grown], tmp_path, None, "2026.1.1")
    (tmp_path / "acknowledged.yaml").write_text("acknowledged:\n  - {replaces: none, table: t, reason: a sample}\n")
    assert gate.check([grown], tmp_path, None, "2026.1.1") == {
        "t": "has 3 rows, fewer than the 4 in release/expected_rows.csv (acknowledged: a sample)"
    }
    [_, gone] = gate.diff_packages({"data/t.csv": AFTER, "data/old.csv": BEFORE}, {"data/t.csv": AFTER}, {"t": ["id"]})
    assert (gone.table, gone.rows_before, gone.removed) == ("old", 3, ["(the whole table)"])


def test_the_committed_expectations_hold_for_the_published_package():
    expected = gate.expected_rows(PROJECT_DIR / "release")
    published = gate.package_csvs(PROJECT_DIR / "outputs")
    assert set(expected) == {name.removeprefix("data/").removesuffix(".csv") for name in published}
    for table, rows in expected.items():
        assert gate.count_rows(published[f"data/{table}.csv"]) >= rows, table


@pytest.mark.slow
def test_a_raw_row_removed_stops_the_publish_naming_table_and_key_until_acknowledged(project, fresh_build):
    source = "funding/gap-fill-local-reports.csv"
    lines = (project.raw / source).read_bytes().splitlines(keepends=True)
    with (project.outputs / "data" / "funding_reports.csv").open(encoding="utf-8", newline="") as handle:
        last = max(int(r["raw_row"]) for r in csv.DictReader(handle) if r["raw_file"] == f"raw/{source}")
    project.write_raw(source, b"".join(lines[:-1]))
    before = snapshot(project.outputs)

    build = project.build(after=fresh_build)
    assert not build.result.success
    [failed] = [e for e in build.failed_checks() if e.check_name == "no_published_data_lost"]
    assert f"funding_reports 1 published key(s) would vanish: (report_id=local_reports__gap_fill:{last})" in (
        failed.description
    )
    assert snapshot(project.outputs) == before

    version = before["datapackage.json"].decode().split('"version": "')[1].split('"')[0]
    acknowledgement = f"  - {{replaces: '{version}', table: funding_reports, reason: test removes a row}}\n"
    for table in ("funding_allocations", "funding_coverage", "national_totals"):
        acknowledgement += f"  - {{replaces: '{version}', table: {table}, reason: follows funding_reports}}\n"
    with (project.release / "acknowledged.yaml").open("a", encoding="utf-8") as handle:
        handle.write(acknowledgement)
    build = project.build(after=fresh_build)
    assert build.result.success, build.step_failures()
    diff = (project.outputs / "RELEASE_DIFF.md").read_text(encoding="utf-8")
    assert f"- removed: report_id=local_reports__gap_fill:{last}" in diff


def test_a_number_printed_differently_is_not_a_change_but_a_new_value_is():
    before = b"id,amount,note\n1,1200000,a\n2,5,b\n"
    after = b"id,amount,note\n1,1200000.00,a\n2,5.50,b \n"
    diff = gate.diff_table("t", ["id"], before, after, frozenset({"amount"}))
    assert diff.changed == [("id=2", "amount", "5", "5.50"), ("id=2", "note", "b", "b ")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("acknowledged:\n  - {replaces: '2026.1.1', table: t}\n", "acknowledged entry 1: reason is None, not a text"),
        (
            "acknowledged:\n  - {replaces: '2026-01-01', table: t, reason: r}\n",
            "acknowledged entry 1 (table t): replaces '2026-01-01' is not a version",
        ),
        ("acknowledged:\n  - {replaces: '2026.1.1', tabel: t, reason: r}\n", "unknown field(s) ['tabel']"),
        ("acknowledged:\n  - table: t\n  reason: r\n", "not readable YAML"),
        ("acknowleged: []\n", "expected one top-level list 'acknowledged'"),
    ],
)
def test_a_malformed_acknowledgement_is_refused_naming_the_entry_and_value(tmp_path, text, message):
    """Every entry is checked whenever it is read, not only when a release would match it."""
    (tmp_path / "acknowledged.yaml").write_text(text)
    with pytest.raises(gate.ReleaseFileError, match="acknowledged.yaml") as info:
        gate.acknowledgements(tmp_path)
    assert message in str(info.value)


def test_make_data_refuses_a_malformed_acknowledgement_before_anything_runs(project):
    """A malformed release/acknowledged.yaml stops every build, though no release needs it yet: it is found the day
    it is written, in one line naming the file, the entry and the value."""
    path = project.release / "acknowledged.yaml"
    entry = len(yaml.safe_load(path.read_text(encoding="utf-8"))["acknowledged"]) + 1  # the one added here
    path.write_text(path.read_text(encoding="utf-8") + "  - {replaces: '2026.11.26', table: area_outcomes}\n")
    published = snapshot(project.outputs)
    env = project.cli_env() | {"FORCE": "1"}
    run = subprocess.run(
        [sys.executable, "-m", "pipeline.operations.build"], cwd=PROJECT_DIR, env=env, capture_output=True, text=True
    )
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [
        f"make data: {path}: acknowledged entry {entry}: reason is None, not a text. "
        "Each entry is {replaces: '<version>', table: <table>, reason: <why>}"
    ]
    assert snapshot(project.outputs) == published
