"""The package mirrored to object storage (here the local file system, as `file://` URLs): a version under its
own prefix, the pointer written last, and a failed upload that leaves the pointer where it was."""

import json
import shutil

import fsspec
import pytest

from pipeline.defs.resources import PROJECT_DIR
from pipeline.release import mirror
from tests.conftest import snapshot

PUBLISHED = PROJECT_DIR / "outputs"


def version_of(outputs) -> str:
    return json.loads((outputs / "datapackage.json").read_text(encoding="utf-8"))["version"]


def read_pointer(url: str) -> dict:
    """latest.json as a reader who follows the pointer gets it."""
    with fsspec.open(f"{url}/{mirror.POINTER}", "rb") as handle:
        return json.loads(handle.read())


def test_a_version_is_uploaded_whole_before_latest_json_names_it(tmp_path):
    url = f"file://{tmp_path / 'bucket'}"
    version = version_of(PUBLISHED)
    pointer = mirror.mirror(PUBLISHED, url, version, with_site=False)
    assert pointer == read_pointer(url)
    assert pointer["prefix"] == f"v/{version}/"
    assert snapshot(tmp_path / "bucket" / "v" / version) == snapshot(PUBLISHED)
    assert set(pointer["files"]) == set(snapshot(PUBLISHED)) and "datapackage.json" in pointer["files"]
    # The same package again uploads nothing (the pointer already names it) and leaves every byte as it was.
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "bucket").rglob("*")}
    assert mirror.mirror(PUBLISHED, url, version, with_site=False) == pointer
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "bucket").rglob("*")} == before


def test_an_upload_that_fails_leaves_latest_json_naming_the_previous_version(tmp_path, monkeypatch):
    url = f"file://{tmp_path / 'bucket'}"
    old = mirror.mirror(PUBLISHED, url, version_of(PUBLISHED), with_site=False)
    pointer_bytes = (tmp_path / "bucket" / "latest.json").read_bytes()

    newer = tmp_path / "outputs"
    shutil.copytree(PUBLISHED, newer)
    (newer / "README.md").write_text("a newer card\n", encoding="utf-8")
    local = fsspec.filesystem("file")
    real_pipe = type(local).pipe_file
    written = []

    def pipe_then_fail(self, path, value, **kwargs):
        if len(written) == 3:
            raise OSError("connection reset by peer")
        written.append(path)
        return real_pipe(self, path, value, **kwargs)

    monkeypatch.setattr(type(local), "pipe_file", pipe_then_fail)
    with pytest.raises(
        mirror.MirrorError, match=r"uploading \S+ to file://.*/v/9999\.1\.1/ failed .*latest\.json unchanged"
    ):
        mirror.mirror(newer, url, "9999.1.1", with_site=False)
    assert (tmp_path / "bucket" / "latest.json").read_bytes() == pointer_bytes
    assert read_pointer(url) == old
    monkeypatch.undo()
    # The next publish uploads the version whole and only then moves the pointer.
    assert mirror.mirror(newer, url, "9999.1.1", with_site=False)["prefix"] == "v/9999.1.1/"
    assert snapshot(tmp_path / "bucket" / "v" / "9999.1.1") == snapshot(newer)
    assert snapshot(tmp_path / "bucket" / "v" / old["version"]) == snapshot(PUBLISHED)


def test_a_run_that_starts_without_a_package_restores_the_mirrored_version_first(tmp_path):
    """The mirror holds the version's static site too (under site/, so it can be served as it is); a restore
    brings back the package only, every file checked against latest.json."""
    url = f"file://{tmp_path / 'bucket'}"
    pointer = mirror.mirror(PUBLISHED, url, version_of(PUBLISHED))
    site = tmp_path / "bucket" / pointer["prefix"] / "site"
    assert (site / "index.html").is_file() and (site / "areas").is_dir()
    assert {n for n in pointer["files"] if n.startswith("site/")} == {f"site/{n}" for n in snapshot(site)}
    empty = tmp_path / "pod" / "outputs"
    assert mirror.restore(empty, url) == pointer["version"]
    assert snapshot(empty) == snapshot(PUBLISHED)
    assert mirror.restore(empty, url) is None  # a package is there: left as it is
    # A mirrored file that does not match the pointer is refused and nothing is put in place.
    damaged = tmp_path / "bucket" / pointer["prefix"] / "data" / "sources.csv"
    damaged.write_bytes(damaged.read_bytes() + b"x")
    elsewhere = tmp_path / "pod2" / "outputs"
    with pytest.raises(mirror.MirrorError, match=r"v/.*/data/sources\.csv does not match its sha256 in latest\.json"):
        mirror.restore(elsewhere, url)
    assert not elsewhere.exists() and not list(elsewhere.parent.iterdir())
