"""Funding figures: from files of many layouts to one report per printed figure, then one figure per cell.

Pure functions on DataFrames, testable without Dagster. The steps:

1. `standardise` maps a raw file's columns onto report fields, as its manifest `funding_layout` says.
2. `normalise` codes areas and streams (through mapping tables), reads periods and amounts, and
   reports every cell it cannot read with its file, row and column.
3. `choose_allocations` picks one figure per area, stream and year by source authority and flags
   cells whose reports cannot all be true at once.
4. `reconcile` compares published national totals with the sum of the known cells.
5. `coverage` says, for every cell that could exist, what kind of figure is known.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd

from pipeline import parsing
from pipeline.validation import Failure
from schemas.vocabulary import FUNDING_FIRST_YEAR, FUNDING_LAST_YEAR, STREAMS, financial_year

REPORT_FIELDS = (
    "area_as_published",
    "stream_as_published",
    "year_as_published",
    "amount_as_published",
    "notes",
    "source_id",
)
ALLOCATION_STREAMS = STREAMS
ALLOCATION_SQL = Path(__file__).resolve().parent / "sql" / "core_funding_allocations.sql"
FIRST_YEAR, LAST_YEAR = FUNDING_FIRST_YEAR, FUNDING_LAST_YEAR


def standardise(raw: pd.DataFrame, layout: dict, file_id: str, raw_file: str, source_id: str) -> pd.DataFrame:
    """One row per printed figure with the report fields, whatever the file's own columns are called.

    `layout["columns"]` renames raw columns to report fields; `layout["amount_columns"]` lists the
    columns of a wide table, each holding the amounts of one stream; `layout["constants"]` fills
    fields the file does not print per row (a single publication's year, say);
    `layout["each_year_rows"]` names the rows whose amount the source states for each year of the
    period printed beside it, not for the period as a whole (row number: the source's words).
    """
    renames = layout.get("columns", {})
    amount_columns = layout.get("amount_columns", {})
    constants = layout.get("constants", {})
    each_year = {int(row) for row in layout.get("each_year_rows", {})}
    frames = []
    for amount_column, stream in amount_columns.items() or [(None, None)]:
        part = raw.rename(columns=renames)
        if amount_column is not None:
            part = part.assign(amount_as_published=raw[amount_column], stream_as_published=stream)
        part = part.assign(**constants)
        suffix = f":{parsing.slug(stream)}" if stream else ""
        part["report_id"] = [f"{file_id}:{row}{suffix}" for row in part["_row"]]
        part["raw_columns"] = [
            {**{field: raw_col for raw_col, field in renames.items()}, "amount_as_published": amount_column}
            if amount_column
            else {field: raw_col for raw_col, field in renames.items()}
        ] * len(part)
        frames.append(part)
    out = pd.concat(frames, ignore_index=True)
    for field in REPORT_FIELDS:
        if field not in out:
            out[field] = source_id if field == "source_id" else None
    out = out[out["amount_as_published"].notna()]  # a blank cell is a gap, not a figure
    out = out.assign(
        raw_file=raw_file,
        raw_row=out["_row"],
        amount_basis=["each_year" if int(row) in each_year else "whole_period" for row in out["_row"]],
    )
    return out[["report_id", *REPORT_FIELDS, "amount_basis", "raw_file", "raw_row", "raw_columns"]].reset_index(
        drop=True
    )


def normalise(
    reports: pd.DataFrame, area_codes: dict[str, str | None], streams: dict[str, tuple[str, str]]
) -> tuple[pd.DataFrame, list[Failure]]:
    """Codes, periods and amounts for every report; each unreadable cell becomes a named failure.

    Column by column: each distinct printed string is read once, so a file of a million rows costs
    one pass over its distinct values, not a million calls. A row with several problems reports the
    first (area, then stream, then period, then amount).
    """
    problems = pd.Series([None] * len(reports), index=reports.index, dtype=object)

    def flag(mask: pd.Series, field: str, message) -> None:
        fresh = mask & problems.isna()
        for index, value in reports.loc[fresh, field].items():
            problems.at[index] = (field, value, message(value))

    flag(
        ~reports["area_as_published"].isin(list(area_codes)),
        "area_as_published",
        lambda _: "unknown area name: add the spelling to raw/mappings/area_names.csv",
    )
    flag(
        ~reports["stream_as_published"].isin(list(streams)),
        "stream_as_published",
        lambda _: "unknown stream label: add it to raw/mappings/funding_streams.csv",
    )
    spans, span_errors = _read_each(reports["year_as_published"], parsing.parse_year_span)
    for text, span in spans.items():
        if span.first and not FIRST_YEAR <= int(span.first[:4]) <= LAST_YEAR + 1:
            span_errors[text] = f"year {span.first} is outside 2019-20 to 2026-27"
    flag(reports["year_as_published"].isin(list(span_errors)), "year_as_published", span_errors.get)
    amounts, amount_errors = _read_amounts(reports["amount_as_published"])
    flag(reports["amount_as_published"].isin(list(amount_errors)), "amount_as_published", amount_errors.get)

    failures = [
        Failure(row.raw_file, row.raw_row, row.raw_columns.get(field, field), value, message)
        for row, (field, value, message) in zip(
            reports[problems.notna()].itertuples(index=False), problems.dropna(), strict=True
        )
    ]
    good = reports[problems.isna()].drop(columns="raw_columns")
    if good.empty:
        return pd.DataFrame(), failures
    span = good["year_as_published"].map(spans)
    amount = good["amount_as_published"].map(amounts)
    out = good.assign(
        area_code=good["area_as_published"].map(area_codes),
        stream=good["stream_as_published"].map(lambda label: streams[label][0]),
        component=good["stream_as_published"].map(lambda label: streams[label][1]),
        financial_year=[s.first for s in span],
        financial_year_last=[_last_year(s, a) for s, a in zip(span, amount, strict=True)],
        is_year_inferred=[s.inferred or _spread_over_years(s, a) for s, a in zip(span, amount, strict=True)],
        amount_gbp=[str(a.gbp) for a in amount],
        amount_kind=[a.kind for a in amount],
        # The range each printed amount allows, for spotting conflicts (not published).
        amount_low=[float(a.low) for a in amount],
        # Nullable, so that "no upper limit" reaches DuckDB as NULL, not NaN.
        amount_high=pd.array([None if a.high is None else float(a.high) for a in amount], dtype="Float64"),
    )
    return each_year_apart(out).reset_index(drop=True), failures


def each_year_apart(reports: pd.DataFrame) -> pd.DataFrame:
    """A figure stated for each year of a period becomes one report per year (report id + ':YYYY-YY').

    "£7,988,282 for each financial year 2022/23 to 2024/25" is three yearly figures, not a three-year
    total: read as a total it would understate the area's funding threefold.
    """
    spread = (
        (reports["amount_basis"] == "each_year")
        & reports["financial_year_last"].notna()
        & (reports["financial_year"] != reports["financial_year_last"])
    )
    rows = []
    for row in reports[spread].to_dict("records"):
        first, last = int(row["financial_year"][:4]), int(row["financial_year_last"][:4])
        for start in range(first, last + 1):
            year = financial_year(start)
            rows.append(
                row | {"report_id": f"{row['report_id']}:{year}", "financial_year": year, "financial_year_last": year}
            )
    if not rows:
        return reports.reset_index(drop=True)
    return pd.concat([reports[~spread], pd.DataFrame(rows, columns=reports.columns)], ignore_index=True)


def _read_each(values: pd.Series, parse) -> tuple[dict, dict]:
    """Parse each distinct string once: (parsed by string, error message by string)."""
    parsed, errors = {}, {}
    for text in values.dropna().unique():
        try:
            parsed[text] = parse(text)
        except parsing.ParseError as exc:
            errors[text] = str(exc)
    return parsed, errors


def _read_amounts(values: pd.Series) -> tuple[dict, dict]:
    """`_read_each` with parse_amount, where the distinct strings in the plainest form ("£1,234") are found in one
    vectorised match and read without the general pattern: at a million distinct amounts, most of the cost."""
    distinct = pd.Series(values.dropna().unique(), dtype=object)
    plain = distinct.str.fullmatch(parsing.PLAIN_POUNDS).fillna(False).astype(bool)
    parsed = {text: parsing.plain_amount(text) for text in distinct[plain]}
    others, errors = _read_each(distinct[~plain], parsing.parse_amount)
    return parsed | others, errors


def _spread_over_years(span: parsing.YearSpan, amount: parsing.Amount) -> bool:
    """'£3.5m over three years' printed against one year: the total covers that year and the next ones."""
    return bool(amount.over_years and span.first and span.first == span.last)


def _last_year(span: parsing.YearSpan, amount: parsing.Amount) -> str | None:
    if span.first and amount.over_years and _spread_over_years(span, amount):
        start = int(span.first[:4]) + amount.over_years - 1
        return financial_year(start)
    return span.last


def drop_repeats(reports: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """One row per area, stream, component, period and source: a source's figure that two files both
    transcribe is one report (the first file's row is kept)."""
    key = [
        "source_id",
        "area_as_published",
        "stream",
        "component",
        "financial_year",
        "financial_year_last",
        "amount_as_published",
    ]
    kept = reports.drop_duplicates(subset=key, keep="first")
    return kept.reset_index(drop=True), len(reports) - len(kept)


def choose_allocations(reports: pd.DataFrame) -> pd.DataFrame:
    """One figure per area, stream and single financial year, chosen by source authority.

    Rule: the most authoritative kind of source wins (Home Office table, then Home Office answer,
    then PCC/VRU/force publication, then press); among equals an exact figure beats a rounded one,
    which beats a bound; then the more precise wording ("£2.58 million" over "£2m"); then the lowest
    source id, compared as a number (S14 before S113). `has_conflict` marks a cell whose reports cannot
    all be true at once (their ranges do not meet: "£1.16m" and "£1.6m" conflict, "more than
    £1.1 million" and "£1.16m" do not). `min_reported_gbp` and `max_reported_gbp` compare amounts as numbers.

    The rule is pipeline/sql/core_funding_allocations.sql, which the asset runs in the warehouse over a million
    reports as fast as over a hundred; here the same SQL runs over a frame of reports.
    """
    with duckdb.connect() as con:
        con.execute("CREATE SCHEMA core")
        con.register("frame", reports)
        con.execute("CREATE TABLE core.funding_reports AS SELECT * FROM frame")
        con.execute(ALLOCATION_SQL.read_text(encoding="utf-8"), {"streams": list(ALLOCATION_STREAMS)})
        # Amounts as exact text ('2580000.00'): a DECIMAL column would reach pandas as floats.
        exact = ("amount_gbp", "min_reported_gbp", "max_reported_gbp")
        amounts = ", ".join(f"CAST({c} AS VARCHAR) AS {c}" for c in exact)
        chosen = con.execute(f"SELECT * REPLACE ({amounts}) FROM core.funding_allocations").df()
    return chosen.astype(object).where(chosen.notna(), None)


def source_order(source_id: str) -> tuple[str, int, str]:
    """Source ids in their natural order: 'S14' before 'S113' (text order would put 'S113' first)."""
    match = re.fullmatch(r"([A-Z_]*?)(\d+)", source_id)
    return (match[1], int(match[2]), "") if match else (source_id, 0, source_id)


def financial_years() -> list[str]:
    return [financial_year(y) for y in range(FIRST_YEAR, LAST_YEAR + 1)]


def expected_cells(vru_first_years: dict[str, str], all_areas: list[str]) -> pd.DataFrame:
    """Every area, stream and year for which a Home Office figure could exist.

    VRU and Surge/Grip go to the areas with a VRU from its first funded year (Grip until 2023-24:
    from 2024-25 it is merged into the hotspot fund); the hotspot fund (from 2024-25) and the
    Serious Violence Duty grant (from 2022-23) go to all 43 areas.
    """
    rows = []
    for year in financial_years():
        for area, first in vru_first_years.items():
            if year >= first:
                rows.append((area, "vru", year))
                if year <= "2023-24":
                    rows.append((area, "surge_grip", year))
        for area in all_areas:
            if year >= "2024-25":
                rows.append((area, "hotspot_fund", year))
            if year >= "2022-23":
                rows.append((area, "svd", year))
    return pd.DataFrame(rows, columns=["area_code", "stream", "financial_year"])


def coverage(expected: pd.DataFrame, allocations: pd.DataFrame, reports: pd.DataFrame) -> pd.DataFrame:
    """What is known for each expected cell: the chosen figure's kind, only a multi-year total, or none."""
    chosen = {(r.area_code, r.stream, r.financial_year): r for r in allocations.itertuples(index=False)}
    spans = reports[
        reports["area_code"].notna()
        & reports["financial_year"].notna()
        & (reports["financial_year"] != reports["financial_year_last"])
    ]
    rows = []
    for cell in expected.itertuples(index=False):
        key = (cell.area_code, cell.stream, cell.financial_year)
        if key in chosen:
            known, conflict, source = chosen[key].amount_kind, chosen[key].has_conflict, chosen[key].source_id
        else:
            covering = spans[
                (spans["area_code"] == cell.area_code)
                & (spans["stream"] == cell.stream)
                & (spans["financial_year"] <= cell.financial_year)
                & (spans["financial_year_last"].isna() | (spans["financial_year_last"] >= cell.financial_year))
            ]
            known = "multi_year_only" if len(covering) else "none"
            conflict, source = False, None
        rows.append({**cell._asdict(), "known": known, "has_conflict": conflict, "source_id": source})
    return pd.DataFrame(rows)


def reconcile(totals: pd.DataFrame, allocations: pd.DataFrame, expected: pd.DataFrame) -> pd.DataFrame:
    """Each published national total beside the sum of the known cells of its stream and year.

    `status` is 'reconciles' only when every expected cell is known exactly and the sum falls within
    the total as printed; 'consistent' when every cell is known but some only roughly (rounded or a
    bound) and the ranges meet; 'incomplete' whenever any cell is missing (a sum of some cells is
    never called a reconciliation); 'does_not_reconcile' when all cells are known and still disagree.
    """
    rows = []
    for total in totals.to_dict("records"):
        cells = expected[
            (expected["stream"] == total["stream"]) & (expected["financial_year"] == total["financial_year"])
        ]
        known = allocations.merge(cells, on=["area_code", "stream", "financial_year"])
        amounts = [parsing.parse_amount(a) for a in known["amount_as_published"]]
        low = sum((a.low for a in amounts), Decimal(0))
        highs = [a.high for a in amounts if a.high is not None]
        high = sum(highs, Decimal(0)) if len(highs) == len(amounts) else None
        stated = parsing.parse_amount(total["amount_as_published"])
        missing = len(cells) - len(known)
        if missing:
            status = "incomplete"
        elif parsing.ranges_meet([stated, parsing.Amount(low, "rounded", low, high)]):
            status = "reconciles" if all(a.kind == "exact" for a in amounts) else "consistent"
        else:
            status = "does_not_reconcile"
        rows.append(
            total
            | {
                "cells_expected": len(cells),
                "cells_known": len(known),
                "cells_missing": missing,
                "sum_known_gbp": str(sum((Decimal(a) for a in known["amount_gbp"]), Decimal(0))),
                "status": status,
            }
        )
    return pd.DataFrame(rows)
