"""Parsing steps on plain strings and tiny frames, without Dagster; property-based where it pays."""

import re
from decimal import Decimal

import duckdb
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.defs.core.reference import add_initiative_ids
from pipeline.transform.parsing import (
    PLAIN_POUNDS,
    ParseError,
    leading_year,
    normalise_financial_year,
    parse_amount,
    parse_year_span,
    ranges_meet,
    slug,
)
from tests.reference import reports_from_frames


@pytest.mark.parametrize(
    ("text", "gbp", "kind"),
    [
        ("£8,907,532", "8907532", "exact"),
        ("£29,409.93", "29409.93", "exact"),
        ("£880 000", "880000", "exact"),
        ("£3.37m", "3370000", "rounded"),
        ("£1.16 million", "1160000", "rounded"),
        ("£1.16million", "1160000", "rounded"),
        ("£1.1 m", "1100000", "rounded"),
        ("880k", "880000", "rounded"),
        ("c.£535k", "535000", "rounded"),
        ("around £1.5m", "1500000", "rounded"),
        ("up to £880,000", "880000", "upper_bound"),
        ("just under £1m", "1000000", "upper_bound"),
        ("almost £3.4m", "3400000", "upper_bound"),
        ("more than £1.1 million", "1100000", "lower_bound"),
        ("Over £5M", "5000000", "lower_bound"),
        ("at least £3 million", "3000000", "lower_bound"),
        ("more than £2 million each", "2000000", "lower_bound"),
        ("more £3.3 million", "3300000", "lower_bound"),
        ("a further £1.4million", "1400000", "rounded"),
    ],
)
def test_published_amount_strings(text, gbp, kind):
    amount = parse_amount(text)
    assert amount.gbp == Decimal(gbp)
    assert amount.kind == kind


@pytest.mark.parametrize(
    "text", ["-£861,445", "£8,90,532", "8,907,532", "", "£1,234.5", "about", "£3.5m over ten years", "£ten"]
)
def test_unreadable_amounts_are_refused_with_the_string_quoted(text):
    with pytest.raises(ParseError, match="cannot read amount") as info:
        parse_amount(text)
    assert repr(text) in str(info.value)


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        # Amount's documented range: from half a unit of the last printed digit below (rounded to the nearest) to
        # a whole unit above (cut short, as the press prints £4,388,080 as "£4.3m").
        ("£1.16m", 1_155_000, 1_170_000),
        ("£4.3m", 4_250_000, 4_400_000),
        ("880k", 879_500, 881_000),
        ("£2 million", 1_500_000, 3_000_000),
        ("just under £1m", 0, 2_000_000),  # an upper bound starts at nothing
        ("more than £1.1 million", 1_050_000, None),  # a lower bound has no upper limit
        ("£8,907,532", 8_907_532, 8_907_532),  # exact: a point
    ],
)
def test_the_range_an_amount_allows_is_the_documented_one(text, low, high):
    amount = parse_amount(text)
    assert (amount.low, amount.high) == (low, high)


def test_a_figure_just_outside_a_rounded_amounts_range_conflicts_with_it():
    assert ranges_meet([parse_amount("£1.16m"), parse_amount("£1,155,000")])
    assert not ranges_meet([parse_amount("£1.16m"), parse_amount("£1,154,999")])
    assert ranges_meet([parse_amount("£1.16m"), parse_amount("£1,170,000")])
    assert not ranges_meet([parse_amount("£1.16m"), parse_amount("£1,170,001")])


def test_multi_year_amounts():
    amount = parse_amount("£3.5m over three years")
    assert (amount.gbp, amount.kind, amount.over_years) == (Decimal(3_500_000), "rounded", 3)
    assert parse_amount("£3.5m").over_years is None


@given(st.integers(min_value=0, max_value=10**10))
def test_whole_pounds_round_trip(pounds):
    amount = parse_amount(f"£{pounds:,}")
    assert (amount.gbp, amount.kind, amount.low, amount.high) == (pounds, "exact", pounds, pounds)


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=0, max_value=99))
def test_pounds_and_pence_round_trip(pounds, pence):
    assert parse_amount(f"£{pounds:,}.{pence:02d}").gbp == Decimal(f"{pounds}.{pence:02d}")


@given(
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal("999.99"), places=2),
    st.sampled_from(["m", " million", "million", "M"]),
    st.sampled_from(["", "around ", "c.", "about "]),
)
def test_millions_are_rounded_and_their_range_holds_the_printed_value(value, unit, prefix):
    amount = parse_amount(f"{prefix}£{value}{unit}")
    assert amount.gbp == value * 1_000_000
    assert amount.kind == "rounded"
    assert amount.low <= amount.gbp <= amount.high


@given(
    st.integers(min_value=1, max_value=10**8),
    st.sampled_from(["more than ", "over ", "just over ", "at least ", "up to ", "almost ", "just under "]),
)
def test_bounds_are_open_on_one_side(pounds, qualifier):
    amount = parse_amount(f"{qualifier}£{pounds:,}")
    if amount.kind == "lower_bound":
        assert amount.high is None and amount.low <= pounds
    else:
        assert amount.kind == "upper_bound" and amount.low == 0 and amount.high >= pounds


@given(st.text(alphabet="abcxyz!?- ", min_size=1, max_size=20))
def test_words_without_a_number_are_refused(text):
    with pytest.raises(ParseError):
        parse_amount(text)


