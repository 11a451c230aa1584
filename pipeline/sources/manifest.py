"""The manifest raw/sources.yaml: what each raw file is, where it came from, and its checksum."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal, TypeVar
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

MANIFEST_NAME = "sources.yaml"

# The layouts a file can be read with (schemas/raw.py makes each one's raw table): a new file in one of them is
# a manifest entry, not code. A funding file says how its columns map onto a report in `funding_layout` instead.
TABLE_LAYOUTS = ("ons_pfa_long", "ons_pfa_workbook", "ons_els_indicator", "ons_wide_table", "ons_mye_workbook")
# How a source's next version is discovered at its publisher (pipeline/sources/fetch.py): one method per kind of
# publisher interface, so a new source to fetch is a manifest entry, not code.
FETCH_METHODS = ("ons_dataset", "govuk_content", "git_file", "parliament_written_questions")
FETCH_FORMATS = ("xlsx", "csv", "ods", "json", "html")
# Whether the bytes we hold were ever compared with the publisher's: fetched from (or byte-identical with) the
# publisher's own file; a third-party copy never compared; a transcription (typed from a page: no bytes to compare).
BYTES_VERIFICATIONS = ("publisher_file", "copy_not_compared", "transcription")


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
    version: str = ""  # the publisher's identifier of this version (edition and file name, commit), when fetched
    fetched_from: str = ""  # the address the bytes were downloaded from, when fetched


@dataclass(frozen=True)
class Manifest:
    path: Path
    sources: dict[str, dict]
    files: dict[str, RawFile]
    fetches: dict[str, FetchSpec] = field(default_factory=dict)  # source_id -> how its next version is fetched

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


def _iso_date(value: object) -> str | None:
    """YAML reads 2023-08-29 as a date and '2023-08-29' as text; both become ISO text. Nothing else is a date
    here (pydantic alone would also take a number of seconds since 1970)."""
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    try:
        return dt.date.fromisoformat(str(value)).isoformat() if isinstance(value, str) else _not_a_date(value)
    except ValueError:
        return _not_a_date(value)


def _not_a_date(value: object):
    raise ValueError(f"{value!r} is not an ISO date (YYYY-MM-DD)")


IsoDate = Annotated[str | None, BeforeValidator(_iso_date)]


def _not_after_today(entry: BaseModel, fields: tuple[str, ...]) -> None:
    """A date that has not happened yet is a typing slip (2099 for 2019) that would be published as fact."""
    today = dt.date.today().isoformat()
    for name in fields:
        value = getattr(entry, name)
        if value and value > today:
            raise ValueError(f"{name}: {value!r} is after today ({today}); a date in the manifest has happened")


def _web_address(value: str | None, name: str) -> None:
    """A source is cited by a web address a reader can open: a `javascript:` or `file:` address published as a
    source's link would run or point at the reader's own machine."""
    if value in (None, ""):
        return
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{name}: {value!r} is not an http(s) address")


Text = Annotated[str, StringConstraints(min_length=1)]


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FetchSpec(_Entry):
    """Where a source's next version is discovered and downloaded: the publisher's discovery method and address,
    and the only hosts a request (or a redirect) may reach."""

    method: str
    address: Text  # the publisher's discovery address (https): dataset page, Content API page, repository, API
    hosts: list[Text] = Field(min_length=1)
    format: str  # what a download must be: an .xlsx workbook, a CSV, an ODS spreadsheet, a JSON or HTML document
    like: str | None = None  # a file read with the layout a new version must be readable with; none: not a table
    folder: str | None = None  # the folder of raw/ a new version lands in
    path: str | None = None  # git_file: the file's path in the repository
    select: str | None = None  # a regular expression choosing among the files the publisher lists
    sheets: list[Text] = []  # sheets a workbook must have (beside those its layout names)
    search_terms: list[Text] = []  # parliament_written_questions: one search per term
    max_megabytes: int = Field(default=100, ge=1)

    @field_validator("method", mode="before")
    @classmethod
    def _method(cls, value: object) -> object:
        if value not in FETCH_METHODS:
            raise ValueError(f"unknown method {value!r} (one of {', '.join(FETCH_METHODS)})")
        return value

    @field_validator("format", mode="before")
    @classmethod
    def _format(cls, value: object) -> object:
        if value not in FETCH_FORMATS:
            raise ValueError(f"unknown format {value!r} (one of {', '.join(FETCH_FORMATS)})")
        return value

    @field_validator("hosts")
    @classmethod
    def _bare_hosts(cls, hosts: list[str]) -> list[str]:
        for host in hosts:
            if not re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+", host):
                raise ValueError(f"{host!r} is not a host name (lower case, no scheme or path)")
        return hosts

    @model_validator(mode="after")
    def _reachable(self) -> FetchSpec:
        parts = urlsplit(self.address)
        if parts.scheme != "https":
            raise ValueError(f"address {self.address!r} is not an https address")
        if parts.hostname not in self.hosts:
            raise ValueError(f"address {self.address!r}: host {parts.hostname!r} is not in hosts {self.hosts}")
        if self.method == "git_file" and not self.path:
            raise ValueError("a git_file fetch needs path (the file's path in the repository)")
        if self.method == "parliament_written_questions" and not self.search_terms:
            raise ValueError("a parliament_written_questions fetch needs search_terms")
        if self.format in ("xlsx", "csv", "ods") and not self.folder:
            raise ValueError(f"a {self.format} fetch needs folder (where a new version lands in raw/)")
        if self.select is not None:
            try:
                re.compile(self.select)
            except re.error as exc:
                raise ValueError(f"select {self.select!r} is not a regular expression: {exc}") from None
        return self


class SourceEntry(_Entry):
    """A public document the data cites."""

    source_id: Text
    title: Text
    publisher: Text
    url: Text
    licence: Text
    kind: Text
    date_published: IsoDate = None
    date_as_stated: str | None = None
    notes: str | None = None
    archive_url: str | None = None
    url_note: str | None = None
    verification: Literal["verified", "not_rechecked", "contradicted"] = "not_rechecked"
    checked_on: IsoDate = None
    check_method: str | None = None
    bytes_verification: Literal[BYTES_VERIFICATIONS] | None = None  # type: ignore[valid-type]
    fetch: FetchSpec | None = None

    @model_validator(mode="after")
    def _checked(self) -> SourceEntry:
        if self.verification != "not_rechecked" and not (self.checked_on and self.check_method):
            raise ValueError(f"a {self.verification} source needs checked_on and check_method")
        _web_address(self.url, "url")
        _web_address(self.archive_url, "archive_url")
        _not_after_today(self, ("date_published", "checked_on"))
        return self


class FundingLayout(_Entry):
    """How a funding file's columns map onto a funding report (pipeline/transform/funding.py)."""

    columns: dict[str, str] = {}
    amount_columns: dict[str, str] = {}
    constants: dict[str, str] = {}
    each_year_rows: dict[Annotated[int, Field(ge=2)], str] = {}


