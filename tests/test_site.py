"""The static site (`make site`, pipeline/publish/site.py), built from the real outputs/.

Fast tests read the generated files: links resolve, area pages show what area_year holds, bytes are the same on a
second build, pages stay small, headings and landmarks are in order. The slow tests open every page in Debian's
Chromium through Playwright, as tests/test_ui_browser.py does, and run axe-core (from its npm package, pinned by
version and digest) on four pages, whose screenshots go to dist/site-screenshots/.
"""

import csv
import functools
import hashlib
import os
import re
import subprocess
import tarfile
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from pipeline.operations.locations import PROJECT_DIR
from pipeline.publish.site import build_site
from tests.browser import CHROMIUM, CHROMIUM_ARGS

OUTPUTS = PROJECT_DIR / "outputs"
SCREENSHOTS = PROJECT_DIR / "dist" / "site-screenshots"
LIMIT = 300 * 1024  # home and area pages, before images (the budget)
AXE_VERSION = "4.11.1"
AXE_SHA256 = "5b86f813d96904f2d925fed5715877c75fc1cc140f89565fb42145e7801b2305"
SAMPLE_AREAS = ("E23000001", "E23000036", "E23000034", "W15000004", "E23000018")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("site") / "site"
    build_site(OUTPUTS, folder)
    return folder


class Page(HTMLParser):
    """Links, ids, headings and landmarks of one HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.headings: list[int] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        self.tags.append(tag)
        if values.get("id"):
            self.ids.add(values["id"])
        for name in ("href", "src"):
            if values.get(name):
                self.links.append(values[name])
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))


@functools.cache
def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def pages(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def test_every_internal_link_resolves(site):
    assert len(pages(site)) > 250  # home, version, 43 areas, 22 tables, 221 sources and their index
    broken = []
    for path in pages(site):
        page = parse(path)
        for link in page.links:
            parts = urlsplit(link)
            if parts.scheme in ("http", "https", "mailto"):
                continue
            assert not parts.scheme and not parts.netloc, f"{path}: {link} is neither relative nor external"
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            if not target.is_file() or site.resolve() not in target.parents:
                broken.append(f"{path.relative_to(site)} -> {link}")
            elif parts.fragment and target.suffix == ".html" and parts.fragment not in parse(target).ids:
                broken.append(f"{path.relative_to(site)} -> {link} (no such id)")
    assert not broken, broken[:20]


def test_nothing_is_loaded_from_outside_the_site(site):
    for path in pages(site):
        text = path.read_text(encoding="utf-8")
        for found in re.findall(r'<(?:script|link|img)\b[^>]*(?:src|href)="([^"]+)"', text):
            assert not urlsplit(found).scheme, f"{path}: loads {found}"
    for asset in list(site.glob("*.css")) + list(site.glob("*.js")):
        text = asset.read_text(encoding="utf-8")
        assert "url(" not in text and "@import" not in text and "fetch(" not in text and "http" not in text, asset


@functools.cache
def read(name: str) -> list[dict[str, str]]:
    with (OUTPUTS / "data" / f"{name}.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def pounds(text: str) -> str:
    value = Decimal(text)
    return f"£{value:,.0f}" if value == value.to_integral_value() else f"£{value:,.2f}"


def text_of(path: Path) -> str:
    """The page's text with tags removed and entities of the characters the data uses decoded."""
    raw = re.sub(r"<[^>]+>", " ", path.read_text(encoding="utf-8"))
    return raw.replace("&amp;", "&").replace("&#39;", "'").replace("&#34;", '"').replace("&quot;", '"')


@pytest.mark.parametrize("area", SAMPLE_AREAS)
def test_area_page_shows_the_figures_area_year_holds(site, area):
    page = text_of(site / "areas" / f"{area}.html")
    html = (site / "areas" / f"{area}.html").read_text(encoding="utf-8")
    rows = [r for r in read("area_year") if r["area_code"] == area]
    assert rows
    checked = 0
    for row in rows:
        for stream in ("vru", "surge_grip", "hotspot_fund", "svd"):
            if row[f"{stream}_gbp"]:
                assert pounds(row[f"{stream}_gbp"]) in page, (area, row["financial_year"], stream)
                assert f"sources/{row[f'{stream}_source_id']}.html" in html, (area, row["financial_year"], stream)
                checked += 1
        for measure in ("violence_with_injury_offences", "homicide_offences", "knife_selected_offences"):
            if row[measure]:
                # the table row of that year holds the count, with its source
                year_row = re.search(rf"<th scope=\"row\">{row['financial_year']}</th>(.*?)</tr>", html, re.S)
                assert year_row and f"{int(row[measure]):,}" in year_row[1], (area, row["financial_year"], measure)
                checked += 1
    assert checked
    conflicts = [r for r in read("funding_allocations") if r["area_code"] == area and r["has_conflict"] == "true"]
    assert page.count("Conflict:") == len(conflicts)


