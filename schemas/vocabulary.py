"""The project's vocabularies, each written once: financial years ('2019-20' is April 2019 to March 2020),
funding streams and the years each ran, components, kinds of printed amount, amounts as printed, verdicts on
claims, the groups of areas that outcome comparisons compare. Raw and published schemas, the pipeline's SQL and
Python, the charts and the card read them from here (or generate their text from them)."""

import csv
from dataclasses import dataclass
from pathlib import Path


def financial_year(start: int) -> str:
    """'2019-20' for the year starting April 2019."""
    return f"{start}-{(start + 1) % 100:02d}"


# Funding: the years the sources cover, 2019-20 (the first VRU allocations) to 2025-26. A multi-year figure
# may end one year later, so published year columns allow 2026-27 too.
FUNDING_FIRST_YEAR, FUNDING_LAST_YEAR = 2019, 2025
FUNDING_YEARS = tuple(financial_year(y) for y in range(FUNDING_FIRST_YEAR, FUNDING_LAST_YEAR + 2))
# Outcomes: the ONS series run from 2010-11 (the knife series) to the latest three-year period.
OUTCOME_YEARS = tuple(financial_year(y) for y in range(2010, 2027))

# Funding streams a figure is chosen for (allocations), and the labels a report may also carry.
STREAMS = ("vru", "surge_grip", "hotspot_fund", "svd")
REPORT_STREAMS = (*STREAMS, "combined", "other")


@dataclass(frozen=True)
class Succession:
    """A stream that another replaced from a financial year (by its starting calendar year): from then on the
    money is counted in `by`, so a figure still printed for `stream` in or after that year is not added to
    anything (it would count the same money twice); it stays in funding_allocations with `why`."""

    stream: str
    by: str
    from_year: int
    why: str

    def covers(self, year: str) -> bool:
        return year >= financial_year(self.from_year)


# Which stream replaced or took in which, from which year: the one place the pipeline (funding_allocations,
# funding_coverage, area_year, national_totals) reads it from. The sources (SOURCES.md; the Hotspot Response
# programme page, updated 21 March 2024) say Grip was merged with anti-social behaviour hotspot money into the
# Hotspot Response Fund for 2024-25.
SUCCESSIONS = (
    Succession(
        "surge_grip",
        "hotspot_fund",
        2024,
        "Grip was merged into the Hotspot Response Fund from 2024-25: a Grip figure for 2024-25 or later is "
        "money the hotspot_fund figure of the year already counts",
    ),
)


def superseded(stream: str, year: str) -> Succession | None:
    """The succession that makes the stream's figure for the year not count (None: it counts)."""
    return next((s for s in SUCCESSIONS if s.stream == stream and s.covers(year)), None)


# The financial years (by their starting calendar year) each stream ran: first, and last (None: still running).
# A replaced stream's last year is the one before its replacement's (SUCCESSIONS); the Serious Violence Duty grant
# began with the duty.
_REPLACED_FROM = {s.stream: s.from_year for s in SUCCESSIONS}
STREAM_YEARS: dict[str, tuple[int, int | None]] = {
    stream: (first, _REPLACED_FROM[stream] - 1 if stream in _REPLACED_FROM else None)
    for stream, first in {"vru": 2019, "surge_grip": 2019, "hotspot_fund": 2024, "svd": 2022}.items()
}
# The streams paid only to areas with a VRU, from the VRU's first funded year; the others go to every area.
VRU_AREA_STREAMS = ("vru", "surge_grip")


def stream_runs(stream: str, year: str) -> bool:
    """Whether the stream ran in the financial year ('2023-24'), by STREAM_YEARS."""
    first, last = STREAM_YEARS[stream]
    return financial_year(first) <= year and (last is None or year <= financial_year(last))


def stream_first_year(stream: str) -> str:
    return financial_year(STREAM_YEARS[stream][0])


def stream_last_year(stream: str) -> str:
    last = STREAM_YEARS[stream][1]
    if last is None:
        raise ValueError(f"stream {stream!r} is still running")
    return financial_year(last)


# 'minimum': a floor a source states for every area of a stream ("no VRU receives less than £880,000 a year"):
# never an area's figure, but a bound its figures must meet.
COMPONENTS = ("total", "labour", "non_labour", "first_tranche", "additional", "minimum")
AMOUNT_KINDS = ("exact", "rounded", "upper_bound", "lower_bound")
# Which step of funding_allocations' rule chose a cell's figure (pipeline/transform/sql/core_funding_allocations.sql).
CHOSEN_BECAUSE = ("only_report", "authority", "exactness", "precision", "bounds_combined", "id_order")
# national_totals.status, from the strongest claim to none (pipeline/transform/funding.py reconcile).
TOTAL_STATUSES = ("reconciles", "consistent", "rests_on_flagged", "incomplete", "does_not_reconcile")
# An exact amount as the Home Office prints it, "£8,907,532" or "£29,409.93": pounds with digits in groups of
# three, pence in two places, no sign, no words. One pattern for the raw schemas (which refuse anything else in
# an amount column) and for the pipeline's SQL (which reads these directly and sends any other printed amount to
# pipeline/transform/parsing.parse_amount); it is both Python's and DuckDB's (RE2) syntax.
GBP_AS_PRINTED = r"£\d{1,3}(?:,\d{3})*(?:\.\d{2})?"
GBP_HINT = "an amount in pounds as printed, like '£8,907,532' or '£29,409.93' (no sign, no words)"
VERDICTS = ("supported", "supported_with_caveats", "misstated", "not_supported")

