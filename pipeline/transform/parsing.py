"""Pure parsing steps, each testable on a plain string without Dagster or DuckDB."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from schemas.vocabulary import GBP_AS_PRINTED, financial_year


class ParseError(ValueError):
    """A published string that a parser cannot read; the message quotes the string."""


@dataclass(frozen=True)
class Amount:
    """A printed amount read faithfully: its value, what kind of figure it is, and what it allows.

    `low`/`high` bound the true amount the wording is consistent with: an exact figure is a point;
    "£1.16m" is 1,155,000 to 1,170,000 (rounded to the nearest printed digit, or cut short as the
    press often does: £4,388,080 printed as "£4.3m"); "over £4.38m" has no upper limit. Two reports
    of one cell conflict when their ranges do not meet.
    """

    gbp: Decimal
    kind: str  # exact, rounded, lower_bound, upper_bound
    low: Decimal
    high: Decimal | None  # None: no upper limit
    over_years: int | None = None  # "£3.5m over three years": a total over that many years


_QUALIFIERS = {
    "more than": "lower_bound",
    "just over": "lower_bound",
    "over": "lower_bound",
    "at least": "lower_bound",
    "no less than": "lower_bound",
    # ITV printed "each get more £3.3 million", "than" evidently missing: read as "more than".
    "more": "lower_bound",
    "up to": "upper_bound",
    "just under": "upper_bound",
    "under": "upper_bound",
    "almost": "upper_bound",
    "around": "rounded",
    "about": "rounded",
    "approximately": "rounded",
    "c.": "rounded",
    # Words that do not change what the number is.
    "a further": None,
    "the minimum": None,
}
_QUALIFIER = "|".join(re.escape(q) for q in sorted(_QUALIFIERS, key=len, reverse=True))
_AMOUNT = re.compile(
    rf"(?:(?P<qualifier>{_QUALIFIER})\s*)?(?P<pound>£)?\s?"
    r"(?P<number>\d{1,3}(?:[, ]\d{3})+|\d+)(?P<decimals>\.\d+)?\s?(?P<unit>million|m|k)?"
    r"(?:\s+each)?(?:\s+over\s+(?P<years>two|three|four|five|\d)\s+years)?",
    re.IGNORECASE,
)
_NUMBER_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5}
_UNITS = {None: Decimal(1), "k": Decimal(1000), "m": Decimal(1_000_000), "million": Decimal(1_000_000)}


def parse_amount(text: str) -> Amount:
    """Read an amount as a source prints it, without losing what the wording says.

    "£8,907,532" exact; "£29,409.93" exact with pence; "£3.37m", "£1.16 million", "880k", "c.£535k"
    rounded; "up to £880,000", "just under £1m" upper bounds; "more than £1.1 million", "over £5M"
    lower bounds; "£3.5m over three years" a rounded total over three years. Anything else is
    refused with the string quoted, never guessed.
    """
    match = _AMOUNT.fullmatch(text.strip())
    if not match or not (match["pound"] or match["unit"]):
        raise ParseError(f"cannot read amount {text!r}: expected pounds as printed, like '£8,907,532' or '£3.37m'")
    unit = (match["unit"] or "").lower() or None
    digits = match["number"].replace(",", "").replace(" ", "")
    decimals = match["decimals"] or ""
    if unit is None and decimals and len(decimals) != 3:
        raise ParseError(f"cannot read amount {text!r}: pence need two decimal places")
    value = Decimal(digits + decimals) * _UNITS[unit]
    qualifier = _QUALIFIERS[match["qualifier"].lower()] if match["qualifier"] else None
    step = Decimal(0)
    if unit is not None:
        # One unit of the last printed digit.
        places = len(decimals) - 1 if decimals else 0
        step = Decimal(1).scaleb(-places) * _UNITS[unit]
    kind = qualifier or ("rounded" if unit is not None else "exact")
    low: Decimal = max(value - step / 2, Decimal(0))
    high: Decimal | None = value + step
    if kind == "lower_bound":
        high = None
    elif kind == "upper_bound":
        low = Decimal(0)
    years = match["years"]
    over_years = (_NUMBER_WORDS.get(years.lower()) or int(years)) if years else None
    return Amount(gbp=value, kind=kind, low=low, high=high, over_years=over_years)


# The commonest printed form, "£8,907,532" or "£29,409.93": the raw schemas' amount as printed
# (schemas/vocabulary.py). An exact figure, read in SQL by pipeline/transform/funding.py (tests/test_parsing.py
# checks it reads what parse_amount reads); any other printed amount goes to parse_amount.
PLAIN_POUNDS = GBP_AS_PRINTED


def ranges_meet(amounts: list[Amount]) -> bool:
    """Whether one true amount could satisfy every report at once (no conflict between them)."""
    low = max(a.low for a in amounts)
    highs = [a.high for a in amounts if a.high is not None]
    return not highs or low <= min(highs)


_FY = r"(?:(?:19|20)\d{2}|\d{2})\s*[/-]\s*(?:(?:19|20)\d{2}|\d{1,2})"
_FINANCIAL_YEAR = re.compile(r"(?P<start>(?:19|20)\d{2}|\d{2})\s*[/-]\s*(?P<end>(?:19|20)\d{2}|\d{1,2})")


@dataclass(frozen=True)
class YearSpan:
    """The financial years a figure covers: first and last (equal for one year), None where unknown."""

    first: str | None
    last: str | None
    inferred: bool


def normalise_financial_year(text: str) -> str:
    """'2023/24', '23/24', '2023-24', '2023-2024' or '2025/6' -> '2023-24'; refuses anything else."""
    match = _FINANCIAL_YEAR.fullmatch(text.strip())
    if not match:
        raise ParseError(f"cannot read financial year {text!r}: expected a form like '2023/24'")
    start = int(match["start"])
    start += 2000 if start < 100 else 0
    end = match["end"]
    if int(end) != (start + 1) % 10 ** len(end):
        raise ParseError(f"financial year {text!r} does not span one April-to-March year")
    return financial_year(start)


def parse_year_span(text: str) -> YearSpan:
    """The financial years a printed period covers.

    One year in any common spelling; ranges ('2019/20-2021/22', '22/23 to 24/25', '2022-25');
    'year ending March 2023'; 'April 2024 - March 2025'; 'since 2019 (to 2023/24)'; a year given only
    in brackets ('year three (2024/25)', 'not printed (2025/26 inferred)'). 'inferred' anywhere marks
    the year as the compiler's inference. 'not stated' and a bare calendar year give no year: a gap.
    """
    raw = text.strip()
    inferred = "inferred" in raw.lower()
    main, _, bracket = raw.partition("(")
    main, bracket = main.strip(), bracket.rstrip(")").strip()
    for candidate, context in ((main, bracket), (bracket, "")):
        span = _span(candidate, context)
        if span:
            return YearSpan(span[0], span[1], inferred)
    if re.fullmatch(r"not stated|not printed|(19|20)\d{2}", main, re.IGNORECASE):
        return YearSpan(None, None, inferred)
    raise ParseError(f"cannot read period {text!r}: expected a financial year like '2023/24' or a range")


def _span(text: str, context: str) -> tuple[str, str | None] | None:
    t = re.sub(r"\s*\binferred\b.*$", "", text, flags=re.IGNORECASE).strip()
    if not t:
        return None
    if m := re.fullmatch(rf"({_FY})\s*(?:-|to)\s*({_FY})", t):
        return normalise_financial_year(m[1]), normalise_financial_year(m[2])
    if (m := re.fullmatch(r"((?:19|20)\d{2})-(\d{2})", t)) and int(m[2]) != (int(m[1]) + 1) % 100:
        start = int(m[1])  # "2022-25": the three years 2022-23 to 2024-25
        return financial_year(start), financial_year(start - start % 100 + int(m[2]) - 1)
    if m := re.fullmatch(r"year ending march ((?:19|20)\d{2})", t, re.IGNORECASE):
        return financial_year(int(m[1]) - 1), financial_year(int(m[1]) - 1)
    # "April 2024 - March 2025" and "2022 to 2023": one financial year written as its calendar years.
    one_year = re.fullmatch(r"(?:april )?((?:19|20)\d{2})\s*(?:-|to)\s*(?:march )?((?:19|20)\d{2})", t, re.IGNORECASE)
    if one_year and int(one_year[2]) == int(one_year[1]) + 1:
        return financial_year(int(one_year[1])), financial_year(int(one_year[1]))
    if m := re.fullmatch(r"since ((?:19|20)\d{2})", t, re.IGNORECASE):
        to = re.fullmatch(rf"to ({_FY})", context)
        return financial_year(int(m[1])), normalise_financial_year(to[1]) if to else None
    try:
        year = normalise_financial_year(t)
    except ParseError:
        return None
    return year, year


_LEADING_YEAR = re.compile(r"((?:19|20)\d{2})\b")


def leading_year(text: str | None) -> int | None:
    """The year a wording starts with ('2021 (Leeds, February 2021)' -> 2021), else None.

    Only a year at the very start counts: 'Funded 2022-25 (...)' is left for the reader.
    """
    if not text:
        return None
    match = _LEADING_YEAR.match(text.strip())
    return int(match[1]) if match else None


def slug(text: str) -> str:
    """An identifier from a name: the part before any bracket or slash, lower-case, hyphenated.

    'Operation Deter (incl. Op Deter Youth)' -> 'operation-deter'.
    """
    head = re.split(r"\s[(/]", text, maxsplit=1)[0]
    words = re.findall(r"[a-z0-9]+", head.lower())
    if not words:
        raise ParseError(f"cannot make an identifier from {text!r}")
    return "-".join(words)