def test_area_pages_show_each_flag_beside_its_value(site):
    flags = [r for r in read("quality_flags") if r["table_name"] in ("area_outcomes", "funding_allocations")]
    flags = [r for r in flags if r["area_code"]]
    assert flags
    for flag in flags:
        html = (site / "areas" / f"{flag['area_code']}.html").read_text(encoding="utf-8")
        # the flag is in the same table row as the value it concerns
        rows = [row for row in re.findall(r"<tr>(.*?)</tr>", html, re.S) if f"flagged: {flag['check_name']}" in row]
        assert any(flag["edition"] in row or flag["period"] in row for row in rows), flag["flag_id"]


def test_every_table_page_holds_every_row(site):
    for resource in read_descriptor()["resources"]:
        name = resource["name"]
        script = (site / "tables" / f"{name}.data.js").read_text(encoding="utf-8")
        rows = len(read(name))
        assert script.count("],[") + 1 == rows or (rows == 0 and '"rows":[]' in script), name
        assert (site / "data" / f"{name}.csv").read_bytes() == (OUTPUTS / "data" / f"{name}.csv").read_bytes()
        assert (site / "parquet" / f"{name}.parquet").is_file()


def read_descriptor() -> dict:
    import json

    return json.loads((OUTPUTS / "datapackage.json").read_text(encoding="utf-8"))


def test_source_pages_count_every_citing_row(site):
    for source_id in ("S01", "ONS_HOMICIDE_2025_02_11", "REF_PFA"):
        page = text_of(site / "sources" / f"{source_id}.html")
        expected = sum(
            1
            for resource in read_descriptor()["resources"]
            if resource["name"] != "sources"
            for row in read(resource["name"])
            for column, value in row.items()
            if (column == "source_id" or column.endswith("_source_id")) and value == source_id
        )
        assert f"{expected:,} rows in" in page, source_id


def test_the_same_outputs_give_the_same_bytes(site, tmp_path):
    again = tmp_path / "again"
    build_site(OUTPUTS, again)
    first = {p.relative_to(site): p.read_bytes() for p in sorted(site.rglob("*")) if p.is_file()}
    second = {p.relative_to(again): p.read_bytes() for p in sorted(again.rglob("*")) if p.is_file()}
    assert first.keys() == second.keys()
    assert [name for name in first if first[name] != second[name]] == []


def test_home_and_area_pages_are_small(site):
    sizes = {p.relative_to(site).as_posix(): p.stat().st_size for p in [site / "index.html", *site.glob("areas/*")]}
    assert len(sizes) == 44
    assert max(sizes.values()) < LIMIT, max(sizes.items(), key=lambda item: item[1])


def test_headings_in_order_and_landmarks(site):
    for path in pages(site):
        page = parse(path)
        assert page.headings[0] == 1 and page.headings.count(1) == 1, path
        assert all(b <= a + 1 for a, b in zip(page.headings, page.headings[1:], strict=False)), (path, page.headings)
        for landmark in ("header", "nav", "main", "footer"):
            assert landmark in page.tags, (path, landmark)
        assert 'href="#main"' in path.read_text(encoding="utf-8"), path


# ---------------------------------------------------------------- in a browser

FOUR = {
    "home": "index.html",
    "area": "areas/E23000036.html",
    "table": "tables/funding_allocations.html",
    "source": "sources/S01.html",
}