# Kinds of source and their authority rank live in one place, the project's mapping raw/mappings/source_kinds.csv:
# the pipeline loads it as a raw table (its lineage is published), and the published schema's enum and range are
# read from it here, in its row order.
SOURCE_KINDS_CSV = Path(__file__).resolve().parents[1] / "raw" / "mappings" / "source_kinds.csv"


def source_kind_ranks(path: Path | None = None) -> dict[str, int]:
    """Each kind of source with its authority rank (1 highest), in the mapping's order."""
    with (path or SOURCE_KINDS_CSV).open(encoding="utf-8", newline="") as handle:
        return {row["kind"]: int(row["authority_rank"]) for row in csv.DictReader(handle)}


@dataclass(frozen=True)
class AreaGroup:
    """A group of areas in the outcome comparisons: those whose VRU was first funded in one year, or those
    without a VRU (first_funded_year None)."""

    first_funded_year: str | None

    @property
    def code(self) -> str:
        return "no_vru" if self.first_funded_year is None else f"vru_from_{self.first_funded_year}"

    @property
    def name(self) -> str:
        """Short label, for charts and table cells."""
        return "no VRU" if self.first_funded_year is None else f"VRU from {self.first_funded_year}"

    @property
    def in_words(self) -> str:
        """The label inside a sentence."""
        return (
            "areas without a VRU"
            if self.first_funded_year is None
            else f"areas with a VRU from {self.first_funded_year}"
        )


# Outcome comparisons: areas grouped by the year their VRU was first funded (violence_reduction_units), then the
# areas without a VRU; and each figure computed with every value and without the values a plausibility rule
# flagged.
AREA_GROUP_LIST = (AreaGroup("2019-20"), AreaGroup("2022-23"), AreaGroup(None))
AREA_GROUPS = tuple(g.code for g in AREA_GROUP_LIST)
AREA_GROUP = {g.code: g for g in AREA_GROUP_LIST}


def area_group_sql(first_funded_year: str) -> str:
    """The SQL expression giving an area's group code from its VRU's first funded year (NULL: no VRU)."""
    none = AreaGroup(None).code
    prefix = AreaGroup("").code
    return f"CASE WHEN {first_funded_year} IS NULL THEN '{none}' ELSE '{prefix}' || {first_funded_year} END"


VARIANTS = ("all_values", "excluding_flagged", "excluding_flagged_and_noted")

# What a publisher's footnote says of the values it covers (raw/mappings/source_note_coverage.csv), and whether
# the excluding_flagged_and_noted comparisons leave such values out: a value the publisher says is short, estimated
# or not comparable with other forces is left out whatever a threshold says; a revision, a figure that may change
# or one event counted in the year is linked and kept; a note that explains a symbol the force's cells print, or says
# nothing of its figures (a marker misplaced on its name), is read and covers no value.
NOTE_KINDS = {
    "under_count": True,
    "estimated": True,
    "not_comparable": True,
    "revised": False,
    "provisional": False,
    "includes_event": False,
    "explains_symbol": False,
    "general": False,
}

# The streams area_year gives per head: those with per-year figures in years whose population is in hand
# (area_populations: mid-2011 to mid-2023). Not hotspot_fund (from 2024-25, no population yet) nor svd (its figures
# before 2024-25 are multi-year totals: two area-years would have a value, a column a reader could not even type).
PER_HEAD_STREAMS = ("vru", "surge_grip")

# Which population a per-head figure or a rate uses, declared once: the ONS mid-year estimate (30 June) that falls
# inside the period. A one-year period holds exactly one 30 June (a financial year 2019-20 uses mid-2019; a year to
# June 2018 uses mid-2018); a period without an estimate in hand (the year to June 2025) has no rate.
POPULATION_RULE = (
    "the ONS mid-year population estimate (30 June) that falls inside the period: mid-2019 for the financial year "
    "2019-20 or the calendar year 2019, mid-2018 for the year ending June 2018; a period with no estimate in "
    "area_populations (mid-2011 to mid-2023) has no rate"
)


def mid_year_within_sql(period_start: str, period_end: str) -> str:
    """SQL for the year of the last 30 June on or before `period_end`, or NULL where that 30 June falls before
    `period_start` (a period of less than a year without one)."""
    last = f"(year({period_end}) - CASE WHEN {period_end} < make_date(year({period_end}), 6, 30) THEN 1 ELSE 0 END)"
    return f"CASE WHEN make_date({last}, 6, 30) >= {period_start} THEN {last} END"
