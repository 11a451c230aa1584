"""Funding figures: from files of many layouts to one report per printed figure, then one figure per cell.

The steps, testable without Dagster (tests/reference.py runs them on small frames in a throwaway DuckDB):

1. `build_reports` maps each raw file's columns onto report fields, as its manifest `funding_layout` says
   (`standardise_sql`); codes areas and streams through the mapping tables; reads periods and amounts; names
   every cell it cannot read with its file, row and column; splits figures stated for each year of a period;
   and keeps a figure two files transcribe once. SQL over the raw tables, so a million rows cost seconds;
   only distinct printed periods and unusual amounts go through the parsers of pipeline/transform/parsing.py.
2. pipeline/transform/sql/core_funding_allocations.sql picks one figure per area, stream and year by source
   authority (bounds by their own rule: set aside when a better source contradicts them, pinning the figure when
   a lower and an upper bound meet), says which step decided, flags cells whose reports cannot all be true at
   once, and marks a figure of a stream another replaced that year (schemas/vocabulary.py SUCCESSIONS).
3. `reconcile` compares published national totals with the sum of the known cells, naming the cells in doubt.
4. `coverage` says, for every cell that could exist, what kind of figure is known.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd

from pipeline.transform import parsing
from pipeline.transform.warehouse import literal, quoted
from pipeline.validation import Failure
from schemas.vocabulary import (
    FUNDING_FIRST_YEAR,
    FUNDING_LAST_YEAR,
    STREAMS,
    VRU_AREA_STREAMS,
    financial_year,
    stream_runs,
)

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


@dataclass(frozen=True)
class FundingFile:
    """One funding file as the reports step reads it: its raw table and its manifest entry's layout."""

    file_id: str
    table: str  # the raw table in the warehouse, e.g. raw.local_reports__gap_fill
    layout: dict
    raw_file: str  # raw/<path>, named on every row and in every failure
    source_id: str  # the file's source; a per-row source_id column overrides it

    def parts(self) -> list[tuple[str | None, str | None]]:
        """(amount column, stream) per report shape: one per amount column of a wide table, else one."""
        return list(self.layout.get("amount_columns", {}).items()) or [(None, None)]

    def raw_column(self, field: str, amount_column: str | None) -> str:
        """The file's own heading of a report field, for messages."""
        if field == "amount_as_published" and amount_column:
            return amount_column
        renamed = {report_field: raw for raw, report_field in self.layout.get("columns", {}).items()}
        return renamed.get(field, field)


def standardise_sql(file: FundingFile, columns: list[str], index: int) -> str:
    """A SELECT of one file's reports, whatever its own columns are called: one row per printed figure with the
    report fields (text), its report id, the basis of its amount, the raw file and row, and its position
    (`_file`, `_part`) so that the first of two repeats can be kept.

    `layout["columns"]` renames raw columns to report fields; `layout["amount_columns"]` lists the
    columns of a wide table, each holding the amounts of one stream; `layout["constants"]` fills
    fields the file does not print per row (a single publication's year, say);
    `layout["each_year_rows"]` names the rows whose amount the source states for each year of the
    period printed beside it, not for the period as a whole (row number: the source's words).
    A blank amount is a gap, not a figure: it gets no row.
    """
    renames = {field: raw for raw, field in file.layout.get("columns", {}).items()}
    constants = file.layout.get("constants", {})
    each_year = sorted({int(row) for row in file.layout.get("each_year_rows", {})})
    selects = []
    for part, (amount_column, stream) in enumerate(file.parts()):
        fields = []
        for field in REPORT_FIELDS:
            if field in constants:
                value = literal(str(constants[field]))
            elif amount_column and field == "amount_as_published":
                value = quoted(amount_column)
            elif stream and field == "stream_as_published":
                value = literal(stream)
            elif field in renames:
                value = quoted(renames[field])
            elif field in columns:
                value = quoted(field)
            else:
                value = literal(file.source_id) if field == "source_id" else "NULL"
            fields.append(f"CAST({value} AS VARCHAR) AS {field}")
        suffix = f":{parsing.slug(stream)}" if stream else ""
        basis = f"CASE WHEN _row IN ({', '.join(map(str, each_year))}) THEN 'each_year' ELSE 'whole_period' END"
        selects.append(
            f"SELECT {literal(file.file_id + ':')} || _row || {literal(suffix)} AS report_id, {', '.join(fields)}, "
            f"{basis if each_year else literal('whole_period')} AS amount_basis, {literal(file.raw_file)} AS raw_file, "
            f"CAST(_row AS INTEGER) AS raw_row, {index} AS _file, {part} AS _part FROM {file.table}"
        )
    return " UNION ALL ".join(f"SELECT * FROM ({s}) WHERE amount_as_published IS NOT NULL" for s in selects)


