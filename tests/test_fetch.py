"""`make fetch` against a local server that answers as the publishers do (ONS /data listings, the GOV.UK Content
API, a git host), from the real files in raw/. Each fault leaves raw/, the manifest, outputs/ and the fetch state as
they were, with no temporary file behind, and ends with a message naming the source, the address and the fault."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import openpyxl
import pytest
import yaml

from pipeline.defs.resources import PROJECT_DIR
from pipeline.sources import fetch
from pipeline.sources.manifest import load_manifest
from tests.conftest import snapshot

PFA = "/www.ons.gov.uk/peoplepopulationandcommunity/crimeandjustice/datasets/policeforceareadatatables"
PFA_URI = PFA.removeprefix("/www.ons.gov.uk")
WORKBOOKS = PROJECT_DIR / "raw" / "outcomes" / "workbooks"
DEC2019 = WORKBOOKS / "pfatablesdec19.xlsx"
SEP2019 = WORKBOOKS / "policeforceareatablesyearendingseptember2019.xlsx"
JUN2018 = WORKBOOKS / "policeforceareadatatablesyearendingjune2018corrected.xlsx"
HOMICIDE = PROJECT_DIR / "raw" / "outcomes" / "ons-els-homicide-offences.csv"
FAST = fetch.Settings(timeout=0.5, attempts=3, backoff=0.01)

Answer = tuple[int, dict, bytes]


class Publisher:
    """A local HTTP server: each route (the mirror's /HOST/PATH?QUERY) answers with (status, headers, body) or a
    callable; every request is logged with its conditional headers."""

    def __init__(self):
        self.routes: dict[str, Answer | Callable[[BaseHTTPRequestHandler], Answer | None]] = {}
        self.log: list[tuple[str, str | None]] = []
        publisher = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (the stdlib's name)
                publisher.log.append((self.path, self.headers.get("If-None-Match")))
                route = publisher.routes.get(self.path, (404, {}, b"not found"))
                answer = route(self) if callable(route) else route
                if answer is None:  # the route answered by itself
                    return
                status, headers, body = answer
                self.send_response(status)
                for name, value in {"Content-Length": str(len(body)), **headers}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.mirror = f"http://127.0.0.1:{self.server.server_address[1]}"
        # shutdown() waits for the loop to look again: every 0.05 s, not the default 0.5 s, on every test's teardown.
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def requested(self, part: str) -> int:
        return sum(part in path for path, _ in self.log)


@pytest.fixture
def publisher():
    server = Publisher()
    yield server
    server.server.shutdown()
    server.server.server_close()


def json_answer(value, etag: str | None = None) -> Callable[[BaseHTTPRequestHandler], Answer]:
    """A listing that answers 304 to a request that holds its current ETag."""
    body = json.dumps(value).encode()

    def answer(handler: BaseHTTPRequestHandler) -> Answer:
        if etag and handler.headers.get("If-None-Match") == etag:
            return 304, {"ETag": etag}, b""
        return 200, {"Content-Type": "application/json", **({"ETag": etag} if etag else {})}, body

    return answer


def ons_edition(publisher: Publisher, edition: str, title: str, files: dict[str, bytes]) -> None:
    publisher.routes[f"{PFA}/{edition}/data"] = json_answer(
        {"description": {"edition": title}, "downloads": [{"file": name} for name in files]}
    )
    for name, data in files.items():
        publisher.routes[f"/www.ons.gov.uk/file?uri={PFA_URI}/{edition}/{name}"] = (200, {}, data)


def ons_listing(publisher: Publisher, *editions: str, etag: str | None = None) -> None:
    publisher.routes[f"{PFA}/data"] = json_answer({"datasets": [{"uri": f"{PFA_URI}/{e}"} for e in editions]}, etag)


class Site:
    """A copy of raw/ and outputs/ whose manifest is edited to leave out files the publisher is to bring."""

    def __init__(self, root: Path, drop: tuple[str, ...] = (), like: dict[str, str] | None = None):
        self.root = root
        shutil.copytree(PROJECT_DIR / "raw", root / "raw")
        shutil.copytree(PROJECT_DIR / "outputs", root / "outputs")
        manifest_path = root / "raw" / "sources.yaml"
        text = manifest_path.read_text(encoding="utf-8")
        for file_id in drop:
            entry = re.search(rf"(?ms)^  - file_id: {file_id}\n.*?(?=^  - |\Z)", text)
            assert entry, file_id
            path = re.search(r"(?m)^    path: (\S+)", entry[0])[1]
            (root / "raw" / path).unlink()
            text = text.replace(entry[0], "")
        for old, new in (like or {}).items():
            text = text.replace(f"like: {old}\n", f"like: {new}\n")
        text = self.drop_readings_of(text, drop)
        manifest_path.write_text(text, encoding="utf-8")
        load_manifest(root / "raw")

    def drop_readings_of(self, text: str, drop: tuple[str, ...]) -> str:
        """raw/ before a file arrived has no reading of its footnotes yet: those rows of the notes mapping go too,
        and the mapping's manifest entry follows (the manifest text with its sha256 and bytes)."""
        path = self.root / "raw" / "mappings" / "source_note_coverage.csv"
        lines = path.read_bytes().splitlines(keepends=True)
        kept = b"".join(line for line in lines if line.split(b",", 1)[0].decode() not in drop)
        if len(kept) == sum(map(len, lines)):
            return text
        entry = re.search(r"(?ms)^  - file_id: project__source_note_coverage\n.*?(?=^  - |\Z)", text)
        assert entry
        block = re.sub(r"(?m)^    sha256: \S+", f"    sha256: {hashlib.sha256(kept).hexdigest()}", entry[0])
        block = re.sub(r"(?m)^    bytes: \d+", f"    bytes: {len(kept)}", block)
        path.write_bytes(kept)
        return text.replace(entry[0], block)

    @property
    def raw(self) -> Path:
        return self.root / "raw"

    @property
    def candidates(self) -> Path:
        return self.root / "candidates"

    def state(self) -> dict:
        path = self.root / fetch.STATE_NAME
        return json.loads(path.read_text()) if path.is_file() else {}

    def files(self) -> dict[str, bytes]:
        """raw/, outputs/ and the fetch state: what a failed fetch must leave exactly as it was."""
        state = self.root / fetch.STATE_NAME
        return {
            **{f"raw/{k}": v for k, v in snapshot(self.raw).items()},
            **{f"outputs/{k}": v for k, v in snapshot(self.root / "outputs").items()},
            "state": state.read_bytes() if state.is_file() else b"",
        }

    def fetch(self, publisher: Publisher, source: str, settings: fetch.Settings = FAST) -> fetch.Outcome:
        settings = fetch.Settings(**{**settings.__dict__, "mirror": publisher.mirror})
        return fetch.fetch_all(
            self.raw, self.root / "outputs", self.candidates, sources=[source], settings=settings, build=False
        )


def without_dec2019(tmp_path: Path) -> Site:
    """raw/ before the December 2019 edition: the newest held is September 2019, whose layout a new one must fit."""
    return Site(tmp_path, drop=("ons__pfa_ye_dec2019",), like={"ons__pfa_ye_dec2019": "ons__pfa_ye_sep2019"})


def staged_entry(candidate: Path, path: str) -> dict:
    manifest = yaml.safe_load((candidate / "raw" / "sources.yaml").read_text(encoding="utf-8"))
    return next(f for f in manifest["files"] if f["path"] == path)


def assert_failed_cleanly(site: Site, before: dict, outcome: fetch.Outcome, *parts: str) -> str:
    assert not outcome.candidates
    assert len(outcome.failures) == 1
    message = str(outcome.failures[0])
    for part in parts:
        assert part in message, message
    assert "Traceback" not in message and len(message.splitlines()) <= 8
    assert site.files() == before
    # Nothing half-downloaded stays behind: the fetch's temporary folders are gone with their files.
    assert not [p for p in site.candidates.rglob("*")] if site.candidates.exists() else True
    return message


# The ONS /data listing --------------------------------------------------------------------------------------------


def test_a_new_edition_listed_by_ons_becomes_a_candidate_with_its_manifest_entry(tmp_path, publisher):
    site = without_dec2019(tmp_path)
    before = site.files()
    ons_listing(publisher, "yearendingdecember2019", "yearendingseptember2019")
    ons_edition(
        publisher, "yearendingdecember2019", "Year ending December 2019", {"pfatablesdec19.xlsx": DEC2019.read_bytes()}
    )

    outcome = site.fetch(publisher, "ONS_PFA_TABLES")

    assert not outcome.failures, [str(f) for f in outcome.failures]
    (candidate,) = outcome.candidates
    assert site.files()["raw/sources.yaml"] == before["raw/sources.yaml"]  # raw/ untouched until accepted
    assert {k: v for k, v in site.files().items() if k != "state"} == {k: v for k, v in before.items() if k != "state"}
    entry = staged_entry(candidate, "outcomes/workbooks/pfatablesdec19.xlsx")
    assert entry["sha256"] == hashlib.sha256(DEC2019.read_bytes()).hexdigest()
    assert entry["bytes"] == DEC2019.stat().st_size
    assert entry["version"] == f"{PFA_URI}/yearendingdecember2019/pfatablesdec19.xlsx"
    assert (
        entry["fetched_from"] == f"https://www.ons.gov.uk/file?uri={PFA_URI}/yearendingdecember2019/pfatablesdec19.xlsx"
    )
    assert str(entry["edition_date"]) == "2019-12-31"
    # Read with the September layout, under the edition's own sheet names (ONS varies their trailing spaces).
    assert entry["table_options"]["period_as_published"] == "year ending December 2019"
    assert [s["name"] for s in entry["table_options"]["sheets"]] == ["Table P1", "Table P3", "Table P4  ", "Table P5 "]
    staged = load_manifest(candidate / "raw")
    assert staged.sources[entry["source_id"]]["url"].startswith("https://www.ons.gov.uk/file?uri=")
    assert staged.sources[entry["source_id"]]["bytes_verification"] == "publisher_file"
    assert (candidate / "raw" / "outcomes/workbooks/pfatablesdec19.xlsx").read_bytes() == DEC2019.read_bytes()
    assert "pfatablesdec19.xlsx" in (candidate / "CANDIDATE.md").read_text()


def test_a_first_fetch_walks_back_to_every_edition_after_the_newest_held(tmp_path, publisher):
    """raw/ up to June 2019: the September and December 2019 editions both arrive, newest first, in one candidate;
    the June 2019 edition, held, is not even listed for its files."""
    site = Site(
        tmp_path,
        drop=("ons__pfa_ye_dec2019", "ons__pfa_ye_sep2019"),
        like={"ons__pfa_ye_dec2019": "ons__pfa_ye_jun2019"},
    )
    ons_listing(publisher, "yearendingdecember2019", "yearendingseptember2019", "yearendingjune2019")
    ons_edition(
        publisher, "yearendingdecember2019", "Year ending December 2019", {"pfatablesdec19.xlsx": DEC2019.read_bytes()}
    )
    ons_edition(
        publisher,
        "yearendingseptember2019",
        "Year ending September 2019",
        {SEP2019.name: SEP2019.read_bytes()},
    )

    outcome = site.fetch(publisher, "ONS_PFA_TABLES")

    assert not outcome.failures, [str(f) for f in outcome.failures]
    (candidate,) = outcome.candidates
    dec = staged_entry(candidate, "outcomes/workbooks/pfatablesdec19.xlsx")
    sep = staged_entry(candidate, f"outcomes/workbooks/{SEP2019.name}")
    assert (str(dec["edition_date"]), str(sep["edition_date"])) == ("2019-12-31", "2019-09-30")
    assert sep["table_options"]["period_as_published"] == "year ending September 2019"
    assert publisher.requested("yearendingjune2019/data") == 0


def test_nothing_new_costs_a_304_or_no_download(tmp_path, publisher):
    site = without_dec2019(tmp_path)
    ons_listing(publisher, "yearendingseptember2019", etag='"v1"')
    ons_edition(
        publisher, "yearendingseptember2019", "Year ending September 2019", {SEP2019.name: SEP2019.read_bytes()}
    )

    first = site.fetch(publisher, "ONS_PFA_TABLES")  # the newest edition is one raw/ holds: the same bytes
    assert first.unchanged == ["ONS_PFA_TABLES"] and not first.candidates
    assert publisher.requested("/file?uri=") == 1
    assert site.state()["validators"][f"https://www.ons.gov.uk{PFA_URI}/data"]["etag"] == '"v1"'

    before = site.files()
    second = site.fetch(publisher, "ONS_PFA_TABLES")  # 304: nothing else is asked for
    assert second.unchanged == ["ONS_PFA_TABLES"]
    assert publisher.log[-1] == (f"{PFA}/data", '"v1"')
    assert publisher.requested("/file?uri=") == 1
    assert site.files() == before

    ons_listing(publisher, "yearendingseptember2019")  # no ETag at all: the listing names a version already held
    third = site.fetch(publisher, "ONS_PFA_TABLES")
    assert third.unchanged == ["ONS_PFA_TABLES"] and publisher.requested("/file?uri=") == 1


def test_a_correction_reissued_under_a_new_file_name_is_a_new_version(tmp_path, publisher):
    site = Site(tmp_path, drop=("ons__pfa_ye_jun2018",), like={"ons__pfa_ye_dec2019": "ons__pfa_ye_sep2018"})
    # The first issue of the edition was held (recorded in the fetch state); the correction is listed under its own
    # name, which is read from the listing, never built.
    first_issue = f"{PFA_URI}/yearendingjune2018/policeforceareadatatablesyearendingjune2018.xlsx"
    (site.root / fetch.STATE_NAME).write_text(json.dumps({"held": {"ONS_PFA_TABLES": {first_issue: "earlier"}}}))
    ons_listing(publisher, "yearendingjune2018")
    ons_edition(publisher, "yearendingjune2018", "Year ending June 2018", {JUN2018.name: JUN2018.read_bytes()})

    outcome = site.fetch(publisher, "ONS_PFA_TABLES")

    (candidate,) = outcome.candidates
    entry = staged_entry(candidate, f"outcomes/workbooks/{JUN2018.name}")
    assert entry["version"] == f"{PFA_URI}/yearendingjune2018/{JUN2018.name}"
    assert site.state()["held"]["ONS_PFA_TABLES"] == {first_issue: "earlier"}  # the earlier version stays


def test_a_new_edition_whose_sheet_was_renamed_is_refused(tmp_path, publisher):
    site = without_dec2019(tmp_path)
    book = openpyxl.load_workbook(DEC2019)
    book["Table P3"].title = "Table P3a"  # test fixture: the real workbook with one sheet renamed
    renamed = tmp_path / "renamed.xlsx"
    book.save(renamed)
    ons_listing(publisher, "yearendingdecember2019")
    ons_edition(
        publisher, "yearendingdecember2019", "Year ending December 2019", {"pfatablesdec19.xlsx": renamed.read_bytes()}
    )
    before = site.files()

    outcome = site.fetch(publisher, "ONS_PFA_TABLES")

    assert_failed_cleanly(
        site,
        before,
        outcome,
        "fetch ONS_PFA_TABLES: https://www.ons.gov.uk/file?uri=",
        "layout changed",
        "no sheet 'Table P3'",
    )


def test_an_html_page_served_as_a_workbook_is_refused(tmp_path, publisher):
    site = without_dec2019(tmp_path)
    page = b"<!DOCTYPE html><html><head><title>Service unavailable</title></head><body>Sorry</body></html>"
    ons_listing(publisher, "yearendingdecember2019")
    ons_edition(publisher, "yearendingdecember2019", "Year ending December 2019", {"pfatablesdec19.xlsx": page})
    before = site.files()

    outcome = site.fetch(publisher, "ONS_PFA_TABLES")

    assert_failed_cleanly(site, before, outcome, "pfatablesdec19.xlsx", "not an .xlsx workbook: an HTML page")


@pytest.mark.parametrize(("status", "expected"), [(404, "HTTP 404"), (403, "HTTP 403")])
def test_a_missing_file_is_reported(tmp_path, publisher, status, expected):
    site = without_dec2019(tmp_path)
    ons_listing(publisher, "yearendingdecember2019")
    ons_edition(publisher, "yearendingdecember2019", "Year ending December 2019", {"pfatablesdec19.xlsx": b""})
    publisher.routes[f"/www.ons.gov.uk/file?uri={PFA_URI}/yearendingdecember2019/pfatablesdec19.xlsx"] = (
        status,
        {},
        b"no",
    )
    before = site.files()

    outcome = site.fetch(publisher, "ONS_PFA_TABLES")

    assert_failed_cleanly(site, before, outcome, "fetch ONS_PFA_TABLES", "pfatablesdec19.xlsx", expected)
    assert publisher.requested("/file?uri=") == 1  # a 4xx is not retried


def test_a_server_error_is_retried_with_backoff(tmp_path, publisher):
    site = without_dec2019(tmp_path)
    ons_listing(publisher, "yearendingdecember2019")
    ons_edition(publisher, "yearendingdecember2019", "Year ending December 2019", {})
    answers = iter([(500, {}, b"busy"), (503, {}, b"busy"), (200, {}, DEC2019.read_bytes())])
    publisher.routes[f"{PFA}/yearendingdecember2019/data"] = json_answer(
        {"downloads": [{"file": "pfatablesdec19.xlsx"}]}
    )
    publisher.routes[f"/www.ons.gov.uk/file?uri={PFA_URI}/yearendingdecember2019/pfatablesdec19.xlsx"] = lambda _: next(
        answers
    )

    outcome = site.fetch(publisher, "ONS_PFA_TABLES")

    assert not outcome.failures and len(outcome.candidates) == 1
    assert publisher.requested("/file?uri=") == 3


def test_a_server_error_that_lasts_is_reported_after_the_attempts(tmp_path, publisher):
    site = without_dec2019(tmp_path)
    ons_listing(publisher, "yearendingdecember2019")
    publisher.routes[f"{PFA}/yearendingdecember2019/data"] = (500, {}, b"busy")
    before = site.files()

    outcome = site.fetch(publisher, "ONS_PFA_TABLES")

    assert_failed_cleanly(site, before, outcome, "yearendingdecember2019/data", "HTTP 500", "after 3 attempts")


def test_a_server_that_never_answers_is_given_up_on(tmp_path, publisher):
    site = without_dec2019(tmp_path)
    ons_listing(publisher, "yearendingdecember2019")

    def silent(handler):
        time.sleep(3)  # accepts the connection, says nothing (well past the 0.5 s timeout)
        return None

    publisher.routes[f"{PFA}/yearendingdecember2019/data"] = silent
    before = site.files()

    started = time.monotonic()
    outcome = site.fetch(publisher, "ONS_PFA_TABLES", fetch.Settings(timeout=0.5, attempts=2, backoff=0.01))

    assert time.monotonic() - started < 2.5
    assert_failed_cleanly(site, before, outcome, "yearendingdecember2019/data", "no answer within 0.5 s")


def test_a_body_cut_short_is_refused(tmp_path, publisher):
    site = without_dec2019(tmp_path)
    ons_listing(publisher, "yearendingdecember2019")
    ons_edition(publisher, "yearendingdecember2019", "Year ending December 2019", {"pfatablesdec19.xlsx": b""})
    data = DEC2019.read_bytes()

    def cut(handler):
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data[: len(data) // 2])  # then the connection closes
        handler.close_connection = True
        return None

    publisher.routes[f"/www.ons.gov.uk/file?uri={PFA_URI}/yearendingdecember2019/pfatablesdec19.xlsx"] = cut
    before = site.files()

    outcome = site.fetch(publisher, "ONS_PFA_TABLES")

    assert_failed_cleanly(site, before, outcome, "pfatablesdec19.xlsx", "cut short")


def test_a_redirect_to_another_host_is_refused(tmp_path, publisher):
    site = without_dec2019(tmp_path)
    ons_listing(publisher, "yearendingdecember2019")
    ons_edition(publisher, "yearendingdecember2019", "Year ending December 2019", {"pfatablesdec19.xlsx": b""})
    elsewhere = "https://files.example.org/pfatablesdec19.xlsx"
    publisher.routes[f"/www.ons.gov.uk/file?uri={PFA_URI}/yearendingdecember2019/pfatablesdec19.xlsx"] = (
        302,
        {"Location": elsewhere},
        b"",
    )
    publisher.routes["/files.example.org/pfatablesdec19.xlsx"] = (200, {}, DEC2019.read_bytes())
    before = site.files()

    outcome = site.fetch(publisher, "ONS_PFA_TABLES")

    assert_failed_cleanly(site, before, outcome, elsewhere, "host 'files.example.org' is not one the manifest declares")
    assert publisher.requested("files.example.org") == 0


def test_a_file_over_the_size_limit_is_refused(tmp_path, publisher):
    site = without_dec2019(tmp_path)
    manifest = site.raw / "sources.yaml"
    # The PFA block allows 50 MB; here 0.1 MB, under the real workbook's 211 kB.
    manifest.write_text(manifest.read_text().replace("max_megabytes: 50\n", "max_megabytes: 1\n", 1))
    fetch_spec = load_manifest(site.raw).fetches["ONS_PFA_TABLES"]
    assert fetch_spec.max_megabytes == 1
    big = DEC2019.read_bytes() * 5  # over 1 MB: the limit must stop it (before or while reading)
    ons_listing(publisher, "yearendingdecember2019")
    ons_edition(publisher, "yearendingdecember2019", "Year ending December 2019", {"pfatablesdec19.xlsx": big})
    before = site.files()

    outcome = site.fetch(publisher, "ONS_PFA_TABLES")

    assert_failed_cleanly(site, before, outcome, "pfatablesdec19.xlsx", "over the limit of 1 MB")


# The GOV.UK Content API and a git host ----------------------------------------------------------------------------

ALLOCATIONS = "raw/funding/home-office-serious-violence-funding-allocations-2023-24.csv"


def test_a_govuk_attachment_is_found_through_the_content_api(tmp_path, publisher):
    """The attachment's address is read from the Content API page (it changes with every upload)."""
    site = Site(tmp_path)
    manifest = site.raw / "sources.yaml"
    # Test fixture: the police recorded crime block pointed at a CSV, served as its attachment (a real raw file).
    text = manifest.read_text()
    text = text.replace(
        "      format: ods\n      select: ^prc-pfa-mar2013-onwards-tables-\\d{6}\\.ods$\n", "      format: csv\n"
    )
    manifest.write_text(text)
    assert load_manifest(site.raw).fetches["HO_PRC_OPEN_DATA"].format == "csv"
    data = (PROJECT_DIR / "raw" / "outcomes" / "ons-els-homicide-offences-2025-02-11.csv").read_bytes()
    asset = "https://assets.publishing.service.gov.uk/media/65f1a2b3c4/prc-test-table.csv"
    page = (
        "/www.gov.uk/api/content/government/statistical-data-sets/police-recorded-crime-and-outcomes-open-data-tables"
    )
    publisher.routes[page] = json_answer(
        {
            "base_path": "/government/statistical-data-sets/police-recorded-crime-and-outcomes-open-data-tables",
            "public_updated_at": "2025-02-11T09:30:00Z",
            "details": {"attachments": [{"title": "Open data table", "url": asset}]},
        }
    )
    publisher.routes["/assets.publishing.service.gov.uk/media/65f1a2b3c4/prc-test-table.csv"] = (200, {}, data)

    outcome = site.fetch(publisher, "HO_PRC_OPEN_DATA")

    # The bytes are a file raw/ already holds: recognised by sha256, nothing new, remembered.
    assert outcome.unchanged == ["HO_PRC_OPEN_DATA"] and not outcome.failures
    assert site.state()["held"]["HO_PRC_OPEN_DATA"] == {asset: "ons__homicide_offences_2025_02_11"}


def homicide_repository(publisher: Publisher, sha: str, date: str, data: bytes) -> None:
    path = "homicide-offences/homicide-offences.csv"
    publisher.routes[
        f"/api.github.com/repos/ONSdigital/explore-local-statistics-data/commits?path={path}&per_page=1"
    ] = json_answer([{"sha": sha, "commit": {"committer": {"date": f"{date}T10:00:00Z"}}}])
    publisher.routes[f"/raw.githubusercontent.com/ONSdigital/explore-local-statistics-data/{sha}/{path}"] = (
        200,
        {},
        data,
    )


def before_2025_02_11(tmp_path: Path) -> Site:
    """raw/ without the homicide edition of 2025-02-11, read like the November 2024 edition (the same headings)."""
    return Site(
        tmp_path,
        drop=("ons__homicide_offences_2025_02_11", "ons__homicide_offences_2025_02_11_metadata"),
        like={"ons__homicide_offences_2026_02_11": "ons__homicide_offences_2024_11_27"},
    )


EDITION_2025 = PROJECT_DIR / "raw" / "outcomes" / "ons-els-homicide-offences-2025-02-11.csv"


def test_a_git_hosted_file_at_its_newest_commit(tmp_path, publisher):
    site = before_2025_02_11(tmp_path)
    sha = "a2fea3bcd5a390254ed80a0aa0cd4bc37ab92bb6"  # the commit of the 2025-02-11 edition (its source's url)
    homicide_repository(publisher, sha, "2025-02-11", EDITION_2025.read_bytes())

    outcome = site.fetch(publisher, "ONS_HOMICIDE")

    assert not outcome.failures, [str(f) for f in outcome.failures]
    (candidate,) = outcome.candidates
    entry = staged_entry(candidate, "outcomes/homicide-offences-2025-02-11.csv")
    assert entry["version"] == sha
    assert str(entry["edition_date"]) == "2025-02-11"
    assert entry["layout_columns"]["observation"] == "Observation"
    source = load_manifest(candidate / "raw").sources[entry["source_id"]]
    assert (
        source["url"]
        == f"https://github.com/ONSdigital/explore-local-statistics-data/blob/{sha}/homicide-offences/homicide-offences.csv"
    )


def test_a_git_hosted_file_whose_heading_was_renamed_is_refused(tmp_path, publisher):
    site = before_2025_02_11(tmp_path)
    data = EDITION_2025.read_bytes()
    renamed = data.replace(b"Observation", b"Value", 1)  # test fixture: the real file with one heading renamed
    assert renamed != data
    homicide_repository(publisher, "a2fea3bcd5a390254ed80a0aa0cd4bc37ab92bb6", "2025-02-11", renamed)
    before = site.files()

    outcome = site.fetch(publisher, "ONS_HOMICIDE")

    message = assert_failed_cleanly(
        site, before, outcome, "fetch ONS_HOMICIDE: https://raw.githubusercontent.com/ONSdigital/", "schema"
    )
    assert "Observation" in message


# The fetch in the served stack: an asset of its own job -----------------------------------------------------------


def only_fetching(site: Site, source: str) -> None:
    """The site's manifest with a fetch block for `source` alone (the asset fetches every declared source)."""
    path = site.raw / "sources.yaml"
    text = path.read_text(encoding="utf-8")
    # Edited as text, as the manifest tool writes it: each source's block from its "  - source_id:" line.
    blocks = re.split(r"(?m)^(?=  - source_id: )", text)
    kept = [b if b.startswith(f"  - source_id: {source}\n") else re.sub(r"(?m)^    fetch:\n(?:      .*\n)*", "", b)
            for b in blocks]  # fmt: skip
    path.write_text("".join(kept), encoding="utf-8")
    assert list(load_manifest(site.raw).fetches) == [source]


def materialise_fetch(site: Site, publisher: Publisher, monkeypatch) -> dg.ExecuteInProcessResult:
    from pipeline.defs.acquisition import fetched_candidate
    from pipeline.defs.resources import ProjectPaths

    for name, value in {"SV_FETCH_MIRROR": publisher.mirror, "SV_CANDIDATES_DIR": str(site.candidates)}.items():
        monkeypatch.setenv(name, value)
    paths = ProjectPaths(raw_dir=str(site.raw), outputs_dir=str(site.root / "outputs"))
    return dg.materialize([fetched_candidate], resources={"paths": paths}, raise_on_error=False)


def test_a_failed_fetch_fails_its_run_naming_the_source_and_address_and_changes_nothing(
    tmp_path, publisher, monkeypatch
):
    site = without_dec2019(tmp_path)
    only_fetching(site, "ONS_PFA_TABLES")
    ons_listing(publisher, "yearendingdecember2019")
    ons_edition(publisher, "yearendingdecember2019", "Year ending December 2019", {"pfatablesdec19.xlsx": b""})
    publisher.routes[f"/www.ons.gov.uk/file?uri={PFA_URI}/yearendingdecember2019/pfatablesdec19.xlsx"] = (404, {}, b"")
    before = site.files()

    result = materialise_fetch(site, publisher, monkeypatch)

    assert not result.success  # so the failure sensor posts it (automation.failed_run_webhook monitors this job)
    [failure] = [e.step_failure_data.error.message for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "fetch ONS_PFA_TABLES" in failure and "pfatablesdec19.xlsx" in failure and "HTTP 404" in failure
    assert failure.rstrip().endswith("raw/, the manifest and outputs/ are as they were")
    assert "Traceback" not in failure
    assert site.files() == before
    assert not list(site.candidates.rglob("*.xlsx"))


# Candidate and accept -------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_fetched_edition_is_a_candidate_with_its_diff_and_accept_publishes_it(tmp_path, publisher, monkeypatch):
    """raw/ before the December 2019 edition, published; the edition fetched becomes a candidate (the package it
    would publish, its row-level diff); outputs/ is untouched until `accept` publishes it through the gate."""
    from pipeline.sources import candidates

    site = without_dec2019(tmp_path)
    only_fetching(site, "ONS_PFA_TABLES")
    shutil.rmtree(site.root / "outputs")
    (site.root / "outputs").mkdir()
    monkeypatch.setenv("SV_RELEASE_DIR", str(tmp_path / "release"))  # no committed row minimum for this raw/
    (tmp_path / "release").mkdir()
    baseline = candidates.run_build(
        candidates.build_env(tmp_path / "baseline", site.raw, site.root / "outputs"), tmp_path / "baseline.log"
    )
    assert baseline == 0, (tmp_path / "baseline.log").read_text()[-3000:]
    published, ledger = snapshot(site.root / "outputs"), snapshot(tmp_path / "release")
    ons_listing(publisher, "yearendingdecember2019", "yearendingseptember2019")
    ons_edition(
        publisher, "yearendingdecember2019", "Year ending December 2019", {"pfatablesdec19.xlsx": DEC2019.read_bytes()}
    )

    # The served stack's fetch: the asset of the fetch_sources job, as its schedule runs it.
    monkeypatch.setenv("SV_FETCH_TIMEOUT", "5")
    result = materialise_fetch(site, publisher, monkeypatch)

    assert result.success
    (candidate,) = [p for p in site.candidates.iterdir() if (p / "candidate.json").is_file()]
    report = (candidate / "CANDIDATE.md").read_text()
    [materialisation] = result.get_asset_materialization_events()
    shown = materialisation.step_materialization_data.materialization.metadata
    assert shown["report"].value == report and shown["accept_with"].value == f"make accept CANDIDATE={candidate.name}"
    [review] = result.get_asset_check_evaluations()
    assert not review.passed and review.severity == dg.AssetCheckSeverity.WARN and candidate.name in review.description
    assert json.loads((candidate / "candidate.json").read_text())["build"] == "passed", report
    assert snapshot(site.root / "outputs") == published  # nothing published yet
    assert snapshot(tmp_path / "release") == ledger  # nor the version the candidate would take
    diff = (candidate / "outputs" / "release_diff.csv").read_text().splitlines()
    added = [line for line in diff if line.startswith("area_outcomes,") and ",added," in line]
    assert added, report  # the December 2019 edition's rows
    assert "area_outcomes" in report and f"make accept CANDIDATE={candidate.name}" in report
    assert "New quality flags" in report

    # `make accept` publishes with the project's warehouse and instance; here, those of the baseline publish, so
    # only what the new workbook and the manifest feed is rebuilt (the other raw files are read from the warehouse).
    accept_env = candidates.build_env(tmp_path / "baseline", site.raw, site.root / "outputs")
    for name in ("SV_WAREHOUSE", "DAGSTER_HOME"):
        monkeypatch.setenv(name, accept_env[name])
    message = candidates.accept(candidate, site.raw, site.root / "outputs")

    assert "accepted" in message
    log = max((tmp_path / "baseline" / "logs").glob("make-data-*.log"), key=lambda p: p.stat().st_mtime).read_text()
    assert "Materialized value datapackage." in log
    assert "Materialized value raw_ons__pfa_ye_sep2019." not in log  # held already: read from the warehouse
    assert (site.raw / "outcomes/workbooks/pfatablesdec19.xlsx").read_bytes() == DEC2019.read_bytes()
    now = snapshot(site.root / "outputs")
    expected = snapshot(candidate / "outputs")
    assert {k: v for k, v in now.items() if k.startswith("data/")} == {
        k: v for k, v in expected.items() if k.startswith("data/")
    }
    with pytest.raises(Exception, match="accepted already"):
        candidates.accept(candidate, site.raw, site.root / "outputs")
