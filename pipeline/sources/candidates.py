"""Candidates: what a fetch brought in, built into the package it would publish, for a person to review.

    python -m pipeline.sources.candidates list
    python -m pipeline.sources.candidates accept <candidate id>      # `make accept CANDIDATE=<id>`

A candidate is a folder under .state/candidates/<id>/ (local state, never committed):

- CANDIDATE.md: what was fetched (source, version, address, sha256, bytes), whether published values change, the
  row-level diff against the current package and the quality flags it adds; and the command that accepts it;
- raw/: raw/ as it would be, the new files and their manifest entries written by the manifest tool;
- outputs/: the package a publish from that raw/ gives (built with SV_RAW_DIR and SV_OUTPUTS_DIR pointing here),
  with its RELEASE_DIFF.md and release_diff.csv;
- documents/: pages and answers to transcribe (a fetched answer is never a published figure by itself).

Until it is accepted raw/, the manifest and outputs/ are untouched. Accepting copies the new files and the manifest
into raw/ and publishes through the usual gate (`make data`); a publish that fails puts raw/ back as it was. When the
warehouse holds the last publish of raw/ (make data's stamp matches), the publish runs only what the new files and
the manifest feed (SV_CHANGED_FILES, pipeline/operations/build.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.operations.build import CHANGED_ENV, current_stamp, stamp_path
from pipeline.operations.locations import PROJECT_DIR, release_dir
from pipeline.sources.manifest import MANIFEST_NAME, ManifestError, load_manifest, sha256_of
from pipeline.sources.manifest_tool import add_file, add_source, check

if TYPE_CHECKING:
    from pipeline.sources.fetch import Arrival

DESCRIPTION = "candidate.json"
REPORT = "CANDIDATE.md"


def _slug(text: str) -> str:
    return re.sub(r"_+", "_", re.sub(r"[^a-z0-9]", "_", text.lower())).strip("_")


def _unique(name: str, taken: set[str]) -> str:
    chosen, n = name, 2
    while chosen in taken:
        chosen, n = f"{name}_{n}", n + 1
    return chosen


def build_env(root: Path, raw: Path, outputs: Path, release: Path | None = None) -> dict:
    """A `make data` run against `raw` and `outputs`, with its own warehouse and Dagster instance under `root`;
    with `release`, a copy of that release/ folder under `root` (make data writes its version ledger there)."""
    home = root / "home"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROJECT_DIR / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    own = {}
    if release is not None:
        shutil.copytree(release, root / "release", dirs_exist_ok=True)
        own["SV_RELEASE_DIR"] = str(root / "release")
    return (
        os.environ
        | own
        | {
            "SV_RAW_DIR": str(raw),
            "SV_OUTPUTS_DIR": str(outputs),
            "SV_WAREHOUSE": str(root / "warehouse.duckdb"),
            "SV_PUBLISH_URL": "",
            "DAGSTER_HOME": str(home),
            "FORCE": "1",
        }
    )


def run_build(env: dict, log: Path) -> int:
    """`make data` (pipeline/operations/build.py) in a subprocess, its console kept in `log`."""
    with log.open("w", encoding="utf-8") as out:
        return subprocess.run(
            [sys.executable, "-m", "pipeline.operations.build"], cwd=PROJECT_DIR, env=env, stdout=out, stderr=out
        ).returncode


def make_candidate(raw_dir: Path, outputs_dir: Path, candidates_dir: Path, arrivals: list[Arrival], *, build=True):
    """A candidate folder for `arrivals` (each checked already); returns its path. A failure removes it whole."""
    manifest = load_manifest(raw_dir)
    digest = hashlib.sha256("".join(sorted(a.version.version_id for a in arrivals)).encode()).hexdigest()[:8]
    folder = candidates_dir / f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}-{digest}"
    try:
        _fill(folder, raw_dir, outputs_dir, manifest, arrivals, build)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return folder


def _fill(folder: Path, raw_dir: Path, outputs_dir: Path, manifest, arrivals: list[Arrival], build: bool) -> None:
    staged = folder / "raw"
    shutil.copytree(raw_dir, staged)
    source_ids, file_ids = set(manifest.sources), set(manifest.files)
    new_files, documents, fetched = [], [], []
    for arrival in arrivals:
        spec, series, version = (
            manifest.fetches[arrival.source_id],
            manifest.sources[arrival.source_id],
            arrival.version,
        )
        if arrival.path is None:
            target = folder / "documents" / arrival.source_id / re.sub(r"[^A-Za-z0-9._-]", "_", version.file_name)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(version.document, encoding="utf-8")
            documents.append(
                {
                    "source_id": arrival.source_id,
                    "version": version.version_id,
                    "page": version.page_url,
                    "file": target.relative_to(folder).as_posix(),
                    "label": version.label,
                }
            )
            continue
        assert spec.folder
        label = version.edition_date.replace("-", "_") if spec.method == "git_file" else _slug(version.label)
        source_id = _unique(f"{arrival.source_id}_{label.upper()}", source_ids)
        source_ids.add(source_id)
        stem, suffix = os.path.splitext(version.file_name)
        name = f"{stem}-{version.edition_date}{suffix}" if spec.method == "git_file" else version.file_name
        relative = f"{spec.folder}/{name}"
        if (staged / relative).exists():
            relative = f"{spec.folder}/{stem}-{digest_of(arrival)[:8]}{suffix}"
        file_id = _unique(f"{_slug(arrival.source_id)}__{_slug(stem)}_{_slug(label)}", file_ids)
        file_ids.add(file_id)
        add_source(
            staged,
            source_id=source_id,
            title=f"{series['title']}: {version.label}",
            publisher=series["publisher"],
            url=version.page_url,
            date_published=version.date_published or None,
            licence=series["licence"],
            kind=series["kind"],
            notes=f"Fetched from the publisher by `make fetch` ({spec.method} at {spec.address}); version "
            f"{version.version_id}.",
            bytes_verification="publisher_file",
        )
        (staged / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(arrival.path, staged / relative)
        add_file(
            staged,
            staged / relative,
            spec.like,
            file_id,
            layout=arrival.layout,
            source_id=source_id,
            title=f"{series['title']}: {version.label} (the file as published)",
            edition_date=version.edition_date or None,
            transcribed_from=f"fetched by make fetch from {version.download}",
            verified="format, layout and raw schema checked on arrival",
            version=version.version_id,
            fetched_from=version.download,
        )
        new_files.append(relative)
        fetched.append(
            {
                "source_id": source_id,
                "series": arrival.source_id,
                "file_id": file_id,
                "path": relative,
                "version": version.version_id,
                "address": version.download,
                "sha256": arrival.sha256,
                "bytes": arrival.size,
                "label": version.label,
            }
        )
    description = {
        "id": folder.name,
        "base_manifest_sha256": sha256_of(raw_dir / MANIFEST_NAME),
        "new_files": new_files,
        "fetched": fetched,
        "documents": documents,
        "build": "not run",
    }
    if new_files and build:
        shutil.copytree(outputs_dir, folder / "outputs")
        # The candidate's publish reads the project's release/ (gate, acknowledgements, ledger) but writes only its
        # own copy: a version it would take is not released until the candidate is accepted.
        env = build_env(folder, staged, folder / "outputs", release_dir())
        code = run_build(env, folder / "build.log")
        description["build"] = "passed" if code == 0 else "failed"
    elif not new_files:
        shutil.rmtree(staged)
    (folder / DESCRIPTION).write_text(json.dumps(description, indent=2) + "\n", encoding="utf-8")
    (folder / REPORT).write_text(report(folder, description, outputs_dir), encoding="utf-8")


def digest_of(arrival: Arrival) -> str:
    return arrival.sha256 or hashlib.sha256(arrival.version.version_id.encode()).hexdigest()


def changed_tables(before: Path, after: Path) -> list[str]:
    names = {p.name for p in (before / "data").glob("*.csv")} | {p.name for p in (after / "data").glob("*.csv")}
    return sorted(
        n.removesuffix(".csv")
        for n in names
        if not (before / "data" / n).is_file()
        or not (after / "data" / n).is_file()
        or (before / "data" / n).read_bytes() != (after / "data" / n).read_bytes()
    )


def new_flags(before: Path, after: Path) -> list[str]:
    """Quality flags in the candidate's package that the current one does not have (as CSV lines)."""
    old, new = before / "data" / "quality_flags.csv", after / "data" / "quality_flags.csv"
    if not new.is_file():
        return []
    lines = new.read_text(encoding="utf-8").splitlines()
    kept = set(old.read_text(encoding="utf-8").splitlines()) if old.is_file() else set()
    return [lines[0], *(line for line in lines[1:] if line not in kept)] if len(lines) > 1 else []


