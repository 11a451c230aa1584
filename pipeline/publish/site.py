"""The release as a static web site: `make site` writes dist/site/ from outputs/ alone.

A page per police force area, per table and per source, a home page and a version page, all plain files that
open from file:// and from any static host: no server, no network, no CDN, system fonts. Charts are SVG drawn
here, each with a text alternative and a table of its numbers. The package's files are copied into the site so
that every download link stays inside it. Built from the release's own files, so it cannot disagree with them;
the same outputs/ gives the same bytes (sorted inputs, no dates but the release's own).

    python -m pipeline.publish.site [outputs] [site]
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from html import escape
from pathlib import Path

import jinja2
import yaml
from markdown_it import MarkdownIt

from pipeline.operations.locations import PROJECT_DIR, outputs_dir
from schemas.published import PANEL_MEASURES
from schemas.vocabulary import AREA_GROUPS

HERE = Path(__file__).resolve().parent / "site"
FIRST_ROWS = 20  # rows a table page shows before its script takes over (and without a script)
CITING_ROWS_SHOWN = 25  # rows listed per table on a source page; the counts are complete
STREAMS = {"vru": "VRU", "surge_grip": "Surge/Grip", "hotspot_fund": "Hotspot fund", "svd": "Serious Violence Duty"}
KNOWN = {
    "exact": "exact",
    "rounded": "rounded",
    "lower_bound": "at least",
    "upper_bound": "at most",
    "multi_year_only": "only in a multi-year total",
    "none": "no figure found",
}
GROUP_NAMES = {"vru_from_2019-20": "VRU from 2019-20", "vru_from_2022-23": "VRU from 2022-23", "no_vru": "no VRU"}
# The package's palette (pipeline/publish/chart.py: Okabe-Ito), with a marker and a dash pattern per group so that
# colour is never the only cue. Label text is dark, not coloured: two of the three colours are below 4.5:1 on white.
GROUP_STYLE = {
    "vru_from_2019-20": ("#0072B2", "circle", ""),
    "vru_from_2022-23": ("#E69F00", "square", "6 4"),
    "no_vru": ("#009E73", "triangle", "2 3 8 3"),
}
NEWEST = "#0072B2"
EARLIER = "#767676"  # grey at 4.5:1 on white
FLAGGED = "#D55E00"
OUTLINE = "#1b1b1b"
MEASURES = {
    "violence_with_injury_offences": "Violence with injury (offences)",
    "violence_without_injury_offences": "Violence without injury (offences)",
    "possession_of_weapons_offences": "Possession of weapons (offences)",
    "homicide_offences": "Homicide (offences)",
    "knife_selected_offences": "Selected offences involving a knife or sharp instrument",
    "knife_homicide_offences": "Homicide by knife or sharp instrument (offences)",
    "homicide_rate_per_million": "Homicide rate per million population (three-year periods)",
    "homicide_rate_per_1000": "Homicide rate per 1,000 population",
    "violence_with_injury_rate_per_1000": "Violence with injury per 1,000 population",
    "violence_without_injury_rate_per_1000": "Violence without injury per 1,000 population",
    "population": "Population",
}


# ---------------------------------------------------------------- reading the release


@dataclass
class Release:
    folder: Path
    descriptor: dict
    tables: dict[str, list[dict[str, str]]]

    @property
    def resources(self) -> dict[str, dict]:
        return {r["name"]: r for r in self.descriptor["resources"]}

    def columns(self, table: str) -> list[str]:
        return [f["name"] for f in self.resources[table]["schema"]["fields"]]


def read_release(folder: Path) -> Release:
    descriptor = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    tables = {}
    for resource in descriptor["resources"]:
        with (folder / resource["path"]).open(encoding="utf-8", newline="") as handle:
            tables[resource["name"]] = list(csv.DictReader(handle))
    return Release(folder, descriptor, tables)


def one_row_per(folder: Path) -> dict[str, str]:
    """Each table's grain, from the card's table of contents (the descriptor has no field for it)."""
    found = {}
    for line in (folder / "README.md").read_text(encoding="utf-8").splitlines():
        match = re.match(r"\| `(\w+)` \| \d+ \| ([^|]+) \|", line)
        if match:
            found[match[1]] = match[2].strip()
    return found


def card_section(folder: Path, heading: str) -> str:
    """One `## heading` section of the card, as Markdown."""
    text = (folder / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    return match[1].strip() if match else ""


def md(text: str, shift: int = 0) -> str:
    """Markdown as HTML, headings moved `shift` levels down so that they nest under the page's own."""
    if shift:
        text = re.sub(r"^(#{1,5}) ", lambda m: "#" * min(len(m[1]) + shift, 6) + " ", text, flags=re.M)
    return MarkdownIt("commonmark").enable("table").render(text)


