"""`make fetch`: every source the manifest declares a `fetch:` block for, fetched from its publisher and checked.

For each source the declared method discovers the newest version at the publisher (never a file name built by
hand): an ONS dataset page's `/data` listing and its newest edition's downloads, a GOV.UK Content API page's
attachments, the newest commit of a file in a public git repository, or Parliament's written-questions search.
Requests are conditional (the ETag and Last-Modified of each listing are kept in fetch_state.json beside raw/: a
`304` costs nothing), bounded in time (per read and per download), retried with backoff on 5xx and timeouts,
limited in size, and only to the hosts the block declares (a redirect elsewhere is refused).

A download goes to a temporary folder and is checked before it goes anywhere: the format the block says (an
.xlsx is a zip workbook with the expected sheets, not an HTML page), the layout of the file the block names in
`like` (the raw layer's own readers), and the raw layer's blocking schema check. What passes becomes a candidate
(pipeline/sources/candidates.py): nothing in raw/, the manifest or outputs/ changes until a person accepts it.
A failure ends with a few lines naming the source, the address and what was wrong, and leaves every file as it
was. SV_FETCH_MIRROR=http://127.0.0.1:PORT sends a request for https://HOST/PATH?QUERY to
http://127.0.0.1:PORT/HOST/PATH?QUERY (proxies, archives, tests); nothing else changes.

    python -m pipeline.sources.fetch [--source SOURCE_ID ...] [--refresh]
"""

from __future__ import annotations

import argparse
import calendar
import dataclasses
import json
import os
import re
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urljoin, urlsplit

import requests

from pipeline.sources import workbooks
from pipeline.sources.csvfile import RawFileError, read_raw_csv
from pipeline.sources.manifest import FetchSpec, Manifest, ManifestError, RawFile, load_manifest, sha256_of
from pipeline.validation import validate
from schemas.raw import layout_tables

STATE_NAME = "fetch_state.json"
REDIRECTS = (301, 302, 303, 307, 308)
MONTHS = {name.lower(): number for number, name in enumerate(calendar.month_name) if name}
CHUNK = 1 << 16


class FetchError(Exception):
    """A fetch that failed: the source, the address and what was wrong, in a few lines."""

    def __init__(self, source_id: str, address: str, problem: str):
        super().__init__(f"fetch {source_id}: {address}\n  {problem}")
        self.source_id, self.address, self.problem = source_id, address, problem


@dataclass(frozen=True)
class Settings:
    timeout: float = 30.0  # seconds to connect, and between two pieces of a response
    download_seconds: float = 600.0  # the whole of one download
    attempts: int = 4  # on a 5xx, a timeout or a dropped connection
    backoff: float = 2.0  # seconds before the second attempt, doubled for each further one
    mirror: str = ""

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            timeout=float(os.environ.get("SV_FETCH_TIMEOUT", cls.timeout)),
            attempts=int(os.environ.get("SV_FETCH_ATTEMPTS", cls.attempts)),
            backoff=float(os.environ.get("SV_FETCH_BACKOFF", cls.backoff)),
            mirror=os.environ.get("SV_FETCH_MIRROR", ""),
        )


def mirrored(url: str, mirror: str) -> str:
    """https://HOST/PATH?QUERY as http://MIRROR/HOST/PATH?QUERY; unchanged without a mirror."""
    if not mirror:
        return url
    parts = urlsplit(url)
    return f"{mirror.rstrip('/')}/{parts.netloc}{parts.path or '/'}" + (f"?{parts.query}" if parts.query else "")


@dataclass
class Response:
    url: str  # the publisher's address finally answered (after redirects), not the mirror's
    status: int
    headers: dict[str, str]
    body: bytes = b""
    path: Path | None = None  # where a download was written

    @property
    def not_modified(self) -> bool:
        return self.status == 304