def report(folder: Path, description: dict, outputs_dir: Path) -> str:
    lines = [f"# Candidate {description['id']}", ""]
    if description["fetched"]:
        lines += [
            "## Fetched",
            "",
            "| source (new) | series | version | address | sha256 | bytes | raw file |",
            "|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {f['source_id']} | {f['series']} | {f['label']} (`{f['version']}`) | {f['address']} "
            f"| `{f['sha256'][:16]}…` | {f['bytes']} | raw/{f['path']} |"
            for f in description["fetched"]
        ]
        lines.append("")
    if description["documents"]:
        lines += [
            "## Documents to transcribe",
            "",
            "Never published by themselves: a person transcribes the figures into a raw file with its own "
            "manifest entry, citing the page.",
            "",
        ]
        lines += [
            f"- {d['source_id']} `{d['version']}` ({d['label']}): [{d['file']}]({d['file']}), {d['page']}"
            for d in description["documents"]
        ]
        lines.append("")
    built = folder / "outputs"
    if description["build"] == "passed":
        tables = changed_tables(outputs_dir, built)
        lines += ["## What it would publish", ""]
        lines += [
            f"Published tables that change: {', '.join(tables)}."
            if tables
            else "No published table changes: the new files are held in raw/ but no published value depends on them."
        ]
        flags = new_flags(outputs_dir, built)
        lines += ["", f"### New quality flags ({max(len(flags) - 1, 0)})", ""]
        lines += ["```", *flags, "```"] if flags else ["None."]
        diff = built / "RELEASE_DIFF.md"
        if diff.is_file():
            lines += [
                "",
                "### Row-level diff against the current package (outputs/RELEASE_DIFF.md of the candidate)",
                "",
                *(
                    "#" + line if line.startswith("#") else line
                    for line in diff.read_text(encoding="utf-8").splitlines()
                ),
            ]
        lines += [
            "",
            "## Accept",
            "",
            f"    make accept CANDIDATE={description['id']}",
            "",
            "copies the new files and their manifest entries into raw/ and publishes through the release gate "
            "(`make data`). To refuse it, delete this folder.",
        ]
    elif description["build"] == "failed":
        lines += [
            "## The package could not be built",
            "",
            "The new files pass their own checks but the build stops on them; it cannot be accepted. Why "
            "(the last lines of build.log):",
            "",
            "```",
            *(folder / "build.log").read_text(encoding="utf-8").splitlines()[-25:],
            "```",
        ]
    return "\n".join(lines) + "\n"