# A report whose amount the source states for each year of the several years it spans.
EACH_YEAR_OF_A_SPAN = (
    "amount_basis = 'each_year' AND financial_year IS NOT NULL AND financial_year_last IS NOT NULL "
    "AND financial_year <> financial_year_last"
)


def build_reports(
    con: duckdb.DuckDBPyConnection,
    files: list[FundingFile],
    areas: str,
    streams: str,
    sources: str,
    target: str,
) -> tuple[int, list[Failure]]:
    """Every funding figure as one source reports it, into the table `target`: (repeats dropped, failures).

    `areas` is a table of accepted area spellings (area_as_published, area_code: blank for a region),
    `streams` of stream labels (stream_as_published, stream, component), `sources` of source ids with their
    authority_rank. The work is SQL over the raw tables, columnar at any size; only the distinct printed
    periods and the distinct amounts not in the plainest form ("£1,234" or "£1,234.56", read in SQL) are read
    by the parsers of pipeline/transform/parsing.py, once each. Each unreadable cell becomes a named failure (file, row,
    the file's own column); a row with several problems reports the first (area, then stream, then period, then
    amount) and gets no report. Then a figure stated for each year of a period becomes one report per year, and
    a source's figure that two files both transcribe is kept once (the first file's row).
    """
    union = " UNION ALL ".join(standardise_sql(f, _columns(con, f.table), i) for i, f in enumerate(files))
    con.execute(f"CREATE OR REPLACE TEMP VIEW standardised AS {union}")

    texts = [t for (t,) in con.execute("SELECT DISTINCT year_as_published FROM standardised").fetchall()]
    spans, span_errors = _read_each(texts, parsing.parse_year_span)
    for text, span in spans.items():
        if span.first and not FIRST_YEAR <= int(span.first[:4]) <= LAST_YEAR + 1:
            span_errors[text] = (
                f"year {span.first} is outside {financial_year(FIRST_YEAR)} to {financial_year(LAST_YEAR + 1)}"
            )
    years = pd.DataFrame(
        [(t, s.first, s.last, s.inferred, None) for t, s in spans.items() if t not in span_errors]
        + [(t, None, None, False, e) for t, e in span_errors.items()],
        columns=["text", "first", "last", "inferred", "error"],
    ).astype({"text": object, "first": object, "last": object, "inferred": bool, "error": object})
    general = [
        t
        for (t,) in con.execute(
            "SELECT DISTINCT amount_as_published FROM standardised "
            f"WHERE NOT regexp_full_match(amount_as_published, {literal(parsing.PLAIN_POUNDS)})"
        ).fetchall()
    ]
    parsed, amount_errors = _read_each(general, parsing.parse_amount)
    amounts = pd.DataFrame(
        [
            (t, str(a.gbp), a.kind, float(a.low), None if a.high is None else float(a.high), a.over_years, None)
            for t, a in parsed.items()
        ]
        + [(t, None, None, None, None, None, e) for t, e in amount_errors.items()],
        columns=["text", "gbp", "kind", "low", "high", "over_years", "error"],
    ).astype(object)
    con.register("parsed_years", years)
    con.register("parsed_amounts", amounts)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE year_spans AS SELECT text, CAST(first AS VARCHAR) AS first, "
        "CAST(last AS VARCHAR) AS last, CAST(inferred AS BOOLEAN) AS inferred, CAST(error AS VARCHAR) AS error "
        "FROM parsed_years"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE general_amounts AS SELECT CAST(text AS VARCHAR) AS text, "
        "CAST(gbp AS DECIMAL(18, 2)) AS gbp, CAST(kind AS VARCHAR) AS kind, CAST(low AS DOUBLE) AS low, "
        "CAST(high AS DOUBLE) AS high, CAST(over_years AS INTEGER) AS over_years, CAST(error AS VARCHAR) AS error "
        "FROM parsed_amounts"
    )
    con.unregister("parsed_years")
    con.unregister("parsed_amounts")
    con.execute(read_sql(areas, streams))

    failures = [
        Failure(
            files[index].raw_file,
            row,
            files[index].raw_column(field, files[index].parts()[part][0]),
            value,
            problem,
        )
        for index, part, row, field, value, problem in con.execute(
            "SELECT _file, _part, raw_row, problem_field, problem_value, problem FROM read_reports "
            "WHERE problem IS NOT NULL ORDER BY _file, _part, raw_row"
        ).fetchall()
    ]
    con.execute(expand_sql(target, sources))
    unknown = [s for (s,) in con.execute(f"SELECT DISTINCT source_id FROM {target} WHERE authority_rank IS NULL "
                                          "ORDER BY 1").fetchall()]  # fmt: skip
    if unknown:
        failures.append(
            Failure(
                "raw/sources.yaml",
                None,
                "source_id",
                ", ".join(unknown),
                "cited by funding files but not in the manifest's sources",
            )
        )
    # Reports before repeats were dropped: one per good row, and one per year of a figure stated for each year.
    ((expanded,),) = con.execute(
        "SELECT count(*) + coalesce(sum(CAST(left(financial_year_last, 4) AS INTEGER) - "
        f"CAST(left(financial_year, 4) AS INTEGER)) FILTER ({EACH_YEAR_OF_A_SPAN}), 0) "
        "FROM read_reports WHERE problem IS NULL"
    ).fetchall()
    ((kept,),) = con.execute(f"SELECT count(*) FROM {target}").fetchall()
    con.execute("DROP VIEW standardised")
    for table in ("year_spans", "general_amounts", "read_reports"):
        con.execute(f"DROP TABLE {table}")
    return expanded - kept, failures


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [row[0] for row in con.execute(f"DESCRIBE {table}").fetchall()]


