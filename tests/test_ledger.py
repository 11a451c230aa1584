"""The version ledger: a version names one data state, for good, and researchers can look each one up."""

import datetime as dt
import json
import re
import subprocess

import pytest

from pipeline.defs.resources import PROJECT_DIR
from pipeline.operations.build import record_versions
from pipeline.release import ledger, versions
from pipeline.release.gate import ReleaseFileError
from tests.conftest import snapshot

X, Y = "a" * 64, "b" * 64


def test_the_committed_ledger_names_every_released_version_and_the_data_of_the_published_one():
    committed = ledger.parse(PROJECT_DIR / "release" / ledger.LEDGER)
    changelog = (PROJECT_DIR / "outputs" / "CHANGELOG.md").read_text(encoding="utf-8")
    in_changelog = re.findall(r"^## (\S+) ", changelog, flags=re.MULTILINE)
    assert in_changelog and set(in_changelog) <= {e.version for e in committed}
    descriptor = json.loads((PROJECT_DIR / "outputs" / "datapackage.json").read_text(encoding="utf-8"))
    assert ledger.named(committed, descriptor["version"]) == ledger.data_checksum(descriptor["resources"])
    # The package carries the same rows, so a researcher holding only the archive can look any version up.
    assert ledger.parse(PROJECT_DIR / "outputs" / ledger.LEDGER) == committed


def test_the_checksum_is_what_sha256sum_gives_on_the_published_csvs():
    outputs = PROJECT_DIR / "outputs"
    listing = subprocess.run(
        "LC_ALL=C sha256sum data/*.csv | sha256sum", shell=True, cwd=outputs, capture_output=True, text=True, check=True
    )
    descriptor = json.loads((outputs / "datapackage.json").read_text(encoding="utf-8"))
    assert listing.stdout.split()[0] == ledger.data_checksum(descriptor["resources"])


def test_a_version_in_the_ledger_never_names_other_data():
    recorded = {"release/versions.csv": [ledger.Entry("2026.1.1", "2026-01-01", X, 3)], "outputs/versions.csv": []}
    assert ledger.conflict(recorded, "2026.1.1", X) is None
    assert ledger.conflict(recorded, "2026.1.2", Y) is None
    refused = ledger.conflict(recorded, "2026.1.1", Y)
    assert refused and f"version 2026.1.1 is in release/versions.csv with data sha256 {X}" in refused
    assert f"this build's data has sha256 {Y}" in refused
    # Two copies that disagree (two branches each released the version) are refused whichever the build matches.
    recorded["outputs/versions.csv"] = [ledger.Entry("2026.1.1", "2026-01-01", Y, 3)]
    assert ledger.conflict(recorded, "2026.1.1", Y) and ledger.conflict(recorded, "2026.1.1", X)


def test_a_new_version_skips_every_version_already_released():
    today = dt.date(2026, 1, 1)
    assert versions.next_version("2025.12.31", today) == "2026.01.01"
    assert versions.next_version("2025.12.31", today, frozenset({"2026.01.01", "2026.01.01.2"})) == "2026.01.01.3"


def test_a_row_deleted_from_the_committed_ledger_comes_back(tmp_path):
    """A released version is never removed: the package's copy keeps it, and `make data` writes it back."""
    release, outputs = tmp_path / "release", tmp_path / "outputs"
    release.mkdir()
    outputs.mkdir()
    rows = [ledger.Entry("2026.1.1", "2026-01-01", X, 3), ledger.Entry("2026.1.2", "2026-01-02", Y, 3)]
    (outputs / ledger.LEDGER).write_bytes(ledger.to_csv(rows))
    (release / ledger.LEDGER).write_bytes(ledger.to_csv(rows[1:]))
    assert ledger.merged(ledger.parse(release / ledger.LEDGER), ledger.parse(outputs / ledger.LEDGER)) == [
        rows[1],
        rows[0],
    ]
    record_versions(outputs, release)
    assert ledger.parse(release / ledger.LEDGER) == rows


def test_a_malformed_ledger_row_is_named(tmp_path):
    (tmp_path / ledger.LEDGER).write_text("version,released,data_sha256,tables,note\n2026.1.1,2026-01-01,abc,3,\n")
    with pytest.raises(ReleaseFileError, match=r"versions\.csv, line 2: version '2026\.1\.1', data_sha256 'abc'"):
        ledger.parse(tmp_path / ledger.LEDGER)


@pytest.mark.slow
def test_the_gate_refuses_other_data_under_a_released_version(project, fresh_build):
    """The committed ledger says the published version named other data (as when two branches each released it):
    the build is refused, naming the version and both checksums, and outputs/ is unchanged."""
    descriptor = json.loads((project.outputs / "datapackage.json").read_text(encoding="utf-8"))
    version = descriptor["version"]
    path = project.release / ledger.LEDGER
    rows = [e for e in ledger.parse(path) if e.version != version] + [ledger.Entry(version, "2026-12-03", X, 22)]
    path.write_bytes(ledger.to_csv(rows))
    before = snapshot(project.outputs)
    build = project.build(after=fresh_build)
    assert not build.result.success
    text = "\n".join(build.step_failures())
    assert f"version {version} is in release/versions.csv with data sha256 {X}" in text, text
    assert ledger.data_checksum(descriptor["resources"]) in text
    assert snapshot(project.outputs) == before
