"""Reference implementations the tests compare the pipeline against, and small-frame forms of its SQL steps.

Nothing in pipeline/ calls these: they live with the tests that use them.

- `format_value` and `csv_bytes`: the CSV contract written cell by cell in Python. The pipeline writes its CSVs
  with DuckDB (pipeline/publish/package.py, `csv_select`); tests/test_publish.py proves the bytes equal.
- `reports_from_frames` and `choose_allocations`: the funding steps (pipeline/transform/funding.py and
  sql/core_funding_allocations.sql) run on small frames in a throwaway DuckDB, the same code the assets run.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import duckdb
import pandas as pd

from pipeline.transform.funding import ALLOCATION_SQL, ALLOCATION_STREAMS, FundingFile, build_reports
from pipeline.transform.sqltext import sql_text
from pipeline.validation import Failure


def format_value(value: object) -> str:
    """One CSV cell: blank for missing, ISO dates, lower-case booleans, no float artefacts."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        # A column declared with two places (money, percentages) always prints both, so that every reader
        # (polars guesses a column's type from its first rows) sees a decimal column; other whole numbers print
        # whole, and a rate stored with more places prints the digits the source published.
        if value.as_tuple().exponent == -2:
            return f"{value:.2f}"
        if value == value.to_integral_value():
            return str(value.quantize(Decimal(1)))
        return format(value.normalize(), "f")
    if isinstance(value, float):
        raise TypeError(f"float {value!r} reached the CSV writer; declare the column as an exact number")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def csv_bytes(header: list[str], rows: list[tuple]) -> bytes:
    """UTF-8, LF line endings, a header row, quoting only where needed."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([format_value(v) for v in row] for row in rows)
    return buffer.getvalue().encode("utf-8")


def reports_from_frames(
    files: list[tuple[pd.DataFrame, dict, str, str, str]],
    areas: dict[str, str | None],
    streams: dict[str, tuple[str, str]],
    ranks: dict[str, int] | None = None,
) -> tuple[pd.DataFrame, list[Failure], int]:
    """`build_reports` on raw frames (frame, layout, file id, raw file, source id), in a throwaway database:
    (reports, failures, repeats dropped). Every source cited has authority rank 1 unless `ranks` says."""
    with duckdb.connect() as con:
        con.execute("CREATE SCHEMA raw")
        for frame, _, file_id, _, _ in files:
            con.register("frame", frame)
            con.execute(f"CREATE TABLE raw.{file_id} AS SELECT * FROM frame")
            con.unregister("frame")
        con.register("area_frame", pd.DataFrame(list(areas.items()), columns=["area_as_published", "area_code"]))
        con.register(
            "stream_frame",
            pd.DataFrame([(k, *v) for k, v in streams.items()], columns=["stream_as_published", "stream", "component"]),
        )
        cited = {s for frame, _, _, _, source in files for s in [source, *frame.get("source_id", [])] if s}
        ranks = ranks if ranks is not None else dict.fromkeys(cited, 1)
        con.register("rank_frame", pd.DataFrame(list(ranks.items()), columns=["source_id", "authority_rank"]))
        found = [FundingFile(f, f"raw.{f}", layout, raw_file, source) for _, layout, f, raw_file, source in files]
        repeats, failures = build_reports(con, found, "area_frame", "stream_frame", "rank_frame", "reports")
        exact = "CAST(amount_gbp AS VARCHAR) AS amount_gbp"
        reports = con.execute(f"SELECT * REPLACE ({exact}) FROM reports ORDER BY report_id").df()
    return reports.astype(object).where(reports.notna(), None), failures, repeats


def choose_allocations(reports: pd.DataFrame) -> pd.DataFrame:
    """One figure per area, stream and single financial year, chosen by source authority.

    Rule: the most authoritative kind of source wins (Home Office table, then Home Office answer,
    then PCC/VRU/force publication, then press); among equals an exact figure beats a rounded one,
    which beats a bound; then the more precise wording ("£2.58 million" over "£2m"); then the lowest
    source id, compared as a number (S14 before S113). `has_conflict` marks a cell whose reports cannot
    all be true at once (their ranges do not meet: "£1.16m" and "£1.6m" conflict, "more than
    £1.1 million" and "£1.16m" do not). A bound a more authoritative report contradicts is set aside; a lower
    and an upper bound that meet pin the figure; `chosen_because` names the step that decided.
    `min_reported_gbp` and `max_reported_gbp` compare amounts as numbers.

    The rule is pipeline/transform/sql/core_funding_allocations.sql, which the asset runs in the warehouse over a
    million reports as fast as over a hundred; here the same SQL runs over a frame of reports.
    """
    with duckdb.connect() as con:
        con.execute("CREATE SCHEMA core")
        con.register("frame", reports)
        con.execute("CREATE TABLE core.funding_reports AS SELECT * FROM frame")
        con.execute(sql_text(ALLOCATION_SQL), {"streams": list(ALLOCATION_STREAMS)})
        # Amounts as exact text ('2580000.00'): a DECIMAL column would reach pandas as floats.
        exact = ("amount_gbp", "min_reported_gbp", "max_reported_gbp")
        amounts = ", ".join(f"CAST({c} AS VARCHAR) AS {c}" for c in exact)
        chosen = con.execute(f"SELECT * REPLACE ({amounts}) FROM core.funding_allocations").df()
    return chosen.astype(object).where(chosen.notna(), None)
