"""The version ledger: every released version and the checksum of the data it named, so a version never names two.

release/versions.csv is committed; the package carries a copy (versions.csv) with the same rows. A row is never
removed: the ledger a build works with is the union of the committed one and the copy in the package it replaces,
and a build whose version is in the ledger with another checksum is refused before anything is written.

The checksum of a version's data is the sha256 of `sha256sum data/*.csv` run in the package's folder (the lines
`<sha256 of the CSV>  data/<table>.csv`, sorted by path): `cd outputs && LC_ALL=C sha256sum data/*.csv | sha256sum`.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from pipeline.release.gate import ReleaseFileError

LEDGER = "versions.csv"
FIELDS = ("version", "released", "data_sha256", "tables", "note")


@dataclass(frozen=True)
class Entry:
    version: str
    released: str
    data_sha256: str
    tables: int
    note: str = ""


def data_checksum(resources: list[dict]) -> str:
    """The checksum of a package's data from its descriptor's resources (each CSV's path and sha256)."""
    lines = [f"{r['hash'].removeprefix('sha256:')}  {r['path']}\n" for r in sorted(resources, key=lambda r: r["path"])]
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def parse(path: Path) -> list[Entry]:
    """The rows of a ledger file, oldest first; a malformed row is named with its line and value."""
    if not path.is_file():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != FIELDS:
            raise ReleaseFileError(f"{path}: header {reader.fieldnames} is not {list(FIELDS)}")
        entries = []
        for line, row in enumerate(reader, start=2):
            if not row["version"] or len(row["data_sha256"] or "") != 64 or not (row["tables"] or "").isdigit():
                raise ReleaseFileError(
                    f"{path}, line {line}: version {row['version']!r}, data_sha256 {row['data_sha256']!r}, tables "
                    f"{row['tables']!r}: each row needs a version, a 64-digit sha256 and a number of tables"
                )
            entries.append(Entry(row["version"], row["released"], row["data_sha256"], int(row["tables"]), row["note"]))
    return entries


def merged(*ledgers: list[Entry]) -> list[Entry]:
    """The rows of every ledger, each (version, checksum) once, in the order first met: nothing any copy recorded is
    lost, so deleting a row from the committed file does not remove a released version."""
    seen: dict[tuple[str, str], Entry] = {}
    for ledger in ledgers:
        for entry in ledger:
            seen.setdefault((entry.version, entry.data_sha256), entry)
    return list(seen.values())


def named(ledger: list[Entry], version: str) -> str | None:
    """The checksum a version names: its last row (a version reused before the ledger has several, oldest first)."""
    rows = [e for e in ledger if e.version == version]
    return rows[-1].data_sha256 if rows else None


def conflict(ledgers: dict[str, list[Entry]], version: str, checksum: str) -> str | None:
    """Why publishing `checksum` as `version` is refused, or None. Each ledger (the committed one, the package's
    copy) is asked on its own: two copies that disagree on a version (two branches that each released it) are a
    conflict, whichever the build matches."""
    for where, entries in ledgers.items():
        recorded = named(entries, version)
        if recorded is not None and recorded != checksum:
            return (
                f"version {version} is in {where} with data sha256 {recorded}; this build's data has sha256 "
                f"{checksum}: a released version never names other data. Find which package {version} is (the row's "
                "note, or git log), restore it to outputs/, and rebuild: changed data is then released as a new version"
            )
    return None


def with_release(ledger: list[Entry], version: str, released: str, checksum: str, tables: int) -> list[Entry]:
    if named(ledger, version) == checksum:
        return ledger
    return [*ledger, Entry(version, released, checksum, tables)]


def to_csv(ledger: list[Entry]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FIELDS)
    writer.writerows((e.version, e.released, e.data_sha256, e.tables, e.note) for e in ledger)
    return out.getvalue().encode("utf-8")