class Client:
    """HTTP for one source: its declared hosts only, bounded, retried, conditional."""

    def __init__(self, source_id: str, spec: FetchSpec, settings: Settings, state: dict):
        self.source_id, self.spec, self.settings, self.state = source_id, spec, settings, state
        self.session = requests.Session()
        self.session.trust_env = settings.mirror == ""  # a mirror is reached directly, never through a proxy
        self.max_bytes = spec.max_megabytes * 1_000_000

    def fail(self, address: str, problem: str) -> FetchError:
        return FetchError(self.source_id, address, problem)

    def allowed(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme != "https":
            raise self.fail(url, f"refused: not an https address (scheme {parts.scheme!r})")
        if parts.hostname not in self.spec.hosts:
            raise self.fail(
                url, f"refused: host {parts.hostname!r} is not one the manifest declares ({self.spec.hosts})"
            )

    def get(self, url: str, *, conditional: bool = False, to: Path | None = None) -> Response:
        """GET `url` (following redirects on declared hosts only), retried on 5xx and timeouts. With `to`, the body
        is streamed into that file; otherwise it is returned (listings). With `conditional`, the validators kept
        from the last answer are sent and a 304 is returned as such."""
        delay = self.settings.backoff
        for attempt in range(1, self.settings.attempts + 1):
            try:
                return self._get_once(url, conditional, to)
            except _Retry as retry:
                if attempt == self.settings.attempts:
                    raise self.fail(retry.url, f"{retry.problem}; gave up after {attempt} attempts") from None
                time.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")

    def _get_once(self, url: str, conditional: bool, to: Path | None) -> Response:
        headers = {"User-Agent": "serious-violence-data fetch (+make fetch)"}
        kept = self.state.get("validators", {}).get(url, {}) if conditional else {}
        if kept.get("etag"):
            headers["If-None-Match"] = kept["etag"]
        if kept.get("last_modified"):
            headers["If-Modified-Since"] = kept["last_modified"]
        current = url
        for _ in range(6):
            self.allowed(current)
            try:
                answer = self.session.get(
                    mirrored(current, self.settings.mirror),
                    headers=headers,
                    stream=True,
                    allow_redirects=False,  # each hop is checked against the declared hosts first
                    timeout=(self.settings.timeout, self.settings.timeout),
                )
            except requests.Timeout:
                raise _Retry(current, f"no answer within {self.settings.timeout:g} s") from None
            except requests.ConnectionError as exc:
                raise _Retry(current, f"connection failed ({type(exc).__name__})") from None
            with answer:
                if answer.status_code in REDIRECTS and answer.headers.get("Location"):
                    current = urljoin(current, answer.headers["Location"])
                    continue
                if answer.status_code == 304:
                    return Response(current, 304, dict(answer.headers))
                if answer.status_code >= 500:
                    raise _Retry(current, f"HTTP {answer.status_code} from the server")
                if answer.status_code != 200:
                    raise self.fail(current, f"HTTP {answer.status_code} ({answer.reason})")
                body = self._read(current, answer, to)
                response = Response(current, 200, dict(answer.headers), b"" if to else body, to)
                if conditional:
                    self.remember(url, response)
                return response
        raise self.fail(url, "more than 5 redirects")

    def _read(self, url: str, answer: requests.Response, to: Path | None) -> bytes:
        """The body, within the size limit and the download's time, and as long as the server said it is."""
        declared = answer.headers.get("Content-Length")
        expected = int(declared) if declared and declared.isdigit() else None
        if expected is not None and expected > self.max_bytes:
            raise self.fail(url, f"refused: {expected} bytes, over the limit of {self.spec.max_megabytes} MB")
        started, received, parts = time.monotonic(), 0, []
        out = to.open("wb") if to else None
        try:
            for chunk in answer.raw.stream(CHUNK, decode_content=True):
                received += len(chunk)
                if received > self.max_bytes:
                    raise self.fail(url, f"refused: over the limit of {self.spec.max_megabytes} MB")
                if time.monotonic() - started > self.settings.download_seconds:
                    raise _Retry(url, f"download took longer than {self.settings.download_seconds:g} s")
                if out:
                    out.write(chunk)
                else:
                    parts.append(chunk)
        except requests.Timeout:
            raise _Retry(url, f"the body stopped for more than {self.settings.timeout:g} s") from None
        except Exception as exc:  # urllib3 reports a body cut short in several ways (ProtocolError, IncompleteRead)
            if isinstance(exc, FetchError | _Retry):
                raise
            if "timed out" in str(exc).lower():
                raise _Retry(url, f"the body stopped for more than {self.settings.timeout:g} s") from None
            raise _Retry(url, f"the body was cut short after {received} bytes ({type(exc).__name__})") from None
        finally:
            if out:
                out.close()
        # Compressed bodies are counted after decoding; the declared length is checked when nothing was encoded.
        if expected is not None and not answer.headers.get("Content-Encoding") and received != expected:
            raise _Retry(url, f"the body was cut short: {received} of the {expected} bytes announced")
        return b"".join(parts)

    def remember(self, url: str, response: Response) -> None:
        validators = {
            "etag": response.headers.get("ETag", ""),
            "last_modified": response.headers.get("Last-Modified", ""),
        }
        if any(validators.values()):
            self.state.setdefault("validators", {})[url] = validators

    def json(self, url: str, *, conditional: bool = False) -> dict | list | None:
        """A listing as JSON; None when it has not changed (304)."""
        response = self.get(url, conditional=conditional)
        if response.not_modified:
            return None
        try:
            return json.loads(response.body)
        except ValueError:
            start = response.body[:60].decode("utf-8", "replace").strip()
            raise self.fail(url, f"not JSON: the answer starts {start!r}") from None


class _Retry(Exception):
    def __init__(self, url: str, problem: str):
        super().__init__(problem)
        self.url, self.problem = url, problem


# Discovery ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Version:
    """One version the publisher lists: what identifies it, where it is downloaded from, and what it is."""

    version_id: str
    download: str  # the publisher's download address (resolved from the listing on every run)
    file_name: str  # as the publisher lists it
    label: str  # "year ending December 2019", a commit date, a page's update time
    page_url: str  # the publisher's own address for this version (the new source's url)
    date_published: str = ""
    edition_date: str = ""
    period: str = ""  # the period the edition's tables print ("year ending December 2019")
    document: str = ""  # a document to transcribe (a page's HTML, an answer's text), not a file to download


def edition_of(text: str) -> tuple[str, str]:
    """('year ending December 2019', '2019-12-31') from 'yearendingdecember2019' or 'Year ending December 2019';
    ('mid-2023', '2023-06-30') from 'mid2023'; ('', '') when the edition names no period."""
    flat = re.sub(r"[^a-z0-9]", "", text.lower())
    if match := re.search(r"yearending([a-z]+?)(\d{4})$", flat):
        month = MONTHS.get(match[1]) or next((n for m, n in MONTHS.items() if m.startswith(match[1])), None)
        if month:
            year = int(match[2])
            last = calendar.monthrange(year, month)[1]
            return f"year ending {calendar.month_name[month]} {year}", f"{year}-{month:02d}-{last:02d}"
    if match := re.search(r"mid(\d{4})", flat):
        return f"mid-{match[1]}", f"{match[1]}-06-30"
    return "", ""


def wanted(spec: FetchSpec, name: str) -> bool:
    suffix = {"xlsx": ".xlsx", "csv": ".csv", "ods": ".ods", "json": ".json", "html": ".html"}[spec.format]
    if spec.select:
        return re.search(spec.select, name) is not None
    return name.lower().endswith(suffix)


# Editions an ONS dataset fetch walks back through in one run: a first run brings every edition after the newest
# held (quarterly since December 2019: about 22), a bounded number of downloads.
MAX_EDITIONS = 40


def discover_ons_dataset(client: Client, spec: FetchSpec, since: str = "") -> list[Version] | None:
    """The dataset page's /data lists its editions newest first; each edition's /data lists its files. Every edition
    newer than `since` (the newest edition date held in the layout of `like`) is walked back to, the newest first;
    without `since`, the newest alone."""
    listing = client.json(spec.address.rstrip("/") + "/data", conditional=True)
    if listing is None:
        return None
    datasets = listing.get("datasets") if isinstance(listing, dict) else None
    if not datasets or not isinstance(datasets[0], dict) or not datasets[0].get("uri"):
        raise client.fail(spec.address + "/data", "no editions listed (expected datasets[0].uri)")
    versions: list[Version] = []
    for n, dataset in enumerate(datasets[:MAX_EDITIONS]):
        uri = str(dataset.get("uri", "")) if isinstance(dataset, dict) else ""
        edition_date = edition_of(uri.rsplit("/", 1)[-1])[1]
        # The newest edition is always read (a correction re-issues it under a new file name); an older one only
        # while it is newer than every edition held.
        if n and (not uri or not since or not edition_date or edition_date <= since):
            break
        versions += ons_edition_files(client, spec, uri) or []
    return versions or None


def ons_edition_files(client: Client, spec: FetchSpec, edition_uri: str) -> list[Version] | None:
    """The files one edition's /data lists, as versions (None: its listing answered 304)."""
    host = f"https://{urlsplit(spec.address).netloc}"
    edition = client.json(host + edition_uri + "/data", conditional=True)
    if edition is None:
        return None
    if not isinstance(edition, dict):
        raise client.fail(host + edition_uri + "/data", "expected a JSON object")
    description = edition.get("description") or {}
    period, edition_date = edition_of(edition_uri.rsplit("/", 1)[-1])
    if not period:
        period, edition_date = edition_of(str(description.get("edition", "")))
    label = str(description.get("edition") or edition_uri.rsplit("/", 1)[-1])
    downloads = edition.get("downloads") or []
    if isinstance(downloads, dict):  # the dataset API's form: downloads.xlsx.href
        files = [str(d.get("href", "")) for d in downloads.values() if isinstance(d, dict)]
        addresses = {urlsplit(f).path.rsplit("/", 1)[-1]: f for f in files if f}
    else:
        names = [str(d.get("file", "")) for d in downloads if isinstance(d, dict)]
        addresses = {n: f"{host}/file?uri={quote(edition_uri + '/' + n, safe='/')}" for n in names if n}
    chosen = {name: url for name, url in addresses.items() if wanted(spec, name)}
    if not chosen:
        raise client.fail(
            host + edition_uri + "/data", f"no {spec.format} file among the downloads {sorted(addresses)}"
        )
    return [
        Version(
            version_id=f"{edition_uri}/{name}",
            download=url,
            file_name=name,
            label=label,
            page_url=url,
            date_published=str(description.get("releaseDate", ""))[:10],
            edition_date=edition_date,
            period=period,
        )
        for name, url in sorted(chosen.items())
    ]


def discover_govuk_content(client: Client, spec: FetchSpec) -> list[Version] | None:
    """The Content API page: its attachments (re-resolved on every run: their addresses change with each upload),
    or, for an HTML page, its body as a document to transcribe."""
    page = client.json(spec.address, conditional=True)
    if page is None:
        return None
    if not isinstance(page, dict) or not isinstance(page.get("details"), dict):
        raise client.fail(spec.address, "not a Content API page (no details)")
    updated = str(page.get("public_updated_at", ""))
    public = "https://www.gov.uk" + str(page.get("base_path", ""))
    if spec.format == "html":
        body = str(page["details"].get("body", ""))
        if not body:
            raise client.fail(spec.address, "the page has no body to transcribe")
        return [Version(updated or "undated", "", "page.html", updated, public, updated[:10], document=body)]
    found = []
    for attachment in page["details"].get("attachments") or []:
        url = str(attachment.get("url", ""))
        name = urlsplit(url).path.rsplit("/", 1)[-1]
        if url and wanted(spec, name):
            found.append(Version(url, url, name, str(attachment.get("title") or name), url, updated[:10]))
    if not found:
        raise client.fail(spec.address, f"no attachment in {spec.format} is listed")
    return found


def discover_git_file(client: Client, spec: FetchSpec) -> list[Version] | None:
    """The newest commit that changed the file, from the repository host's API, and the file at that commit."""
    owner, repo = urlsplit(spec.address).path.strip("/").split("/")[:2]
    assert spec.path
    commits = client.json(
        f"https://api.github.com/repos/{owner}/{repo}/commits?path={quote(spec.path)}&per_page=1", conditional=True
    )
    if commits is None:
        return None
    if not isinstance(commits, list) or not commits or "sha" not in commits[0]:
        raise client.fail(spec.address, f"no commit lists {spec.path}")
    sha = str(commits[0]["sha"])
    date = str(((commits[0].get("commit") or {}).get("committer") or {}).get("date", ""))[:10]
    return [
        Version(
            version_id=sha,
            download=f"https://raw.githubusercontent.com/{owner}/{repo}/{sha}/{spec.path}",
            file_name=spec.path.rsplit("/", 1)[-1],
            label=f"commit {sha[:8]} of {date}",
            page_url=f"https://github.com/{owner}/{repo}/blob/{sha}/{spec.path}",
            date_published=date,
            edition_date=date,
        )
    ]


def discover_parliament(client: Client, spec: FetchSpec) -> list[Version] | None:
    """Answered written questions matching each search term: each answer is a document to transcribe."""
    found: dict[str, Version] = {}
    changed = False
    for term in spec.search_terms:
        listing = client.json(f"{spec.address}?searchTerm={quote(term)}&answered=Answered&take=50", conditional=True)
        if listing is None:
            continue
        changed = True
        for result in (listing.get("results") if isinstance(listing, dict) else None) or []:
            value = result.get("value") or {}
            uin, answered = str(value.get("uin", "")), str(value.get("dateAnswered", ""))[:10]
            if not uin:
                continue
            text = f"<h1>{value.get('heading', '')}</h1>\n<h2>Question</h2>\n{value.get('questionText', '')}\n"
            text += f"<h2>Answer ({answered})</h2>\n{value.get('answerText', '')}\n"
            tabled = str(value.get("dateTabled", ""))[:10]
            page = f"https://questions-statements.parliament.uk/written-questions/detail/{tabled}/{uin}"
            found[f"{uin} {answered}"] = Version(
                f"{uin} {answered}", "", f"{uin}.html", term, page, answered, document=text
            )
    return list(found.values()) if changed else None


DISCOVER: dict[str, Callable[..., list[Version] | None]] = {
    "ons_dataset": discover_ons_dataset,
    "govuk_content": discover_govuk_content,
    "git_file": discover_git_file,
    "parliament_written_questions": discover_parliament,
}


# Checks on arrival --------------------------------------------------------------------------------------------


def check_format(client: Client, spec: FetchSpec, path: Path, url: str) -> None:
    """The bytes are what the manifest says: a zip workbook for .xlsx, an ODS spreadsheet, a UTF-8 CSV table."""
    head = path.read_bytes()[:200]
    looks_html = head.lstrip().lower().startswith((b"<!doctype html", b"<html", b"<?xml"))
    shown = head[:40].decode("utf-8", "replace").strip()
    if spec.format in ("xlsx", "ods"):
        if not zipfile.is_zipfile(path):
            kind = "an HTML page" if looks_html else "not a zip file"
            raise client.fail(url, f"not an .{spec.format} workbook: {kind} (it starts {shown!r})")
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if spec.format == "xlsx" and "xl/workbook.xml" not in names:
                raise client.fail(url, "not an .xlsx workbook: a zip file without xl/workbook.xml")
            if spec.format == "ods" and (
                "mimetype" not in names or b"opendocument.spreadsheet" not in archive.read("mimetype")
            ):
                raise client.fail(url, "not an .ods spreadsheet: a zip file without its OpenDocument mimetype")
    elif spec.format == "csv" and looks_html:
        raise client.fail(url, f"not a CSV table: an HTML page (it starts {shown!r})")


def layout_for(spec: FetchSpec, like: RawFile, path: Path, version: Version) -> dict:
    """The layout a new version is read with: the `like` file's, with the edition's own period and, for a
    workbook, its own sheet names where they differ only by trailing spaces (ONS varies them between editions)."""
    if like.table_layout != "ons_pfa_workbook":
        return {}
    options = json.loads(json.dumps(like.table_options))
    book = workbooks.open_workbook(path, data_only=False)
    try:
        by_stripped = {name.strip(): name for name in book.sheetnames}
    finally:
        book.close()
    old_period = like.table_options.get("period_as_published")
    for sheet in options.get("sheets", []):
        sheet["name"] = by_stripped.get(sheet["name"].strip(), sheet["name"])
        if version.period and sheet.get("period_as_published") == old_period:
            sheet["period_as_published"] = version.period
    if version.period and old_period:
        options["period_as_published"] = version.period
    return {"table_options": options}


def check_content(client: Client, spec: FetchSpec, manifest: Manifest, path: Path, version: Version) -> dict:
    """Expected sheets, the `like` file's layout and the raw layer's blocking schema check; returns the layout
    the new file's manifest entry gets."""
    url = version.download
    if spec.format == "xlsx":
        try:
            book = workbooks.open_workbook(path, data_only=False)
        except Exception as exc:  # openpyxl raises many kinds for a damaged workbook
            raise client.fail(url, f"not a readable .xlsx workbook: {exc}") from None
        sheets = book.sheetnames
        book.close()
        missing = [s for s in spec.sheets if s not in sheets]
        if missing:
            raise client.fail(url, f"layout changed: no sheet {', '.join(map(repr, missing))} (sheets: {sheets})")
    if not spec.like:
        return {}
    like = manifest.file(spec.like)
    layout = layout_for(spec, like, path, version)
    entry = dataclasses.replace(like, file_id="fetched", path=version.file_name, **layout)
    try:
        if entry.table_layout == "ons_pfa_workbook":
            frame = workbooks.read_workbook(path, entry.table_options)
        else:
            frame = read_raw_csv(path, entry.table_options.get("header_row", 1))
    except RawFileError as exc:
        problem = str(exc).replace(str(path), version.file_name)
        raise client.fail(url, f"layout changed (read like {spec.like}): {problem}") from None
    (table,) = layout_tables([entry])
    failures = validate(frame, table, version.file_name, raw=True, header_row=entry.table_options.get("header_row", 1))
    if failures:
        shown = "\n  ".join(f.message() for f in failures[:5])
        more = f"\n  … {len(failures) - 5} more" if len(failures) > 5 else ""
        raise client.fail(url, f"fails the raw schema check of {spec.like}'s layout:\n  {shown}{more}")
    return layout


# One source ---------------------------------------------------------------------------------------------------


@dataclass
class Arrival:
    """A new version that passed every check, waiting in a temporary folder to become a candidate."""

    source_id: str
    version: Version
    path: Path | None  # None for a document
    sha256: str = ""
    size: int = 0
    layout: dict = field(default_factory=dict)


def newest_held(manifest: Manifest, spec: FetchSpec) -> str:
    """The newest edition date among the files held in the layout of the block's `like` file ("" without one)."""
    like = manifest.files.get(spec.like or "")
    if like is None:
        return ""
    return max((f.edition_date for f in manifest.files.values() if f.table_layout == like.table_layout), default="")


def held_versions(manifest: Manifest, state: dict, source_id: str) -> set[str]:
    held = {f.version for f in manifest.files.values() if f.version}
    return held | set(state.get("held", {}).get(source_id, {}))


def fetch_source(manifest: Manifest, source_id: str, state: dict, settings: Settings, work: Path) -> Iterator[Arrival]:
    """The new versions of one source, each downloaded into `work` and checked; raises FetchError."""
    spec = manifest.fetches[source_id]
    client = Client(source_id, spec, settings, state)
    if spec.method == "ons_dataset":
        versions = discover_ons_dataset(client, spec, newest_held(manifest, spec))
    else:
        versions = DISCOVER[spec.method](client, spec)
    if versions is None:  # the listing answered 304: nothing new
        return
    held = held_versions(manifest, state, source_id)
    sums = {f.sha256: f.file_id for f in manifest.files.values()}
    for version in versions:
        if version.version_id in held:
            continue
        if version.document:
            yield Arrival(source_id, version, None)
            continue
        path = work / re.sub(r"[^A-Za-z0-9._-]", "_", version.file_name)
        client.get(version.download, to=path)
        check_format(client, spec, path, version.download)
        digest = sha256_of(path)
        if digest in sums:  # the same bytes under a new address: held already, remembered so as not to fetch again
            state.setdefault("held", {}).setdefault(source_id, {})[version.version_id] = sums[digest]
            path.unlink()
            continue
        layout = check_content(client, spec, manifest, path, version)
        yield Arrival(source_id, version, path, digest, path.stat().st_size, layout)


def read_state(raw_dir: Path) -> dict:
    path = state_path(raw_dir)
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def state_path(raw_dir: Path) -> Path:
    return Path(os.environ.get("SV_FETCH_STATE", raw_dir.parent / STATE_NAME))


def write_state(raw_dir: Path, state: dict) -> None:
    path = state_path(raw_dir)
    text = json.dumps(state, indent=2, sort_keys=True) + "\n"
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


@dataclass
class Outcome:
    candidates: list[Path] = field(default_factory=list)
    failures: list[FetchError] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def fetch_all(
    raw_dir: Path,
    outputs_dir: Path,
    candidates_dir: Path,
    *,
    sources: list[str] | None = None,
    settings: Settings | None = None,
    refresh: bool = False,
    build: bool = True,
) -> Outcome:
    """Fetch every declared source (or those named); what passes its checks becomes one candidate. A source that
    fails is reported and leaves nothing behind; the others go on."""
    from pipeline.sources.candidates import make_candidate

    settings = settings or Settings.from_env()
    manifest = load_manifest(raw_dir)
    unknown = sorted(set(sources or []) - set(manifest.fetches))
    if unknown:
        raise ManifestError(f"{manifest.path}: no fetch block for source(s) {', '.join(unknown)}")
    kept = read_state(raw_dir)
    state = json.loads(json.dumps(kept))
    if refresh:
        state.pop("validators", None)
    outcome = Outcome()
    candidates_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fetch-", dir=candidates_dir) as folder:
        arrivals: list[Arrival] = []
        for source_id in sources or list(manifest.fetches):
            trial = json.loads(json.dumps(state))  # a failed source leaves the state as it was
            work = Path(folder) / source_id
            work.mkdir()
            try:
                found = list(fetch_source(manifest, source_id, trial, settings, work))
            except FetchError as error:
                outcome.failures.append(error)
                for leftover in work.iterdir():
                    leftover.unlink()
                continue
            state = trial
            arrivals += found
            if not found:
                outcome.unchanged.append(source_id)
        if arrivals:
            outcome.candidates.append(make_candidate(raw_dir, outputs_dir, candidates_dir, arrivals, build=build))
    if state != kept:  # a run that learnt nothing leaves the committed state file alone
        write_state(raw_dir, state)
    return outcome


def main(argv: list[str]) -> int:
    from pipeline.operations.locations import PROJECT_DIR, outputs_dir, raw_dir

    parser = argparse.ArgumentParser(prog="python -m pipeline.sources.fetch", description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", action="append", help="a source_id with a fetch block (default: every one)")
    parser.add_argument("--refresh", action="store_true", help="ignore the kept ETag/Last-Modified validators")
    args = parser.parse_args(argv)
    candidates = Path(os.environ.get("SV_CANDIDATES_DIR", PROJECT_DIR / ".state" / "candidates"))
    try:
        outcome = fetch_all(raw_dir(), outputs_dir(), candidates, sources=args.source, refresh=args.refresh)
    except ManifestError as exc:
        print(f"make fetch: {exc}", file=sys.stderr)
        return 1
    for source_id in outcome.unchanged:
        print(f"{source_id}: nothing new")
    for candidate in outcome.candidates:
        print(f"candidate: {candidate / 'CANDIDATE.md'}\n  accept with: make accept CANDIDATE={candidate.name}")
    for error in outcome.failures:
        print(str(error), file=sys.stderr)
    if outcome.failures:
        print(
            f"make fetch: {len(outcome.failures)} source(s) failed; raw/, the manifest and outputs/ are as they were",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
