"""Parsing steps on plain strings and tiny frames, without Dagster."""

from decimal import Decimal

import pandas as pd
import pytest

from pipeline.defs.core import add_initiative_ids, parse_amounts, unresolved_areas
from pipeline.parsing import ParseError, leading_year, normalise_financial_year, parse_amount, slug


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("£8,907,532", Decimal("8907532")),
        ("£861,445", Decimal("861445")),
        ("£29,409.93", Decimal("29409.93")),
        ("£0", Decimal("0")),
        ("£1000", Decimal("1000")),
    ],
)
def test_parse_exact_amounts(text, expected):
    amount = parse_amount(text)
    assert amount.gbp == expected
    assert amount.kind == "exact"


@pytest.mark.parametrize("text", ["-£861,445", "£8,90,532", "8,907,532", "£3.37m", "", "£1,234.5", "£ 100"])
def test_unreadable_amounts_are_refused_with_the_string_quoted(text):
    with pytest.raises(ParseError, match="cannot read amount") as info:
        parse_amount(text)
    assert repr(text) in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2023/24", "2023-24"), ("2023-24", "2023-24"), ("2021-2022", "2021-22"), ("1999/00", "1999-00")],
)
def test_financial_years(text, expected):
    assert normalise_financial_year(text) == expected


@pytest.mark.parametrize("text", ["2023/25", "23/24", "2023", "FY2023/24"])
def test_bad_financial_years(text):
    with pytest.raises(ParseError, match="financial year"):
        normalise_financial_year(text)


def test_leading_year_only_at_the_start():
    assert leading_year("2021 (Leeds, February 2021)") == 2021
    assert leading_year("Funded 2022-25 (announced by the PCC 7 April 2023)") is None
    assert leading_year(None) is None
    assert leading_year("") is None


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
    assert out["year_started"].iloc[1] == 2021


def test_parse_amounts_names_file_row_and_column_of_a_bad_amount():
    frame = pd.DataFrame(
        {"stream": ["vru", "surge_grip"], "amount_as_published": ["£4,388,080", "about £1m"], "raw_row": [3, 4]}
    )
    out, failures = parse_amounts(frame, "raw/x.csv", {"vru": "VRU allocation", "surge_grip": "Grip"})
    assert out["amount_gbp"].tolist() == ["4388080", None]
    assert out["amount_kind"].tolist() == ["exact", None]
    assert [f.message() for f in failures] == [
        "raw/x.csv, row 4, column 'Grip': value 'about £1m': cannot read amount 'about £1m': "
        "expected pounds as printed, like '£8,907,532'"
    ]


def test_unresolved_areas():
    frame = pd.DataFrame(
        {"area_code": ["E23000001", None], "area_as_published": ["London", "Gotham"], "raw_row": [2, 3]}
    )
    failures = unresolved_areas(frame, "raw/x.csv", "Area")
    assert len(failures) == 1
    assert failures[0].message().startswith("raw/x.csv, row 3, column 'Area': value 'Gotham': unknown area name")