class Sheet(_Entry):
    """One table of an ONS workbook (pipeline/sources/workbooks.py): its sheet and the rows of its parts."""

    name: Text
    group_row: int = Field(ge=1)
    heading_row: int = Field(ge=1)
    unit_row: int | None = Field(default=None, ge=1)
    first_row: int = Field(ge=1)
    last_row: int = Field(ge=1)
    period_as_published: str | None = None
    period_from: Literal["group"] | None = None
    period_format: str | None = None


class TableOptions(_Entry):
    header_row: int = Field(default=1, ge=1)
    source_table: str | None = None
    period_as_published: str | None = None
    sheets: list[Sheet] | None = None


class FileEntry(_Entry):
    """A file in raw/: where it came from, how it is read, and its checksum."""

    file_id: Text
    path: Text
    source_id: str | None = None
    title: Text
    date_retrieved: IsoDate
    transcribed_from: str | None = None
    verified: str | None = None
    funding_layout: FundingLayout | None = None
    table_layout: Literal[TABLE_LAYOUTS] | None = None  # type: ignore[valid-type]
    edition_date: IsoDate = None
    layout_columns: dict[str, Text] = {}
    table_options: TableOptions | None = None
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    bytes: int = Field(ge=0, strict=True)
    version: str | None = None
    fetched_from: str | None = None

    @model_validator(mode="after")
    def _dated(self) -> FileEntry:
        if not self.date_retrieved:
            raise ValueError("date_retrieved is required")
        _web_address(self.fetched_from, "fetched_from")
        _not_after_today(self, ("date_retrieved", "edition_date"))
        return self


