"""Versions that mean something: a new calendar version only when the published data changed.

The previous package in outputs/ is compared with the one just built, table by table (rows, sha256
of the CSV, and its schema). Unchanged: the previous version and date are kept, so a rebuild with the
same inputs writes byte-identical files. Changed: the version becomes the release date (YYYY.MM.DD,
with a .N suffix for a second release on the same day) and CHANGELOG.md gets an entry naming each
table that changed, opening with why (the maintainer's note in release/notes.yaml), what changed, and whether it
breaks a reader's code (computed from the schemas).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from dataclasses import dataclass
from pathlib import Path

import yaml

CHANGELOG_HEADER = (
    "# Changelog\n\n"
    "Every release of the data package, newest first. A release is made only when published data or a "
    "table's schema changed; a rebuild from unchanged inputs keeps the version. Every version and the sha256 of "
    "its data: versions.csv.\n"
)


@dataclass(frozen=True)
class TableState:
    rows: int
    sha256: str
    schema: str  # the table schema as canonical JSON


@dataclass(frozen=True)
class Release:
    version: str
    date: str
    changes: list[tuple[str, TableState | None, TableState | None]]  # (table, before, after)

    @property
    def is_new(self) -> bool:
        return bool(self.changes)


@functools.lru_cache(maxsize=64)
def count_rows(data: bytes) -> int:
    """Data rows of a CSV (a quoted cell may hold a line break). A table's bytes are counted once per run,
    though the card, the release decision and the changelog all ask."""
    if b'"' not in data:
        return data.count(b"\n") - 1
    # A line break is inside a quoted cell while an odd number of quotes has been seen ("" inside a cell is two):
    # the records as csv.reader counts them, without decoding a million rows into Python strings and lists.
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    records, quoted = 0, False
    for line in lines:
        if line.count(b'"') % 2:
            quoted = not quoted
        records += not quoted
    return records - 1


def table_states(descriptor: dict, files: dict[str, bytes]) -> dict[str, TableState]:
    return {
        r["name"]: TableState(
            rows=count_rows(files[r["path"]]),
            sha256=r["hash"].removeprefix("sha256:"),
            schema=json.dumps(r["schema"], sort_keys=True),
        )
        for r in descriptor["resources"]
    }


def previous_package(outputs: Path) -> tuple[dict | None, dict[str, bytes]]:
    """The published descriptor and its CSVs, or (None, {}) before the first release."""
    path = outputs / "datapackage.json"
    if not path.is_file():
        return None, {}
    descriptor = json.loads(path.read_text(encoding="utf-8"))
    files = {}
    for resource in descriptor["resources"]:
        data_path = outputs / resource["path"]
        files[resource["path"]] = data_path.read_bytes() if data_path.is_file() else b""
    return descriptor, files


def decide_release(
    previous: dict | None,
    previous_files: dict[str, bytes],
    built: dict,
    built_files: dict[str, bytes],
    today: dt.date,
    taken: frozenset[str] = frozenset(),
) -> Release:
    """`taken`: versions already released (the ledger); a new version is never one of them."""
    before = table_states(previous, previous_files) if previous else {}
    after = table_states(built, built_files)
    changes = [
        (name, before.get(name), after.get(name))
        for name in sorted(set(before) | set(after))
        if before.get(name) != after.get(name)
    ]
    previous_version = (previous or {}).get("version")
    if previous and previous_version and not changes:
        return Release(previous_version, previous["created"][:10], [])
    if not changes:  # a package from before versioning: its tables count as new in the first entry
        changes = [(name, None, state) for name, state in sorted(after.items())]
    return Release(next_version(previous_version, today, taken), today.isoformat(), changes)


def next_version(previous: str | None, today: dt.date, taken: frozenset[str] = frozenset()) -> str:
    base = today.strftime("%Y.%m.%d")
    if previous is None or not previous.startswith(base):
        version = base
    else:
        suffix = previous.removeprefix(base).lstrip(".")
        version = f"{base}.{int(suffix or 1) + 1}"
    while version in taken:  # a version released before (on another branch, or before outputs/ was reset)
        suffix = version.removeprefix(base).lstrip(".")
        version = f"{base}.{int(suffix or 1) + 1}"
    return version


NOTES_NAME = "notes.yaml"


class NotesInvalid(ValueError):
    """release/notes.yaml cannot be read as declared; the message names the file, the entry and the value."""


def release_note(path: Path, replaces: str | None) -> str | None:
    """The maintainer's note for the release that replaces version `replaces`, from release/notes.yaml.

    Keyed by the version being replaced, as release/acknowledged.yaml is: the maintainer knows it before the build
    computes the new version, and an entry matches that one release only, so a note never explains a later one."""
    if not path.is_file():
        return None
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise NotesInvalid(f"{path}: not valid YAML ({exc})") from exc
    entries = document.get("notes") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise NotesInvalid(f"{path}: expected a list under 'notes:'")
    found = None
    for i, entry in enumerate(entries, start=1):
        if not (isinstance(entry, dict) and set(entry) == {"replaces", "note"}):
            raise NotesInvalid(f"{path}: notes entry {i} must have exactly 'replaces' and 'note', got {entry!r}")
        if not (isinstance(entry["note"], str) and entry["note"].strip()):
            raise NotesInvalid(f"{path}: notes entry {i} (replaces {entry['replaces']!r}): 'note' must be text")
        if str(entry["replaces"]) == replaces:
            if found is not None:
                raise NotesInvalid(f"{path}: more than one note replaces {replaces!r} (entry {i})")
            found = " ".join(entry["note"].split())
    return found


def breaking_changes(name: str, before: TableState | None, after: TableState | None) -> list[str]:
    """What in a table's change breaks a reader's code: a table or column gone (a rename is a column gone and one
    added), a key changed, a column's type or unit changed. New tables and columns break nothing."""
    if before is None:
        return []
    if after is None:
        return [f"`{name}` removed"]
    old, new = json.loads(before.schema), json.loads(after.schema)
    old_fields = {f["name"]: f for f in old["fields"]}
    new_fields = {f["name"]: f for f in new["fields"]}
    found = [f"`{name}.{column}` removed or renamed" for column in old_fields if column not in new_fields]
    if old.get("primaryKey") != new.get("primaryKey"):
        found.append(f"`{name}` key {old.get('primaryKey')} -> {new.get('primaryKey')}")
    for column in (c for c in old_fields if c in new_fields):
        for attribute in ("type", "unit"):
            was, now = old_fields[column].get(attribute), new_fields[column].get(attribute)
            if was != now:
                found.append(f"`{name}.{column}` {attribute} {was or 'none'} -> {now or 'none'}")
    return found


