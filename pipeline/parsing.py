"""Pure parsing steps, each testable on a plain string without Dagster or DuckDB."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal


class ParseError(ValueError):
    """A published string that a parser cannot read; the message quotes the string."""


@dataclass(frozen=True)
class Amount:
    gbp: Decimal
    kind: str  # one of schemas.published.AMOUNT_KINDS


_EXACT_GBP = re.compile(r"£(?P<digits>\d{1,3}(?:,\d{3})*|\d+)(?P<pence>\.\d{2})?")


def parse_amount(text: str) -> Amount:
    """Read an amount as a source prints it.

    "£8,907,532" -> 8907532 (exact); "£29,409.93" -> 29409.93 (exact, pence kept).
    Anything else is refused with the string quoted, never guessed.
    """
    match = _EXACT_GBP.fullmatch(text.strip())
    if not match:
        raise ParseError(f"cannot read amount {text!r}: expected pounds as printed, like '£8,907,532'")
    value = Decimal(match["digits"].replace(",", "") + (match["pence"] or ""))
    return Amount(gbp=value, kind="exact")


_FINANCIAL_YEAR = re.compile(r"(?P<start>(?:19|20)\d{2})\s*[/-]\s*(?P<end>\d{2}|(?:19|20)\d{2})")


def normalise_financial_year(text: str) -> str:
    """'2023/24', '2023-24' or '2023-2024' -> '2023-24' (April to March); refuses anything else."""
    match = _FINANCIAL_YEAR.fullmatch(text.strip())
    if not match:
        raise ParseError(f"cannot read financial year {text!r}: expected a form like '2023/24'")
    start = int(match["start"])
    end = match["end"][-2:]
    if int(end) != (start + 1) % 100:
        raise ParseError(f"financial year {text!r} does not span one April-to-March year")
    return f"{start}-{end}"


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
