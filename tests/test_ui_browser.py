"""What an auditor sees: the read-only Dagster UI over a recorded build, driven in headless Chromium.

Needs Debian's chromium (/usr/bin/chromium) and Python Playwright, which drives it without downloading a
browser. `.ci/run` installs both; in CI a missing browser fails the test instead of skipping it.
"""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from pipeline.defs.resources import PROJECT_DIR
from pipeline.operations.build import JOB_COMMAND
from tests.browser import CHROMIUM, CHROMIUM_ARGS
from tests.conftest import Project

pytestmark = pytest.mark.slow  # a CLI build, a webserver and a browser: `make test-slow`

ARTIFACTS = PROJECT_DIR / "test-artifacts"
BIN = Path(sys.executable).parent

if not CHROMIUM.exists():
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing: .ci/run must install Debian's chromium", pytrace=False)
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)

playwright = pytest.importorskip("playwright.sync_api")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def audit_ui(tmp_path_factory):
    """A build recorded in its own Dagster instance, and the read-only UI over it on a free loopback port."""
    env = Project(tmp_path_factory.mktemp("audit")).cli_env()
    build = subprocess.run(
        JOB_COMMAND,
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    port = free_port()
    server = subprocess.Popen(
        [BIN / "dagster-webserver", "--read-only", "-h", "127.0.0.1", "-p", str(port), "-m", "pipeline.definitions"],
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{base}/server_info", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, "the read-only UI did not start within 90 s"
                time.sleep(0.5)
        yield base
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def page(audit_ui):
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.set_default_timeout(30_000)
        yield page
        browser.close()


def visit(page, base: str, path: str, wait_for: str, screenshot: str) -> str:
    page.goto(base + path)
    page.get_by_text(wait_for).first.wait_for()
    page.wait_for_timeout(1000)  # let the remaining panels settle before the screenshot
    page.screenshot(path=ARTIFACTS / screenshot, full_page=True)
    return page.inner_text("body")


def test_lineage_runs_from_a_raw_funding_file_to_the_package(page, audit_ui):
    graph = visit(
        page,
        audit_ui,
        "/assets/out_funding_reports?view=lineage&lineageScope=upstream&lineageDepth=2",
        "core_fund",
        "lineage_out_funding_reports_upstream.png",
    )
    # Node labels are shortened to fit; their beginnings show each layer of the chain.
    assert "raw_home" in graph and "core_fund" in graph and "out_fundi" in graph
    core = visit(page, audit_ui, "/assets/core_funding_reports", "Upstream assets", "core_funding_reports.png")
    upstream, downstream = core.split("Upstream assets")[1].split("Downstream assets")
    assert "raw_home_office__funding_allocations_2023_24" in upstream
    assert "out_funding_reports" in downstream
    out = visit(page, audit_ui, "/assets/out_funding_reports", "Downstream assets", "out_funding_reports.png")
    assert "datapackage" in out.split("Downstream assets")[1]


def test_published_asset_shows_description_columns_metadata_and_checks(page, audit_ui):
    text = visit(page, audit_ui, "/assets/out_funding_reports", "Row count", "out_funding_reports_overview.png")
    assert "published as outputs/data/funding_reports.csv" in text
    assert "Each funding figure as one source reports it" in text
    for column in ("report_id", "amount_gbp", "amount_as_published", "source_id", "raw_row"):
        assert column in text, column
    rows = sum(1 for _ in (PROJECT_DIR / "outputs" / "data" / "funding_reports.csv").open()) - 1
    assert f"Row count\n{rows}" in text or f"Row count | {rows}" in text.replace("\n", " | ")
    assert "column_lineage" in text and "published_as" in text
    checks = visit(
        page, audit_ui, "/assets/out_funding_reports?view=checks", "Evaluation result", "out_funding_reports_checks.png"
    )
    assert "matches_schema" in checks and "foreign_keys_resolve" in checks
    assert "This is a blocking asset check." in checks and "Passed" in checks
    assert "Failed" not in checks


def test_raw_asset_shows_its_provenance(page, audit_ui):
    text = visit(
        page,
        audit_ui,
        "/assets/raw_home_office__funding_allocations_2023_24",
        "sha256",
        "raw_home_office_provenance.png",
    )
    assert "https://www.gov.uk/government/publications/serious-violence-funding-allocations" in text
    assert "3ad030dbdf0480a7bb8daf2bb5663cb2ce0e3b0a8ff8b0959d962f029d911d88" in text
    assert "date_retrieved" in text and "Home Office" in text


def test_read_only_ui_offers_no_launch(page, audit_ui):
    visit(page, audit_ui, "/assets/out_funding_reports", "Row count", "read_only_materialize_disabled.png")
    buttons = page.get_by_role("button", name="Materialize")
    assert buttons.count() >= 1
    assert all(buttons.nth(i).is_disabled() for i in range(buttons.count()))