def _problems(error: ValidationError) -> str:
    """A pydantic error as a reader wants it: the entry's missing and unknown fields listed together, then
    each other problem with the path to its field ('table_options.sheets.0.heading_row: Field required')."""
    errors = error.errors()
    top = [e for e in errors if e["type"] in ("missing", "extra_forbidden") and len(e["loc"]) == 1]
    missing = [str(e["loc"][0]) for e in top if e["type"] == "missing"]
    unknown = [str(e["loc"][0]) for e in top if e["type"] == "extra_forbidden"]
    parts = [f"missing {', '.join(missing)}"] if missing else []
    parts += [f"unknown field(s) {', '.join(unknown)}"] if unknown else []
    for e in errors:
        if e in top:
            continue
        field = ".".join(str(part) for part in e["loc"])
        message = e["msg"].removeprefix("Value error, ")
        parts.append(f"{field}: {message}" if field else message)
    return "; ".join(parts)


EntryT = TypeVar("EntryT", bound=_Entry)


def _validated(model: type[EntryT], entry: object, where: str) -> EntryT:
    if not isinstance(entry, dict):
        raise ManifestError(f"{where}: expected a mapping, got {type(entry).__name__}")
    try:
        return model.model_validate(entry)
    except ValidationError as exc:
        raise ManifestError(f"{where}: {_problems(exc)}") from None


def _named(entry: object, key: str) -> str:
    """' (file_id ons__pfa_ye_mar2018)': how an analyst finds the entry in a 2,000-line manifest."""
    return f" ({key} {entry[key]})" if isinstance(entry, dict) and entry.get(key) else ""


class _DatesAsText(yaml.CSafeLoader):
    """YAML's own date reading fails on 2026-02-30 before any entry is known; read dates as text, and let
    the models say which entry and field holds an impossible one. On libyaml (PyYAML's wheels carry it), which
    reads the 200 KB manifest five times faster than the pure-Python parser: every build and test reads it."""