def test_conflicts_are_ranges_that_do_not_meet():
    assert not ranges_meet([parse_amount("£1.16m"), parse_amount("£1.6m")])  # Avon & Somerset 2019-20
    assert not ranges_meet([parse_amount("£880,000"), parse_amount("£800,000")])  # Hampshire
    assert ranges_meet([parse_amount("more than £1.1 million"), parse_amount("£1,160,000")])
    assert ranges_meet([parse_amount("£4.3m"), parse_amount("£4,388,080")])  # cut short, not a conflict
    assert ranges_meet([parse_amount("£1.26m"), parse_amount("£1.2m")])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023/24", "2023-24"),
        ("2023-24", "2023-24"),
        ("2021-2022", "2021-22"),
        ("23/24", "2023-24"),
        ("2025/6", "2025-26"),
        ("1999/00", "1999-00"),
    ],
)
def test_financial_years(text, expected):
    assert normalise_financial_year(text) == expected


@pytest.mark.parametrize("text", ["2023/25", "2023", "FY2023/24", "2023/2025"])
def test_bad_financial_years(text):
    with pytest.raises(ParseError, match="financial year"):
        normalise_financial_year(text)


@given(st.integers(min_value=2000, max_value=2098), st.sampled_from(["{a}/{b2}", "{a}-{b2}", "{a}/{b}", "{a2}/{b2}"]))
def test_every_spelling_of_a_financial_year_normalises(start, form):
    text = form.format(a=start, b=start + 1, a2=f"{start % 100:02d}", b2=f"{(start + 1) % 100:02d}")
    assert normalise_financial_year(text) == f"{start}-{(start + 1) % 100:02d}"


@pytest.mark.parametrize(
    ("text", "first", "last", "inferred"),
    [
        ("2019/20 (inferred)", "2019-20", "2019-20", True),
        ("2022-25", "2022-23", "2024-25", False),
        ("2019/20-2021/22", "2019-20", "2021-22", False),
        ("22/23 to 24/25", "2022-23", "2024-25", False),
        ("year three (2024/25)", "2024-25", "2024-25", False),
        ("not printed (2025/26 inferred)", "2025-26", "2025-26", True),
        ("year ending March 2023", "2022-23", "2022-23", False),
        ("April 2024 - March 2025", "2024-25", "2024-25", False),
        ("2022 to 2023", "2022-23", "2022-23", False),
        ("since 2019 (to 2023/24)", "2019-20", "2023-24", False),
        ("since 2019", "2019-20", None, False),
        ("not stated", None, None, False),
        ("2024", None, None, False),
    ],
)
def test_year_spans(text, first, last, inferred):
    span = parse_year_span(text)
    assert (span.first, span.last, span.inferred) == (first, last, inferred)


@pytest.mark.parametrize("text", ["next year", "2019/21-ish", "Q3 2023"])
def test_unreadable_periods(text):
    with pytest.raises(ParseError, match="cannot read period"):
        parse_year_span(text)


def test_leading_year_only_at_the_start():
    assert leading_year("2021 (Leeds, February 2021)") == 2021
    assert leading_year("Funded 2022-25 (announced by the PCC 7 April 2023)") is None
    assert leading_year(None) is None


def test_slug():
    assert slug("Operation Deter (incl. Op Deter Youth)") == "operation-deter"
    assert slug("A&E Navigator programme") == "a-e-navigator-programme"
    assert slug("Habitual Knife Carriers (HKC) project / HKC index (HKCx)") == "habitual-knife-carriers"
    with pytest.raises(ParseError):
        slug("(...)")


def test_add_initiative_ids():
    frame = pd.DataFrame(
        {"initiative_name": ["Faith Alliance", "INTACT programme"], "start_as_published": [None, "2021 (May)"]}
    )
    out = add_initiative_ids(frame)
    assert list(out.columns) == ["initiative_id", "initiative_name", "year_started", "start_as_published"]
    assert out["initiative_id"].tolist() == ["faith-alliance", "intact-programme"]
    assert out["year_started"].isna().tolist() == [True, False]


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=10**12), st.sampled_from(["", ".00", ".05", ".93"]), st.booleans()
        ),
        min_size=1,
        max_size=20,
    )
)
def test_plain_pounds_read_in_sql_are_exactly_what_parse_amount_reads(amounts):
    texts = [f"£{pounds:,}{pence}" if grouped else f"£{pounds}{pence}" for pounds, pence, grouped in amounts]
    # Ungrouped digits ("£1234") are not the printed form: they take the general parser, which must agree.
    assert all(
        bool(re.fullmatch(PLAIN_POUNDS, t)) == (grouped or p < 1000)
        for t, (p, _, grouped) in zip(texts, amounts, strict=True)
    )
    raw = pd.DataFrame(
        {
            "area_as_published": "Kent",
            "stream_as_published": "VRU",
            "year_as_published": [f"{2019 + i % 5}/{20 + i % 5}" for i in range(len(texts))],
            "amount_as_published": texts,
            "source_id": [f"S{i}" for i in range(len(texts))],
            "_row": range(2, len(texts) + 2),
        }
    )
    reports, failures, _ = reports_from_frames(
        [(raw, {}, "f", "raw/f.csv", "")], {"Kent": "E23000032"}, {"VRU": ("vru", "total")}
    )
    assert failures == []
    for row in reports.itertuples():
        expected = parse_amount(row.amount_as_published)
        assert (Decimal(row.amount_gbp), row.amount_kind) == (expected.gbp, expected.kind)
        assert (row.amount_low, row.amount_high) == (float(expected.low), float(expected.high))


@pytest.mark.parametrize(
    "text", ["£1234", "£1.5", "£1,2345", "£ 100", "£1.5m", "over £100", "£100 over three years", "100"]
)
def test_anything_but_plain_pounds_takes_the_general_parser(text):
    assert not re.fullmatch(PLAIN_POUNDS, text)
    # The same pattern in DuckDB's regular expressions (RE2), which read the plain amounts.
    assert duckdb.execute("SELECT regexp_full_match($1, $2)", [text, PLAIN_POUNDS]).fetchall() == [(False,)]
