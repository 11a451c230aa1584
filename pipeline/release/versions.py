"""Versions that mean something: a new calendar version only when the published data changed.

The previous package in outputs/ is compared with the one just built, table by table (rows, sha256
of the CSV, and its schema). Unchanged: the previous version and date are kept, so a rebuild with the
same inputs writes byte-identical files. Changed: the version becomes the release date (YYYY.MM.DD,
with a .N suffix for a second release on the same day) and CHANGELOG.md gets an entry naming each
table that changed.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from dataclasses import dataclass
from pathlib import Path

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


def changelog(previous_text: str | None, release: Release) -> str:
    """The changelog with this release's entry on top (unchanged when there is no new release)."""
    if not release.is_new and previous_text is not None:
        return previous_text
    earlier = ""
    if previous_text and "\n## " in previous_text:
        earlier = previous_text[previous_text.index("\n## ") + 1 :]
    lines = [
        f"## {release.version} ({release.date})",
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