_DatesAsText.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@functools.lru_cache(maxsize=8)
def _parse_manifest(path: Path, text: str) -> Manifest:
    """The manifest's entries checked by the models above, then what no single entry can check: unique ids,
    sources that exist, paths inside raw/."""
    raw_dir = path.parent
    try:
        doc = yaml.load(text, Loader=_DatesAsText)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as exc:
        raise ManifestError(f"{path}: not readable YAML: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("sources"), list) or not isinstance(doc.get("files"), list):
        raise ManifestError(f"{path}: expected top-level lists 'sources' and 'files'")

    sources: dict[str, dict] = {}
    fetches: dict[str, tuple[str, FetchSpec]] = {}
    for n, entry in enumerate(doc["sources"], start=1):
        where = f"{path}: sources entry {n}" + _named(entry, "source_id")
        source = _validated(SourceEntry, entry, where)
        if source.source_id in sources:
            raise ManifestError(f"{where}: duplicate source_id {source.source_id!r}")
        # The fetch block is how to acquire the source, not a fact about it: kept beside the sources, not in them.
        sources[source.source_id] = {
            k: ("" if v is None else v) for k, v in source.model_dump(exclude={"fetch"}).items()
        }
        if source.fetch:
            fetches[source.source_id] = (where, source.fetch)

    files: dict[str, RawFile] = {}
    resolved_raw = raw_dir.resolve()
    for n, entry in enumerate(doc["files"], start=1):
        where = f"{path}: files entry {n}" + _named(entry, "file_id")
        file = _validated(FileEntry, entry, where)
        if file.file_id in files:
            raise ManifestError(f"{where}: duplicate file_id {file.file_id!r}")
        if file.source_id and file.source_id not in sources:
            raise ManifestError(f"{where}: source_id {file.source_id!r} is not in the sources list")
        target = (raw_dir / file.path).resolve()
        if Path(file.path).is_absolute() or not target.is_relative_to(resolved_raw):
            raise ManifestError(f"{where}: path {file.path!r} escapes {raw_dir}")
        layout = file.funding_layout.model_dump() if file.funding_layout else {}
        files[file.file_id] = RawFile(
            file_id=file.file_id,
            path=file.path,
            source_id=file.source_id or "",
            title=file.title,
            date_retrieved=file.date_retrieved or "",
            transcribed_from=file.transcribed_from or "",
            verified=file.verified or "",
            funding_layout=layout,
            table_layout=file.table_layout or "",
            edition_date=file.edition_date or "",
            layout_columns=dict(file.layout_columns),
            table_options=file.table_options.model_dump(exclude_none=True) if file.table_options else {},
            sha256=file.sha256,
            bytes=file.bytes,
            version=file.version or "",
            fetched_from=file.fetched_from or "",
        )
    for n, entry_read in enumerate(files.values(), start=1):
        for where_in_entry, period in _periods(entry_read):
            if problem := _period_mismatch(period, entry_read.edition_date):
                raise ManifestError(
                    f"{path}: files entry {n} (file_id {entry_read.file_id}): {where_in_entry} {period!r}: {problem}"
                )
    for where, fetch in fetches.values():
        if fetch.like and fetch.like not in files:
            raise ManifestError(f"{where}: fetch.like {fetch.like!r} is not a file_id of the files list")
    return Manifest(
        path=path, sources=sources, files=files, fetches={source_id: spec for source_id, (_, spec) in fetches.items()}
    )


MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_YEAR_ENDING = re.compile(rf"year ending ({'|'.join(MONTHS)}) (\d{{2}}|\d{{4}})")


def _periods(file: RawFile) -> list[tuple[str, str]]:
    """The period wordings an entry gives its cells: the file's, and each sheet's."""
    options = file.table_options
    found = []
    if options.get("period_as_published"):
        found.append(("table_options.period_as_published", options["period_as_published"]))
    for i, sheet in enumerate(options.get("sheets") or []):
        if sheet.get("period_as_published"):
            found.append((f"table_options.sheets.{i}.period_as_published", sheet["period_as_published"]))
    return found


def _period_mismatch(period: str, edition_date: str) -> str | None:
    """An edition's period ends where its edition_date says (the end of the reference year in its title): a period
    copied from the model edition (`manifest_tool add --like`) and left unchanged would label every cell wrongly."""
    match = _YEAR_ENDING.fullmatch(period)
    if not match or not edition_date:
        return None
    year = int(match[2]) + (2000 if len(match[2]) == 2 else 0)
    date = dt.date.fromisoformat(edition_date)
    if (MONTHS.index(match[1]) + 1, year) == (date.month, date.year):
        return None
    return (
        f"the period ends in {match[1]} {year}, but edition_date is {edition_date}: give this edition's own period "
        "(as its workbook prints it), or correct edition_date"
    )


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
            f"{path}: sha256 {actual} does not match the manifest's {entry.sha256} (file_id {file_id}); "
            "a raw file is never edited in place: add a new file with its own manifest entry"
        )
    size = path.stat().st_size
    if size != entry.bytes:
        raise ManifestError(f"{path}: {size} bytes, the manifest says {entry.bytes}")
    return path


def verify_all(manifest: Manifest) -> list[str]:
    """Every manifest entry checked against its file, not only the files read as tables: a metadata JSON or a
    lookup goes into the release archive too, so an edited one must stop the build like an edited table."""
    problems = []
    for file_id in manifest.files:
        try:
            verify_file(manifest, file_id)
        except ManifestError as exc:
            problems.append(str(exc))
    return problems