# ---------------------------------------------------------------- formatting


def number(text: str) -> Decimal | None:
    try:
        return Decimal(text) if text not in ("", None) else None
    except InvalidOperation:
        return None


def gbp(text: str) -> str:
    value = number(text)
    if value is None:
        return ""
    return f"£{value:,.0f}" if value == value.to_integral_value() else f"£{value:,.2f}"


def value_text(text: str, unit: str = "") -> str:
    """A statistic as a reader wants it: counts with thousands separators, rates to two decimals."""
    value = number(text)
    if value is None:
        return text
    if value == value.to_integral_value() and "." not in text:
        return f"{value:,.0f}"
    return f"{value:,.2f}" if "per" in unit or "rate" in unit else f"{value:,}"


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", text)


def year_fraction(day: str) -> float:
    d = date.fromisoformat(day)
    return d.year + (d.timetuple().tm_yday - 1) / 365.0


# ---------------------------------------------------------------- SVG charts


@dataclass
class Series:
    label: str
    colour: str
    marker: str
    dash: str
    points: list[tuple[float, float]]
    flagged: frozenset[int] = frozenset()  # indexes of points a quality flag concerns


def _marker(shape: str, x: float, y: float, colour: str, hollow: bool = False) -> str:
    """A data point. Filled points get a dark edge: the palette's orange and green are below the 3:1 that
    WCAG asks of graphics on white, the edge is not."""
    fill = "#ffffff" if hollow else colour
    colour = colour if hollow else OUTLINE
    if shape == "square":
        return f'<rect x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" height="8" fill="{fill}" stroke="{colour}"/>'
    if shape == "triangle":
        corners = f"M{x:.1f} {y - 5:.1f}L{x + 5:.1f} {y + 4:.1f}L{x - 5:.1f} {y + 4:.1f}Z"
        return f'<path d="{corners}" fill="{fill}" stroke="{colour}"/>'
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{fill}" stroke="{colour}"/>'