def read_sql(areas: str, streams: str) -> str:
    """Every standardised report with its codes, period and amount read, or the first problem that stops it. Plain
    amounts are read here; the others come from the parsers (general_amounts), periods from year_spans."""
    return f"""
CREATE OR REPLACE TEMP TABLE read_reports AS
WITH area_names AS (
    SELECT area_as_published, any_value(area_code) AS area_code FROM {areas} GROUP BY area_as_published
),
stream_labels AS (
    SELECT stream_as_published, any_value(stream) AS stream, any_value(component) AS component
    FROM {streams} GROUP BY stream_as_published
),
joined AS (
    SELECT
        s.*,
        a.area_as_published IS NOT NULL AS area_known,
        a.area_code,
        l.stream_as_published IS NOT NULL AS stream_known,
        l.stream,
        l.component,
        y.first,
        y.last,
        coalesce(y.inferred, false) AS inferred,
        y.error AS year_error,
        regexp_full_match(s.amount_as_published, {literal(parsing.PLAIN_POUNDS)}) AS plain,
        g.gbp,
        g.kind,
        g.low,
        g.high,
        g.over_years,
        g.error AS amount_error
    FROM standardised AS s
    LEFT JOIN area_names AS a ON a.area_as_published = s.area_as_published
    LEFT JOIN stream_labels AS l ON l.stream_as_published = s.stream_as_published
    LEFT JOIN year_spans AS y ON y.text = s.year_as_published
    LEFT JOIN general_amounts AS g ON g.text = s.amount_as_published
),
checked AS (
    SELECT
        *,
        CASE
            WHEN NOT area_known THEN 'area_as_published'
            WHEN NOT stream_known THEN 'stream_as_published'
            WHEN year_error IS NOT NULL THEN 'year_as_published'
            WHEN amount_error IS NOT NULL THEN 'amount_as_published'
        END AS problem_field,
        CASE
            WHEN plain THEN CAST(replace(substr(amount_as_published, 2), ',', '') AS DECIMAL(18, 2))
            ELSE gbp
        END AS amount,
        -- "£3.5m over three years" printed against one year: the total covers that year and the next ones.
        coalesce(over_years, 0) > 0 AND first IS NOT NULL AND first = last AS spread_over_years
    FROM joined
)
SELECT
    report_id, area_as_published, stream_as_published, year_as_published, amount_as_published, notes, source_id,
    amount_basis, raw_file, raw_row, area_code, stream, component,
    first AS financial_year,
    CASE
        WHEN spread_over_years THEN printf('%d-%02d', CAST(left(first, 4) AS INTEGER) + over_years - 1,
                                           (CAST(left(first, 4) AS INTEGER) + over_years) % 100)
        ELSE last
    END AS financial_year_last,
    inferred OR spread_over_years AS is_year_inferred,
    amount AS amount_gbp,
    CASE WHEN plain THEN 'exact' ELSE kind END AS amount_kind,
    -- The range each printed amount allows, for spotting conflicts (not published).
    CASE WHEN plain THEN CAST(amount AS DOUBLE) ELSE low END AS amount_low,
    CASE WHEN plain THEN CAST(amount AS DOUBLE) ELSE high END AS amount_high,
    _file, _part,
    problem_field,
    CASE problem_field
        WHEN 'area_as_published' THEN area_as_published
        WHEN 'stream_as_published' THEN stream_as_published
        WHEN 'year_as_published' THEN year_as_published
        WHEN 'amount_as_published' THEN amount_as_published
    END AS problem_value,
    CASE problem_field
        WHEN 'area_as_published' THEN 'unknown area name: add the spelling to raw/mappings/area_names.csv'
        WHEN 'stream_as_published' THEN 'unknown stream label: add it to raw/mappings/funding_streams.csv'
        WHEN 'year_as_published' THEN year_error
        WHEN 'amount_as_published' THEN amount_error
    END AS problem
FROM checked
"""