def _summary(release: Release, note: str | None, replaces: str | None) -> str:
    """What changed and why, in a few sentences: the maintainer's note, then what the comparison computed."""
    why = note or (
        f"No release note was given (release/{NOTES_NAME} has no entry replacing {replaces})."
        if replaces
        else "The first release."
    )
    kinds = {"new": 0, "removed": 0, "data": 0, "schema": 0}
    for _, before, after in release.changes:
        key = "new" if before is None else "removed" if after is None else "data"
        key = "schema" if key == "data" and before and after and before.sha256 == after.sha256 else key
        kinds[key] += 1
    words = {"new": "new", "removed": "removed", "data": "with changed data", "schema": "with only its schema changed"}
    what = "; ".join(f"{n} table{'s' * (n > 1)} {words[k]}" for k, n in kinds.items() if n)
    breaking = [b for name, before, after in release.changes for b in breaking_changes(name, before, after)]
    marked = (
        "**Breaking:** " + "; ".join(breaking) + "."
        if breaking
        else "Not breaking: no table or column removed or renamed, no key, type or unit changed."
    )
    return f"{why} Changed: {what}. {marked} Row by row: RELEASE_DIFF.md and release_diff.csv."


def changelog(previous_text: str | None, release: Release, note: str | None = None, replaces: str | None = None) -> str:
    """The changelog with this release's entry on top (unchanged when there is no new release). `note`: the
    maintainer's why (release_note); `replaces`: the version this release replaces."""
    if not release.is_new and previous_text is not None:
        return previous_text
    earlier = ""
    if previous_text and "\n## " in previous_text:
        earlier = previous_text[previous_text.index("\n## ") + 1 :]
    lines = [
        f"## {release.version} ({release.date})",
        "",
        _summary(release, note, replaces),
        "",
        "| table | change | rows before | rows after | sha256 before | sha256 after |",
        "|---|---|---|---|---|---|",
    ]
    for name, before, after in release.changes:
        if before is None:
            change = "new table"
        elif after is None:
            change = "removed"
        elif before.sha256 == after.sha256:
            change = "schema changed"
        else:
            change = "data changed" + (" and schema changed" if before.schema != after.schema else "")
        lines.append(
            f"| {name} | {change} | {_or_dash(before, 'rows')} | {_or_dash(after, 'rows')} "
            f"| {_short(before)} | {_short(after)} |"
        )
    entry = "\n".join(lines) + "\n"
    return CHANGELOG_HEADER + "\n" + entry + ("\n" + earlier if earlier else "")


def _or_dash(state: TableState | None, field: str) -> str:
    return "—" if state is None else str(getattr(state, field))


def _short(state: TableState | None) -> str:
    return "—" if state is None else f"`{state.sha256[:12]}`"