def _nice_top(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** len(str(int(value))) / 10
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def _tick(value: float, top: float) -> str:
    if top >= 1_000_000:
        return f"{value / 1_000_000:,.1f}m"
    return f"{value:,.0f}" if top >= 20 else f"{value:,.1f}"


def svg_chart(
    chart_id: str,
    title: str,
    description: str,
    series: list[Series],
    x_ticks: list[tuple[float, str]],
    y_label: str,
    others: list[tuple[float, float]] | None = None,
    others_label: str = "",
    max_gap: float | None = None,
) -> str:
    """A line chart on a zero-based axis, each line labelled at its right end (labels spread so they never
    overlap), flagged points ringed in vermillion; `others` are hollow grey dots (earlier editions' values).
    A line is broken where consecutive points are more than `max_gap` apart: no value is implied between."""
    width, height, left, right, top, bottom = 720, 300, 56, 200, 30, 40
    xs = [x for s in series for x, _ in s.points] + [x for x, _ in others or []] + [t[0] for t in x_ticks]
    ys = [y for s in series for _, y in s.points] + [y for _, y in others or []]
    x0, x1 = min(xs), max(xs)
    x1 = x1 if x1 > x0 else x0 + 1
    y1 = _nice_top(max(ys, default=1.0) * 1.05)

    def px(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * (width - left - right)

    def py(y: float) -> float:
        return top + (1 - y / y1) * (height - top - bottom)

    out = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-labelledby="{chart_id}-t {chart_id}-d" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-t">{escape(title)}</title><desc id="{chart_id}-d">{escape(description)}</desc>',
        f'<text x="4" y="14">{escape(y_label)}</text>',
    ]
    for i in range(5):
        value = y1 * i / 4
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{py(value):.1f}" y2="{py(value):.1f}" class="grid"/>')
        out.append(f'<text x="{left - 6}" y="{py(value) + 4:.1f}" text-anchor="end">{_tick(value, y1)}</text>')
    for x, label in x_ticks:
        out.append(f'<text x="{px(x):.1f}" y="{height - bottom + 18}" text-anchor="middle">{escape(label)}</text>')
    for x, y in others or []:
        out.append(_marker("circle", px(x), py(y), EARLIER, hollow=True))
    ends: list[tuple[float, str]] = []
    for s in series:
        if not s.points:
            continue
        path = ""
        for i, (x, y) in enumerate(s.points):
            broken = i == 0 or (max_gap is not None and x - s.points[i - 1][0] > max_gap)
            path += f"{'M' if broken else 'L'}{px(x):.1f} {py(y):.1f}"
        dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
        out.append(f'<path d="{path}" fill="none" stroke="{s.colour}" stroke-width="2"{dash}/>')
        for i, (x, y) in enumerate(s.points):
            out.append(_marker(s.marker, px(x), py(y), s.colour))
            if i in s.flagged:
                out.append(
                    f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="8" fill="none" stroke="{FLAGGED}" stroke-width="2"/>'
                )
        ends.append((py(s.points[-1][1]), s.label))
    placed: list[float] = []
    for y, label in sorted(ends):
        y = max(y, placed[-1] + 16) if placed else y
        placed.append(y)
        out.append(f'<text x="{width - right + 12}" y="{y + 4:.1f}" class="label">{escape(label)}</text>')
    if others_label:
        out.append(_marker("circle", width - right + 16, height - 12, EARLIER, hollow=True))
        out.append(f'<text x="{width - right + 26}" y="{height - 8}">{escape(others_label)}</text>')
    out.append("</svg>")
    return "".join(out)


# ---------------------------------------------------------------- page data


def source_link(root: str, source_id: str) -> dict:
    return {"id": source_id, "href": f"{root}sources/{slug(source_id)}.html"} if source_id else {}


def headline(release: Release) -> dict:
    """The card's comparisons: homicide rates by group in the newest edition, and the before/after change."""
    outcomes = release.tables["area_outcomes"]
    rates = [r for r in outcomes if r["measure"] == "homicide_rate_per_million"]
    edition = max(rates, key=lambda r: (r["edition_date"], r["edition"]))["edition"]
    comparison = [
        r
        for r in release.tables["outcome_comparison"]
        if r["measure"] == "homicide_rate_per_million" and r["edition"] == edition
    ]
    periods = sorted({r["period_first_year"] for r in comparison})

    def find(period: str, group: str, variant: str) -> dict | None:
        return next(
            (
                r
                for r in comparison
                if (r["period_first_year"], r["area_group"], r["variant"]) == (period, group, variant)
            ),
            None,
        )

    def label(period: str) -> str:
        return f"{period[:4]}–{str(int(period[:4]) + 3)[2:]}"

    series: list[Series] = []
    rows: list[dict] = []
    for group in AREA_GROUPS:
        colour, marker, dash = GROUP_STYLE[group]
        points = [
            (float(i), float(found["mean_value"]))
            for i, p in enumerate(periods)
            if (found := find(p, group, "excluding_flagged")) and found["mean_value"]
        ]
        if points:
            series.append(Series(f"{GROUP_NAMES[group]}: {points[-1][1]:.1f}", colour, marker, dash, points))
    for period in periods:
        cells = []
        for group in AREA_GROUPS:
            every, clean = find(period, group, "all_values"), find(period, group, "excluding_flagged")
            cells.append(
                {
                    "all": value_text(every["mean_value"], "rate") if every else "",
                    "flagged": int(every["n_flagged_values_used"] or 0) if every else 0,
                    "mean": value_text(clean["mean_value"], "rate") if clean else "",
                    "median": value_text(clean["median_value"], "rate") if clean else "",
                    "weighted": value_text(clean["mean_weighted_by_population_mid2018"], "rate") if clean else "",
                    "areas": clean["n_areas"] if clean else "",
                }
            )
        rows.append({"period": f"April {period[:4]} to March {int(period[:4]) + 3}", "cells": cells})
    first, last = periods[0], periods[-1]
    words = "; ".join(
        f"{GROUP_NAMES[g]} {rows[0]['cells'][i]['mean']} then {rows[-1]['cells'][i]['mean']}"
        for i, g in enumerate(AREA_GROUPS)
    )
    alt = (
        f"Mean homicide rate per million population by group of areas, flagged values left out, for each three-year "
        f"period from April {first[:4]} to March {int(last[:4]) + 3} (edition {edition}). First and last period: "
        f"{words}. Descriptive: it says nothing about what caused any difference."
    )
    chart = svg_chart(
        "homicide",
        "Mean homicide rate per million: areas with a VRU and the others",
        alt,
        series,
        [(i, label(p)) for i, p in enumerate(periods) if i % 2 == 0],  # every other: the labels need the room
        "per million a year",
    )
    before = max(
        r["edition"]
        for r in outcomes
        if r["period_as_published"] == "year ending March 2019" and r["measure"] == "violence_with_injury_offences"
    )
    after = max(r["after_edition"] for r in release.tables["outcome_change_by_group"])
    change = []
    for measure in (
        "violence_with_injury_offences",
        "possession_of_weapons_offences",
        "violence_without_injury_offences",
        "homicide_offences",
    ):
        for group in AREA_GROUPS:
            pair = {
                r["variant"]: r
                for r in release.tables["outcome_change_by_group"]
                if (r["measure"], r["area_group"], r["before_edition"], r["after_edition"])
                == (measure, group, before, after)
            }
            every, clean = pair.get("all_values"), pair.get("excluding_flagged")
            if every:
                change.append(
                    {
                        "measure": MEASURES[measure].removesuffix(" (offences)"),
                        "group": GROUP_NAMES[group],
                        "areas": every["n_areas"],
                        "before": value_text(every["value_before"]),
                        "after": value_text(every["value_after"]),
                        "change": f"{float(every['percent_change']):+.1f}%",
                        "before_period": every["before_period"],
                        "after_period": every["after_period"],
                        "clean": f"{float(clean['percent_change']):+.1f}% ({clean['n_areas']} areas)" if clean else "",
                        "left_out": clean["areas_left_out"] if clean else "",
                    }
                )
    return {"edition": edition, "chart": chart, "alt": alt, "rows": rows, "change": change}


def coverage(release: Release) -> list[dict]:
    by_stream: dict[str, Counter] = defaultdict(Counter)
    for r in release.tables["funding_coverage"]:
        by_stream[r["stream"]]["cells"] += 1
        by_stream[r["stream"]]["known"] += r["known"] not in ("none", "multi_year_only")
        by_stream[r["stream"]]["conflict"] += r["has_conflict"] == "true"
    years = defaultdict(set)
    for r in release.tables["funding_coverage"]:
        years[r["stream"]].add(r["financial_year"])
    return [
        {
            "stream": STREAMS[s],
            "cells": by_stream[s]["cells"],
            "known": by_stream[s]["known"],
            "conflict": by_stream[s]["conflict"],
            "years": f"{min(years[s])} to {max(years[s])}",
        }
        for s in STREAMS
        if s in by_stream
    ]


def citing_columns(release: Release) -> dict[str, list[str]]:
    """Per table, the columns that name a source (`source_id`, and area_year's `<stream>_source_id`)."""
    return {
        name: [c for c in release.columns(name) if c == "source_id" or c.endswith("_source_id")]
        for name in release.resources
        if name != "sources"
    }


def area_page(release: Release, code: str, flags_by_value: dict, root: str = "../") -> dict:
    tables = release.tables
    area = next(r for r in tables["police_force_areas"] if r["area_code"] == code)
    allocations = {
        (r["stream"], r["financial_year"]): r for r in tables["funding_allocations"] if r["area_code"] == code
    }
    reports = defaultdict(list)
    for r in tables["funding_reports"]:
        if r["area_code"] == code:
            reports[(r["stream"], r["financial_year"])].append(r)
    panel = [r for r in tables["area_year"] if r["area_code"] == code]
    funding_rows = []
    for r in panel:
        cells = []
        for stream in STREAMS:
            known = r[f"{stream}_known"]
            chosen = allocations.get((stream, r["financial_year"]))
            cell: dict = {"known": known, "kind": KNOWN.get(known, ""), "amount": "", "source": {}, "printed": ""}
            cell |= {"conflict": False, "range": "", "n_sources": "", "flags": []}
            if r[f"{stream}_gbp"]:
                cell["amount"] = gbp(r[f"{stream}_gbp"])
                cell["source"] = source_link(root, r[f"{stream}_source_id"])
            if chosen:
                cell["printed"] = chosen["amount_as_published"]
                cell["conflict"] = chosen["has_conflict"] == "true"
                cell["range"] = f"{gbp(chosen['min_reported_gbp'])} to {gbp(chosen['max_reported_gbp'])}"
                cell["n_sources"] = chosen["n_sources"]
                cell["flags"] = flags_by_value.get(("funding_allocations", code, stream, r["financial_year"]), [])
            cells.append(cell)
        if any(c["known"] for c in cells):
            funding_rows.append({"year": r["financial_year"], "cells": cells})
    sources = {r["source_id"]: r for r in tables["sources"]}
    report_rows = [
        {
            "stream": STREAMS.get(r["stream"], r["stream"]),
            "year": r["financial_year"]
            + ("" if r["financial_year_last"] in ("", r["financial_year"]) else f" to {r['financial_year_last']}"),
            "printed": r["amount_as_published"],
            "amount": gbp(r["amount_gbp"]),
            "kind": r["amount_kind"],
            "basis": r["amount_basis"],
            "chosen": allocations.get((r["stream"], r["financial_year"]), {}).get("report_id") == r["report_id"],
            "conflict": allocations.get((r["stream"], r["financial_year"]), {}).get("has_conflict") == "true",
            "source": source_link(root, r["source_id"]),
            "publisher": sources.get(r["source_id"], {}).get("publisher", ""),
            "url": sources.get(r["source_id"], {}).get("url", ""),
        }
        for key in sorted(reports)
        for r in sorted(reports[key], key=lambda r: r["report_id"])
    ]
    offence_rows = [
        {
            "year": r["financial_year"],
            "cells": [
                {
                    "value": value_text(r[m]),
                    "edition": r[f"{m}_edition"],
                    "source": source_link(root, r[f"{m}_source_id"]),
                }
                for m in PANEL_MEASURES
            ],
        }
        for r in panel
        if any(r[m] for m in PANEL_MEASURES)
    ]
    outcomes = defaultdict(list)
    for r in tables["area_outcomes"]:
        if r["area_code"] == code:
            outcomes[r["measure"]].append(r)
    charts = []
    for measure in [m for m in MEASURES if m in outcomes]:
        charts.append(outcome_chart(code, area["area_name"], measure, outcomes[measure], flags_by_value, root))
    vru = next((r for r in tables["violence_reduction_units"] if r["area_code"] == code), None)
    body = next((r for r in tables["local_policing_bodies"] if r["area_code"] == code), None)
    flags = [r for r in tables["quality_flags"] if r["area_code"] == code]
    initiatives = [r for r in tables["initiatives"] if r["area_code"] == code]
    return {
        "area": area,
        "streams": list(STREAMS.values()),
        "funding": funding_rows,
        "reports": report_rows,
        "panel_measures": [MEASURES[m].removesuffix(" (offences)") for m in PANEL_MEASURES],
        "offences": offence_rows,
        "charts": charts,
        "vru": vru,
        "vru_source": source_link(root, vru["source_id"]) if vru else {},
        "body": body,
        "body_source": source_link(root, body["source_id"]) if body else {},
        "flags": flags,
        "initiatives": initiatives,
        "n_conflicts": sum(1 for r in allocations.values() if r["has_conflict"] == "true"),
    }


def outcome_chart(code: str, name: str, measure: str, rows: list[dict], flags_by_value: dict, root: str) -> dict:
    """One measure of one area across ONS editions: the newest edition's value for each period as the line,
    earlier editions' values for the same periods as grey dots (revisions show as dots off the line)."""
    by_period = defaultdict(list)
    for r in rows:
        by_period[(r["period_start"], r["period_end"])].append(r)
    points: list[tuple[float, float]] = []
    others: list[tuple[float, float]] = []
    flagged: set[int] = set()
    table: list[dict] = []
    for period in sorted(by_period):
        ordered = sorted(by_period[period], key=lambda r: (r["edition_date"], r["edition"]))
        newest = ordered[-1]
        x = year_fraction(period[1])
        for r in ordered:
            flag = flags_by_value.get(("area_outcomes", code, measure, r["period_as_published"], r["edition"]), [])
            value = number(r["value"])
            if value is not None:
                if r is newest:
                    if flag:
                        flagged.add(len(points))
                    points.append((x, float(value)))
                else:
                    others.append((x, float(value)))
            table.append(
                {
                    "period": r["period_as_published"],
                    "end": r["period_end"],
                    "edition": r["edition"],
                    "value": value_text(r["value"], r["unit"]) if r["value"] else "",
                    "symbol": r["symbol"].removeprefix("printed_"),
                    "newest": r is newest,
                    "flags": flag,
                    "source": source_link(root, r["source_id"]),
                }
            )
    unit = rows[0]["unit"]
    label = MEASURES[measure]
    first_year, last_year = (
        int(min(x for x, _ in points)) if points else 0,
        int(max(x for x, _ in points)) if points else 0,
    )
    step = max(1, (last_year - first_year + 1) // 8)
    ticks = [(float(y), str(y)) for y in range(first_year, last_year + 2, step)] if points else []
    latest = next((t for t in reversed(table) if t["newest"] and t["value"]), None)
    alt = f"{label}, {name}, by the end of each period, newest edition for each period as a line"
    if latest:
        alt += f"; latest: {latest['value']} ({latest['period']}, edition {latest['edition']})"
    if others:
        alt += f"; {len(others)} values from earlier editions as grey dots"
    if flagged:
        alt += f"; {len(flagged)} flagged values ringed"
    alt += "."
    chart = ""
    if points:
        chart = svg_chart(
            f"c-{measure}",
            f"{label}: {name}",
            alt,
            [Series(f"newest: {latest['value'] if latest else ''}", NEWEST, "circle", "", points, frozenset(flagged))],
            ticks,
            unit,
            others,
            "earlier edition" if others else "",
            max_gap=1.5,
        )
    return {"measure": measure, "label": label, "unit": unit, "chart": chart, "alt": alt, "rows": table}


def flag_index(release: Release) -> dict[tuple, list[dict]]:
    """Quality flags by the value they concern: (table, area, measure or stream, period, edition) for outcome
    values, (table, area, stream, year) for funding figures."""
    found: dict[tuple, list[dict]] = defaultdict(list)
    for r in release.tables["quality_flags"]:
        if r["table_name"] == "area_outcomes":
            found[("area_outcomes", r["area_code"], r["subject"], r["period"], r["edition"])].append(r)
        elif r["table_name"] == "funding_allocations":
            found[("funding_allocations", r["area_code"], r["subject"], r["period"])].append(r)
    return found


def table_page(release: Release, name: str, grains: dict[str, str], root: str = "../") -> dict:
    resource = release.resources[name]
    schema = resource["schema"]
    foreign = {
        tuple(fk["fields"]) if isinstance(fk["fields"], list) else (fk["fields"],): fk["reference"]
        for fk in schema.get("foreignKeys", [])
    }
    references = {}
    for fields, reference in foreign.items():
        target = reference.get("resource") or name
        for field in fields:
            references[field] = target
    columns = [
        {
            "name": f["name"],
            "type": f["type"],
            "description": f.get("description", ""),
            "constraints": ", ".join(
                f"{k} {v}" if not isinstance(v, bool) else k for k, v in sorted(f.get("constraints", {}).items())
            ),
            "key": f["name"] in schema.get("primaryKey", []),
            "reference": references.get(f["name"], ""),
        }
        for f in schema["fields"]
    ]
    rows = release.tables[name]
    citing = citing_columns(release).get(name, [])
    cited = Counter(r[c] for r in rows for c in citing if r[c])
    parquet = release.folder / "parquet" / f"{name}.parquet"
    return {
        "name": name,
        "resource": resource,
        "grain": grains.get(name, ""),
        "columns": columns,
        "header": release.columns(name),
        "first": [[r[c] for c in release.columns(name)] for r in rows[:FIRST_ROWS]],
        "n_rows": len(rows),
        "cited": [{"source": source_link(root, s), "rows": n} for s, n in sorted(cited.items())],
        "parquet_bytes": parquet.stat().st_size if parquet.exists() else None,
        "parquet_sha256": hashlib.sha256(parquet.read_bytes()).hexdigest() if parquet.exists() else "",
    }


def table_script(release: Release, name: str) -> str:
    """Every row of a table as a script that sets a global: a <script src> loads from file:// where fetch()
    of a local file is refused, and the rows need no server."""
    data = {
        "columns": release.columns(name),
        "rows": [[r[c] for c in release.columns(name)] for r in release.tables[name]],
    }
    return "window.SITE_TABLE=" + json.dumps(data, ensure_ascii=False, separators=(",", ":")) + ";\n"


def source_pages(release: Release, root: str = "../") -> dict[str, dict]:
    """Per source: every published row that cites it, counted per table and column, the first few listed."""
    citing: dict[str, dict[tuple[str, str], list[dict]]] = defaultdict(lambda: defaultdict(list))
    for table, columns in citing_columns(release).items():
        for r in release.tables[table]:
            for column in columns:
                if r[column]:
                    citing[r[column]][(table, column)].append(r)
    pages = {}
    for source in release.tables["sources"]:
        groups = []
        for (table, column), rows in sorted(citing[source["source_id"]].items()):
            key = release.resources[table]["schema"]["primaryKey"]
            groups.append(
                {
                    "table": table,
                    "column": column,
                    "count": len(rows),
                    "key": key,
                    "rows": [
                        {
                            "key": [r[k] for k in key],
                            "area": r.get("area_code", ""),
                        }
                        for r in rows[:CITING_ROWS_SHOWN]
                    ],
                }
            )
        pages[source["source_id"]] = {"source": source, "groups": groups, "total": sum(g["count"] for g in groups)}
    return pages


def checksums(folder: Path) -> list[dict]:
    return [
        {
            "path": p.relative_to(folder).as_posix(),
            "bytes": p.stat().st_size,
            "sha256": hashlib.sha256(p.read_bytes()).hexdigest(),
        }
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    ]


# ---------------------------------------------------------------- writing


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["slug"] = slug
    env.filters["thousands"] = lambda n: f"{int(n):,}"
    env.filters["gbp"] = gbp
    return env


def build_site(outputs: Path, site: Path) -> dict[str, int]:
    """Write the site to `site` (replaced whole); return each page's size in bytes by its path."""
    release = read_release(outputs)
    descriptor = release.descriptor
    grains = one_row_per(outputs)
    env = environment()
    staging = site.with_name(site.name + ".part")
    if staging.exists():
        shutil.rmtree(staging)
    shutil.copytree(outputs, staging)  # the package itself: every download link stays inside the site
    for asset in sorted((HERE / "assets").iterdir()):
        shutil.copyfile(asset, staging / asset.name)
    citation = yaml.safe_load((outputs / "CITATION.cff").read_text(encoding="utf-8"))
    areas = sorted(release.tables["police_force_areas"], key=lambda r: r["area_name"])
    vru_areas = {r["area_code"] for r in release.tables["violence_reduction_units"]}
    common = {
        "title": descriptor["title"],
        "version": descriptor["version"],
        "released": descriptor["created"][:10],
        "tables": list(release.resources),
    }
    pages: dict[str, str] = {}

    def render(path: str, template: str, **context) -> None:
        root = "../" * path.count("/")
        pages[path] = env.get_template(template).render(root=root, path=path, **common, **context)

    flags = flag_index(release)
    render(
        "index.html",
        "home.html",
        description=descriptor["description"],
        is_and_is_not=md(card_section(outputs, "What it is, and what it is not")),
        coverage=coverage(release),
        headline=headline(release),
        flag_counts=sorted(Counter(r["check_name"] for r in release.tables["quality_flags"]).items()),
        n_flags=len(release.tables["quality_flags"]),
        citation=citation,
        identifier=descriptor["id"],
        resources=descriptor["resources"],
        grains=grains,
        areas=areas,
        vru_areas=vru_areas,
        n_outcomes=len(release.tables["area_outcomes"]),
        editions=sorted({r["edition"] for r in release.tables["area_outcomes"]}),
        n_sources=len(release.tables["sources"]),
    )
    for area in areas:
        render(f"areas/{area['area_code']}.html", "area.html", **area_page(release, area["area_code"], flags))
    for name in release.resources:
        render(f"tables/{name}.html", "table.html", **table_page(release, name, grains))
        (staging / "tables").mkdir(exist_ok=True)
        (staging / "tables" / f"{name}.data.js").write_text(table_script(release, name), encoding="utf-8")
    by_source = source_pages(release)
    for source_id, page in by_source.items():
        render(f"sources/{slug(source_id)}.html", "source.html", **page)
    render("sources/index.html", "sources.html", sources=release.tables["sources"], pages=by_source)
    render(
        "version.html",
        "version.html",
        changelog=md((outputs / "CHANGELOG.md").read_text(encoding="utf-8").split("\n", 1)[1], shift=1),
        release_diff=md((outputs / "RELEASE_DIFF.md").read_text(encoding="utf-8").split("\n", 1)[1], shift=1),
        checksums=checksums(outputs),
    )
    for path, text in sorted(pages.items()):
        target = staging / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    if site.exists():
        shutil.rmtree(site)
    staging.replace(site)
    return {path: len(text.encode()) for path, text in sorted(pages.items())}


def main(argv: list[str]) -> int:
    outputs = Path(argv[0]) if argv else outputs_dir()
    site = Path(argv[1]) if len(argv) > 1 else PROJECT_DIR / "dist" / "site"
    sizes = build_site(outputs, site)
    print(
        f"{site}: {len(sizes)} pages, home {sizes['index.html']:,} bytes; open {site / 'index.html'} "
        "or serve the folder from any static host"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