def accept(folder: Path, raw_dir: Path, outputs_dir: Path) -> str:
    """Copy the candidate's new files and manifest into raw/ and publish; raises ManifestError with why not.
    A publish that fails puts raw/ back as it was (outputs/ is never touched by a failed publish)."""
    path = folder / DESCRIPTION
    if not path.is_file():
        raise ManifestError(f"{folder}: not a candidate (no {DESCRIPTION})")
    description = json.loads(path.read_text(encoding="utf-8"))
    if description.get("accepted"):
        raise ManifestError(f"{folder}: accepted already on {description['accepted']}")
    if not description["new_files"]:
        raise ManifestError(f"{folder}: only documents to transcribe: nothing to accept (see {REPORT})")
    if description["build"] != "passed":
        raise ManifestError(f"{folder}: its package did not build ({description['build']}); see {REPORT}")
    manifest = raw_dir / MANIFEST_NAME
    if sha256_of(manifest) != description["base_manifest_sha256"]:
        raise ManifestError(f"{manifest} changed since the candidate was made: run `make fetch` again")
    clashes = [f for f in description["new_files"] if (raw_dir / f).exists()]
    if clashes:
        raise ManifestError(f"{raw_dir}: already has {', '.join(clashes)}")
    # The warehouse holds the last publish of this raw/ and outputs/: only what the new files feed is rebuilt.
    stamp = stamp_path()
    only_new = stamp.is_file() and stamp.read_text().strip() == current_stamp(raw_dir, outputs_dir)
    before = manifest.read_bytes()
    copied: list[Path] = []
    try:
        for relative in description["new_files"]:
            target = raw_dir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(folder / "raw" / relative, target)
            copied.append(target)
        shutil.copyfile(folder / "raw" / MANIFEST_NAME, manifest)
        check(raw_dir)
        log = folder / "accept.log"
        env = os.environ | {"SV_RAW_DIR": str(raw_dir), "SV_OUTPUTS_DIR": str(outputs_dir), "FORCE": "1"}
        if only_new:
            env[CHANGED_ENV] = ",".join(description["new_files"])
        if run_build(env, log) != 0:
            raise ManifestError(f"the publish failed (see {log}); raw/ and outputs/ are as they were")
    except BaseException:
        for target in copied:
            target.unlink(missing_ok=True)
        manifest.write_bytes(before)
        raise
    description["accepted"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    path.write_text(json.dumps(description, indent=2) + "\n", encoding="utf-8")
    return f"accepted {description['id']}: {len(copied)} file(s) added to raw/ and published to {outputs_dir}"


def candidates_dir() -> Path:
    return Path(os.environ.get("SV_CANDIDATES_DIR", PROJECT_DIR / ".state" / "candidates"))


def main(argv: list[str]) -> int:
    from pipeline.operations.locations import outputs_dir, raw_dir

    if argv[:1] == ["list"]:
        for folder in sorted(p for p in candidates_dir().glob("*") if (p / DESCRIPTION).is_file()):
            description = json.loads((folder / DESCRIPTION).read_text(encoding="utf-8"))
            state = f"accepted {description['accepted']}" if description.get("accepted") else description["build"]
            print(
                f"{folder.name}: {len(description['new_files'])} file(s), "
                f"{len(description['documents'])} document(s), build {state}"
            )
        return 0
    if argv[:1] == ["accept"] and len(argv) == 2 and argv[1]:
        try:
            print(accept(candidates_dir() / argv[1], raw_dir(), outputs_dir()))
        except ManifestError as exc:
            print(f"make accept: {exc}", file=sys.stderr)
            return 1
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