def expand_sql(target: str, sources: str) -> str:
    """A figure stated for each year of a period becomes one report per year (report id + ':YYYY-YY'): "£7,988,282
    for each financial year 2022/23 to 2024/25" is three yearly figures, not a three-year total, which would
    understate the area's funding threefold. Then one row per area, stream, component, period and source: a
    source's figure that two files both transcribe is one report (the first file's row is kept; yearly rows come
    after the rest). Each report gets its source's authority rank."""
    key = (
        "source_id",
        "area_as_published",
        "stream",
        "component",
        "financial_year",
        "financial_year_last",
        "amount_as_published",
    )
    same = " AND ".join(f"r.{c} IS NOT DISTINCT FROM d.{c}" for c in key)
    return f"""
CREATE OR REPLACE TABLE {target} AS
WITH good AS (
    SELECT * EXCLUDE (problem_field, problem_value, problem), {EACH_YEAR_OF_A_SPAN} AS _spread
    FROM read_reports WHERE problem IS NULL
),
expanded AS (
    SELECT * EXCLUDE (_spread), {{'spread': 0, 'file': _file, 'part': _part, 'row': raw_row, 'year': 0}} AS _position
    FROM good WHERE NOT _spread
    UNION ALL
    SELECT * EXCLUDE (_start) REPLACE (
        report_id || ':' || printf('%d-%02d', _start, (_start + 1) % 100) AS report_id,
        printf('%d-%02d', _start, (_start + 1) % 100) AS financial_year,
        printf('%d-%02d', _start, (_start + 1) % 100) AS financial_year_last
    ), {{'spread': 1, 'file': _file, 'part': _part, 'row': raw_row, 'year': _start}} AS _position
    FROM (
        SELECT * EXCLUDE (_spread),
            unnest(range(CAST(left(financial_year, 4) AS INTEGER), CAST(left(financial_year_last, 4) AS INTEGER) + 1))
                AS _start
        FROM good WHERE _spread
    )
),
-- Groups of repeats only (usually none): comparing every row with a window over a million rows costs seconds.
repeated AS (
    SELECT {", ".join(key)}, min(_position) AS first FROM expanded GROUP BY ALL HAVING count(*) > 1
)
SELECT r.* EXCLUDE (_file, _part, _position), s.authority_rank
FROM expanded AS r
LEFT JOIN repeated AS d ON {same}
LEFT JOIN (SELECT source_id, any_value(authority_rank) AS authority_rank FROM {sources} GROUP BY source_id) AS s
    ON s.source_id = r.source_id
WHERE d.first IS NULL OR r._position = d.first
"""