def need(condition: bool, reason: str) -> None:
    """In CI a missing tool fails the test (.ci/run installs it); elsewhere it skips."""
    if not condition:
        if os.environ.get("CI"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def browser_page(site):
    need(CHROMIUM.exists(), f"{CHROMIUM} is missing: apt-get install chromium")
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(30_000)
        yield page
        browser.close()


@pytest.fixture(scope="module")
def axe_source(tmp_path_factory) -> str:
    """axe.min.js from the npm package, checked against its pinned digest."""
    folder = tmp_path_factory.mktemp("axe")
    npm = subprocess.run(["which", "npm"], capture_output=True, text=True).stdout.strip()
    need(bool(npm), "npm is missing: apt-get install npm")
    packed = subprocess.run(
        [npm, "pack", f"axe-core@{AXE_VERSION}", "--pack-destination", str(folder)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert packed.returncode == 0, packed.stderr[-2000:]
    tarball = folder / f"axe-core-{AXE_VERSION}.tgz"
    assert hashlib.sha256(tarball.read_bytes()).hexdigest() == AXE_SHA256, "axe-core tarball is not the pinned one"
    with tarfile.open(tarball) as archive:
        member = archive.extractfile("package/axe.min.js")
        assert member is not None
        return member.read().decode("utf-8")


@pytest.mark.slow
def test_every_page_loads_with_no_error_and_no_request_outside_the_site(site, browser_page):
    root = site.resolve().as_uri() + "/"
    errors: list[str] = []
    outside: list[str] = []
    browser_page.on("console", lambda m: errors.append(f"{browser_page.url}: {m.text}") if m.type == "error" else None)
    browser_page.on("pageerror", lambda e: errors.append(f"{browser_page.url}: {e}"))
    browser_page.on("requestfailed", lambda r: errors.append(f"failed: {r.url}"))
    browser_page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(root) else None)
    for path in pages(site):
        browser_page.goto(path.resolve().as_uri(), wait_until="load")
    assert errors == []
    assert outside == []


@pytest.mark.slow
def test_table_page_filters_sorts_and_pages_in_the_browser(site, browser_page):
    browser_page.goto((site / "tables" / "area_outcomes.html").resolve().as_uri())
    rows = read("area_outcomes")
    status = browser_page.locator("#viewer-status")
    assert f"of {len(rows)}" in status.inner_text()
    assert browser_page.locator("#rows-table tbody tr").count() == 50
    browser_page.get_by_role("button", name="Next page").click()
    assert "Rows 51 to 100" in status.inner_text()
    browser_page.get_by_label("Filter rows").fill("E23000036")
    matching = sum(1 for r in rows if any("E23000036" in v for v in r.values()))
    assert f"of {matching} matching" in status.inner_text()
    browser_page.get_by_label("in column").select_option("value")
    browser_page.get_by_label("Filter rows").fill("")
    header = browser_page.get_by_role("button", name="value", exact=True)
    header.focus()
    browser_page.keyboard.press("Enter")  # sorting works from the keyboard
    header.press("Enter")
    at = list(rows[0]).index("value")  # the table shows the CSV's columns in order
    first = browser_page.locator("#rows-table tbody tr").first.locator("td").nth(at).inner_text()
    assert Decimal(first) == max(Decimal(r["value"]) for r in rows if r["value"])
    assert browser_page.locator("th[aria-sort=descending]").count() == 1


@pytest.mark.slow
def test_axe_finds_no_serious_violation_and_screenshots(site, browser_page, axe_source):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    found = {}
    for name, path in FOUR.items():
        browser_page.goto((site / path).resolve().as_uri())
        browser_page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)
        browser_page.add_script_tag(content=axe_source)
        result = browser_page.evaluate(
            "async () => await axe.run(document, {runOnly: {type: 'tag', values: "
            "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']}})"
        )
        serious = [
            f"{v['id']} ({v['impact']}): {v['nodes'][0]['target']}"
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        found[name] = serious
        assert result["passes"], name  # axe ran its rules
    assert found == {name: [] for name in FOUR}
    assert all((SCREENSHOTS / f"{name}.png").stat().st_size > 10_000 for name in FOUR)


def luminance(colour: str) -> float:
    def channel(c: int) -> float:
        c8 = c / 255
        return c8 / 12.92 if c8 <= 0.03928 else ((c8 + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_colours_meet_wcag_aa(site):
    """Text colours of the style sheet and the charts at 4.5:1 on every background they sit on; the chart
    graphics a reader needs (edges of points, the flag ring, earlier-edition dots) at 3:1."""
    from pipeline.publish import site as module

    css = (site / "style.css").read_text(encoding="utf-8")
    variables = dict(re.findall(r"--([\w-]+): (#[0-9a-fA-F]{6})", css))
    texts = [variables[v] for v in ("text", "muted", "link", "flag")] + re.findall(r"a:visited \{ color: (#\w{6})", css)
    texts += re.findall(r"svg\.chart text[^{]*\{ fill: (#\w{6})", css)
    backgrounds = ["#ffffff", variables["band"], *re.findall(r"background: (#\w{6})", css)]
    assert len(texts) >= 7 and len(backgrounds) >= 3
    low = [(t, b, round(contrast(t, b), 2)) for t in texts for b in backgrounds if contrast(t, b) < 4.5]
    assert low == []
    for graphic in (module.OUTLINE, module.FLAGGED, module.EARLIER, module.NEWEST):
        assert contrast(graphic, "#ffffff") >= 3, graphic


@pytest.mark.slow
def test_the_release_archive_holds_the_site(site, release_archive):
    import zipfile

    archive = release_archive
    prefix = archive.name.removesuffix(".zip") + "/site/"
    with zipfile.ZipFile(archive) as zf:
        inside = {n.removeprefix(prefix): zf.read(n) for n in zf.namelist() if n.startswith(prefix)}
    built = {p.relative_to(site).as_posix(): p.read_bytes() for p in site.rglob("*") if p.is_file()}
    assert inside.keys() == built.keys()
    assert all(inside[name] == built[name] for name in built)
