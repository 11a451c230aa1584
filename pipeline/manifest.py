"""The manifest raw/sources.yaml: what each raw file is, where it came from, and its checksum."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

import yaml

MANIFEST_NAME = "sources.yaml"

_SOURCE_FIELDS = (
    "source_id",
    "title",
    "publisher",
    "url",
    "date_published",
    "date_as_stated",
    "licence",
    "kind",
    "notes",
    "archive_url",
    "url_note",
    "verification",
    "checked_on",
    "check_method",
)
VERIFICATIONS = ("verified", "not_rechecked", "contradicted")
_FILE_FIELDS = (
    "file_id",
    "path",
    "source_id",
    "title",
    "date_retrieved",
    "transcribed_from",
    "verified",
    "funding_layout",
    "table_layout",
    "edition_date",
    "layout_columns",
    "table_options",
    "sha256",
    "bytes",
)
_REQUIRED_SOURCE = ("source_id", "title", "publisher", "url", "licence", "kind")
# A file whose rows each name their source has no file-level source_id.
_REQUIRED_FILE = ("file_id", "path", "title", "date_retrieved", "sha256", "bytes")


class ManifestError(ValueError):
    """The manifest is malformed, or a raw file does not match it. The message names the file."""


@dataclass(frozen=True)
class RawFile:
    file_id: str
    path: str  # relative to raw/
    source_id: str  # "" when every row names its own source
    title: str
    date_retrieved: str
    transcribed_from: str
    verified: str
    funding_layout: dict  # how a funding file's columns map onto a funding report; {} otherwise
    table_layout: str  # a shared layout the file is read with ("ons_pfa_long"), so editions need no code
    edition_date: str  # orders the editions of one series (ISO date); "" for files that are not editions
    layout_columns: dict  # the layout's fields -> this edition's own headings; {} where the layout fixes them
    table_options: dict  # layout settings of this file: header_row, source_table, period_as_published
    sha256: str
    bytes: int


@dataclass(frozen=True)
class Manifest:
    path: Path
    sources: dict[str, dict]
    files: dict[str, RawFile]

    @property
    def raw_dir(self) -> Path:
        return self.path.parent

    def file(self, file_id: str) -> RawFile:
        if file_id not in self.files:
            raise ManifestError(f"{self.path}: no file entry with file_id {file_id!r}")
        return self.files[file_id]

    def editions(self, layout: str) -> list[RawFile]:
        """The files read with a shared layout (every edition of one kind of table)."""
        return [f for f in self.files.values() if f.table_layout == layout]

    def source_of(self, file_id: str) -> dict | None:
        source_id = self.file(file_id).source_id
        return self.sources[source_id] if source_id else None

    def unlisted_files(self) -> list[str]:
        """Files under raw/ that no manifest entry names (the manifest itself aside)."""
        listed = {f.path for f in self.files.values()} | {MANIFEST_NAME}
        on_disk = {p.relative_to(self.raw_dir).as_posix() for p in self.raw_dir.rglob("*") if p.is_file()}
        return sorted(on_disk - listed)


def load_manifest(raw_dir: Path) -> Manifest:
    """Read and check the manifest's structure; every problem names the manifest and the entry.

    Every asset of a run reads the manifest; parsing it (~0.1 s) happens once per content.
    """
    path = raw_dir / MANIFEST_NAME
    if not path.is_file():
        raise ManifestError(f"{path}: manifest not found")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{path}: not readable YAML: {exc}") from exc
    return _parse_manifest(path, text)


@functools.lru_cache(maxsize=8)
def _parse_manifest(path: Path, text: str) -> Manifest:
    raw_dir = path.parent
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ManifestError(f"{path}: not readable YAML: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("sources"), list) or not isinstance(doc.get("files"), list):
        raise ManifestError(f"{path}: expected top-level lists 'sources' and 'files'")

    sources: dict[str, dict] = {}
    for n, entry in enumerate(doc["sources"], start=1):
        where = f"{path}: sources entry {n}"
        entry = _check_entry(entry, where, _SOURCE_FIELDS, _REQUIRED_SOURCE)
        if entry["source_id"] in sources:
            raise ManifestError(f"{where}: duplicate source_id {entry['source_id']!r}")
        entry["date_published"] = _iso_date(entry.get("date_published"), f"{where}, date_published")
        entry["checked_on"] = _iso_date(entry.get("checked_on"), f"{where}, checked_on")
        entry["verification"] = entry.get("verification") or "not_rechecked"
        if entry["verification"] not in VERIFICATIONS:
            raise ManifestError(f"{where}: verification must be one of {', '.join(VERIFICATIONS)}")
        if entry["verification"] != "not_rechecked" and not (entry["checked_on"] and entry.get("check_method")):
            raise ManifestError(f"{where}: a {entry['verification']} source needs checked_on and check_method")
        sources[entry["source_id"]] = entry

    files: dict[str, RawFile] = {}
    resolved_raw = raw_dir.resolve()
    for n, entry in enumerate(doc["files"], start=1):
        where = f"{path}: files entry {n}"
        entry = _check_entry(entry, where, _FILE_FIELDS, _REQUIRED_FILE)
        if entry["file_id"] in files:
            raise ManifestError(f"{where}: duplicate file_id {entry['file_id']!r}")
        if entry["source_id"] and entry["source_id"] not in sources:
            raise ManifestError(f"{where}: source_id {entry['source_id']!r} is not in the sources list")
        target = (raw_dir / entry["path"]).resolve()
        if Path(entry["path"]).is_absolute() or not target.is_relative_to(resolved_raw):
            raise ManifestError(f"{where}: path {entry['path']!r} escapes {raw_dir}")
        if not isinstance(entry["bytes"], int) or entry["bytes"] < 0:
            raise ManifestError(f"{where}: bytes must be a whole number, got {entry['bytes']!r}")
        entry["date_retrieved"] = _iso_date(entry["date_retrieved"], f"{where}, date_retrieved")
        layout = entry.get("funding_layout") or {}
        if not isinstance(layout, dict) or not isinstance(layout.get("columns", {}), dict):
            raise ManifestError(f"{where}: funding_layout must map 'columns' to funding report fields")
        each_year = layout.get("each_year_rows", {})
        if not isinstance(each_year, dict) or not all(isinstance(r, int) and r >= 2 for r in each_year):
            raise ManifestError(f"{where}: funding_layout each_year_rows must map row numbers (2 or more) to evidence")
        entry["edition_date"] = _iso_date(entry.get("edition_date"), f"{where}, edition_date")
        columns = entry.get("layout_columns") or {}
        if not isinstance(columns, dict) or not all(isinstance(v, str) and v for v in columns.values()):
            raise ManifestError(f"{where}: layout_columns must map each field to a column heading")
        options = entry.get("table_options") or {}
        if not isinstance(options, dict) or not isinstance(options.get("header_row", 1), int):
            raise ManifestError(f"{where}: table_options must be a mapping, with header_row a whole number")
        values = {k: entry.get(k) or "" for k in _FILE_FIELDS}
        files[entry["file_id"]] = RawFile(
            **values
            | {"bytes": entry["bytes"], "funding_layout": layout, "layout_columns": columns, "table_options": options}
        )
    return Manifest(path=path, sources=sources, files=files)


def _check_entry(entry: object, where: str, fields: tuple[str, ...], required: tuple[str, ...]) -> dict:
    if not isinstance(entry, dict):
        raise ManifestError(f"{where}: expected a mapping, got {type(entry).__name__}")
    unknown = sorted(set(entry) - set(fields))
    if unknown:
        raise ManifestError(f"{where}: unknown field(s) {', '.join(unknown)}")
    missing = [f for f in required if entry.get(f) in (None, "")]
    if missing:
        raise ManifestError(f"{where}: missing {', '.join(missing)}")
    return {f: entry.get(f) for f in fields}


def _iso_date(value: object, where: str) -> str:
    """YAML reads 2023-08-29 as a date; keep dates as ISO strings, blank when unknown."""
    if value in (None, ""):
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    try:
        return dt.date.fromisoformat(str(value)).isoformat()
    except ValueError as exc:
        raise ManifestError(f"{where}: {value!r} is not an ISO date (YYYY-MM-DD)") from exc


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_file(manifest: Manifest, file_id: str) -> Path:
    """The raw file's path, after checking it exists and matches the manifest's size and sha256."""
    entry = manifest.file(file_id)
    path = manifest.raw_dir / entry.path
    if not path.is_file():
        raise ManifestError(f"{path}: file listed in the manifest ({file_id}) is missing")
    actual = sha256_of(path)
    if actual != entry.sha256:
        raise ManifestError(
            f"{path}: sha256 {actual} does not match the manifest's {entry.sha256}; "
            "a raw file is never edited in place: add a new file with its own manifest entry"
        )
    size = path.stat().st_size
    if size != entry.bytes:
        raise ManifestError(f"{path}: {size} bytes, the manifest says {entry.bytes}")
    return path