def _read_each(texts: list[str | None], parse) -> tuple[dict, dict]:
    """Parse each of the distinct strings (a blank is skipped): (parsed by string, error message by string)."""
    parsed, errors = {}, {}
    for text in (t for t in texts if t is not None):
        try:
            parsed[text] = parse(text)
        except parsing.ParseError as exc:
            errors[text] = str(exc)
    return parsed, errors


def financial_years() -> list[str]:
    return [financial_year(y) for y in range(FIRST_YEAR, LAST_YEAR + 1)]


def expected_cells(vru_first_years: dict[str, str], all_areas: list[str]) -> pd.DataFrame:
    """Every area, stream and year for which a Home Office figure could exist: each stream in the years it ran
    (schemas/vocabulary.py STREAM_YEARS), the VRU_AREA_STREAMS to the areas with a VRU from its first funded
    year, the others to every area.
    """
    rows = []
    for year in financial_years():
        for area, first in vru_first_years.items():
            rows += [(area, s, year) for s in VRU_AREA_STREAMS if year >= first and stream_runs(s, year)]
        for area in all_areas:
            rows += [(area, s, year) for s in STREAMS if s not in VRU_AREA_STREAMS and stream_runs(s, year)]
    return pd.DataFrame(rows, columns=["area_code", "stream", "financial_year"])


def coverage(expected: pd.DataFrame, allocations: pd.DataFrame, spans: pd.DataFrame) -> pd.DataFrame:
    """What is known for each expected cell: the chosen figure's kind, only a multi-year total, or none.

    `spans`: the reports of one area that cover several years (area_code, stream, financial_year and
    financial_year_last, which is blank where the span's end is not printed), as core_funding_coverage selects them.
    """
    chosen = {(r.area_code, r.stream, r.financial_year): r for r in allocations.itertuples(index=False)}
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


def reconcile(
    totals: pd.DataFrame,
    allocations: pd.DataFrame,
    expected: pd.DataFrame,
    flags: dict[tuple[str, str, str], str] | None = None,
) -> pd.DataFrame:
    """Each published national total beside the sum of the known cells of its stream and year.

    `status` is 'reconciles' only when every expected cell is known exactly and the sum falls within
    the total as printed; 'consistent' when every cell is known but some only roughly (rounded or a
    bound) and the ranges meet; 'rests_on_flagged' when either would hold only with a figure in doubt (its
    reports conflict, or `flags`, by area, stream and year, names a plausibility rule that flagged it);
    'incomplete' whenever any cell is missing (a sum of some cells is never called a reconciliation);
    'does_not_reconcile' when all cells are known and still disagree. A superseded figure
    (superseded_because) is never summed.
    """
    flags = flags or {}
    if "superseded_because" in allocations:
        allocations = allocations[allocations["superseded_because"].isna()]
    rows = []
    for total in totals.to_dict("records"):
        cells = expected[
            (expected["stream"] == total["stream"]) & (expected["financial_year"] == total["financial_year"])
        ]
        known = allocations.merge(cells, on=["area_code", "stream", "financial_year"])
        doubts = []
        for cell in known.to_dict("records"):
            why = [w for w in (flags.get((cell["area_code"], cell["stream"], cell["financial_year"])),) if w]
            if cell.get("has_conflict"):
                why.insert(0, "reports conflict")
            if why:
                doubts.append(f"{cell['area_code']} ({', '.join(why)})")
        amounts = [parsing.parse_amount(a) for a in known["amount_as_published"]]
        low = sum((a.low for a in amounts), Decimal(0))
        highs = [a.high for a in amounts if a.high is not None]
        high = sum(highs, Decimal(0)) if len(highs) == len(amounts) else None
        stated = parsing.parse_amount(total["amount_as_published"])
        missing = len(cells) - len(known)
        if missing:
            status = "incomplete"
        elif parsing.ranges_meet([stated, parsing.Amount(low, "rounded", low, high)]):
            if doubts:
                status = "rests_on_flagged"
            else:
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
                "cells_flagged": len(doubts),
                "flagged_cells": "; ".join(sorted(doubts)) or None,
            }
        )
    return pd.DataFrame(rows)
