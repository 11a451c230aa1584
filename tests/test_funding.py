"""Funding steps on tiny frames: layouts, codes, the one-figure-per-cell rule and reconciliation."""

import pandas as pd

from pipeline.transform import funding
from pipeline.transform.parsing import parse_amount
from tests import reference

STREAMS = {"VRU": ("vru", "total"), "Grip": ("surge_grip", "total"), "SVD - labour": ("svd", "labour")}
AREAS = {"Kent": "E23000032", "Wales": None, "Avon and Somerset": "E23000036"}


def long_file(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(
        rows, columns=["area_as_published", "stream", "financial_year", "amount_as_published", "notes", "source_id"]
    )
    frame["_row"] = range(2, len(frame) + 2)
    return frame


LONG = {
    "columns": {
        "area_as_published": "area_as_published",
        "stream": "stream_as_published",
        "financial_year": "year_as_published",
        "amount_as_published": "amount_as_published",
        "notes": "notes",
        "source_id": "source_id",
    }
}


def test_wide_table_becomes_one_report_per_stream_and_blank_cells_are_gaps():
    raw = pd.DataFrame(
        {
            "Area": ["Kent", "Avon and Somerset"],
            "Grip allocation": ["£1,000", "£2,000"],
            "VRU allocation": ["£3,000", None],
            "_row": [2, 3],
        }
    )
    layout = {
        "columns": {"Area": "area_as_published"},
        "amount_columns": {"Grip allocation": "Grip", "VRU allocation": "VRU"},
        "constants": {"year_as_published": "23/24"},
    }
    out, failures, _ = reference.reports_from_frames([(raw, layout, "ho", "raw/ho.csv", "S01")], AREAS, STREAMS)
    assert failures == []
    assert list(out["report_id"]) == ["ho:2:grip", "ho:2:vru", "ho:3:grip"]
    assert set(out["source_id"]) == {"S01"} and set(out["year_as_published"]) == {"23/24"}
    rows = out.set_index("report_id")
    assert rows.loc["ho:2:vru", ["stream", "amount_gbp", "raw_row"]].tolist() == ["vru", "3000.00", 2]


def test_wide_table_failure_names_the_amount_column_as_printed():
    raw = pd.DataFrame({"Area": ["Kent"], "Grip allocation": ["£1,000"], "VRU allocation": ["lots"], "_row": [2]})
    layout = {
        "columns": {"Area": "area_as_published"},
        "amount_columns": {"Grip allocation": "Grip", "VRU allocation": "VRU"},
        "constants": {"year_as_published": "23/24"},
    }
    out, failures, _ = reference.reports_from_frames([(raw, layout, "ho", "raw/ho.csv", "S01")], AREAS, STREAMS)
    assert list(out["report_id"]) == ["ho:2:grip"]
    assert [f.message() for f in failures] == [
        "raw/ho.csv, row 2, column 'VRU allocation': value 'lots': cannot read amount 'lots': expected pounds as "
        "printed, like '£8,907,532' or '£3.37m'"
    ]


def test_normalise_codes_areas_and_reads_periods_and_amounts():
    raw = long_file(
        [
            ("Kent", "VRU", "2019/20", "£1,160,000", None, "S22"),
            ("Wales", "Grip", "since 2019 (to 2023/24)", "c.£3.5 million", None, "G01"),
            ("Kent", "SVD - labour", "22/23", "£137,941.30", None, "S123"),
            ("Kent", "VRU", "2020/21", "£3.5m over three years", None, "S22"),
        ]
    )
    out, failures, _ = reference.reports_from_frames([(raw, LONG, "f", "raw/f.csv", "")], AREAS, STREAMS)
    assert failures == []
    rows = out.set_index("report_id")
    assert rows.loc["f:2", ["area_code", "stream", "financial_year", "amount_gbp", "amount_kind"]].tolist() == [
        "E23000032",
        "vru",
        "2019-20",
        "1160000.00",
        "exact",
    ]
    assert rows.loc["f:2", ["amount_low", "amount_high", "is_year_inferred"]].tolist() == [1160000.0, 1160000.0, False]
    assert rows.loc["f:3", "area_code"] is None  # a region keeps no code
    assert rows.loc["f:3", ["financial_year", "financial_year_last", "amount_kind"]].tolist() == [
        "2019-20",
        "2023-24",
        "rounded",
    ]
    assert rows.loc["f:4", ["component", "amount_gbp"]].tolist() == ["labour", "137941.30"]
    # A total over three years printed against its first year covers that year and the next two, as an inference.
    assert rows.loc["f:5", ["financial_year", "financial_year_last", "is_year_inferred"]].tolist() == [
        "2020-21",
        "2022-23",
        True,
    ]


def test_normalise_names_file_row_and_raw_column_of_every_unreadable_cell():
    raw = long_file(
        [
            ("Narnia", "VRU", "2019/20", "£1", None, "S1"),
            ("Kent", "Bribes", "2019/20", "£1", None, "S1"),
            ("Kent", "VRU", "next year", "£1", None, "S1"),
            ("Kent", "VRU", "2019/20", "-£5", None, "S1"),
            ("Kent", "VRU", "2031/32", "£5", None, "S1"),
        ]
    )
    out, failures, _ = reference.reports_from_frames([(raw, LONG, "f", "raw/f.csv", "")], AREAS, STREAMS)
    assert out.empty
    assert [f.message().split(": ")[0] for f in failures] == [
        "raw/f.csv, row 2, column 'area_as_published'",
        "raw/f.csv, row 3, column 'stream'",
        "raw/f.csv, row 4, column 'financial_year'",
        "raw/f.csv, row 5, column 'amount_as_published'",
        "raw/f.csv, row 6, column 'financial_year'",
    ]
    assert "unknown area name" in failures[0].message()
    assert "outside 2019-20" in failures[4].message()


def test_a_source_missing_from_the_manifest_is_named():
    raw = long_file([("Kent", "VRU", "2019/20", "£1", None, "S404")])
    _, failures, _ = reference.reports_from_frames([(raw, LONG, "f", "raw/f.csv", "")], AREAS, STREAMS, ranks={"S1": 1})
    assert [f.message() for f in failures] == [
        "raw/sources.yaml, column 'source_id': value 'S404': cited by funding files but not in the manifest's sources"
    ]


def test_a_figure_two_files_transcribe_from_one_source_is_kept_once_from_the_first_file():
    first = long_file(
        [("Kent", "VRU", "2019/20", "£1,000", None, "S22"), ("Kent", "VRU", "2020/21", "£9", None, "S22")]
    )
    second = long_file([("Kent", "VRU", "2019/20", "£1,000", "again", "S22")])
    out, failures, repeats = reference.reports_from_frames(
        [(first, LONG, "a", "raw/a.csv", ""), (second, LONG, "b", "raw/b.csv", "")], AREAS, STREAMS
    )
    assert (failures, repeats, list(out["report_id"])) == ([], 1, ["a:2", "a:3"])


def reports_for(rows: list[tuple]) -> pd.DataFrame:
    """area, stream, year, amount, kind, source, rank -> normalised report rows."""
    return pd.DataFrame(
        [
            {
                "report_id": f"r{i}",
                "area_code": a,
                "stream": s,
                "component": "total",
                "financial_year": y,
                "financial_year_last": y,
                "is_year_inferred": False,
                "amount_gbp": str(amount),
                "amount_kind": kind,
                "amount_as_published": printed,
                "source_id": src,
                "authority_rank": rank,
                "amount_low": float(parse_amount(printed).low),
                "amount_high": parse_amount(printed).high and float(parse_amount(printed).high),
            }
            for i, (a, s, y, amount, kind, printed, src, rank) in enumerate(rows)
        ]
    )


def test_the_most_authoritative_source_wins_and_conflicts_are_flagged():
    reports = reports_for(
        [
            ("E23000036", "vru", "2019-20", 1_600_000, "rounded", "£1.6m", "S21", 3),
            ("E23000036", "vru", "2019-20", 1_160_000, "rounded", "£1.16m", "S19", 3),
            ("E23000036", "vru", "2019-20", 1_160_000, "rounded", "£1.16m", "S20", 4),
            ("E23000001", "vru", "2023-24", 9_497_400, "exact", "£9,497,400", "S01", 1),
            ("E23000001", "vru", "2023-24", 9_400_000, "rounded", "£9.4m", "X9", 4),
        ]
    )
    allocations = reference.choose_allocations(reports).set_index("area_code")
    avon, met = allocations.loc["E23000036"], allocations.loc["E23000001"]
    assert (avon["source_id"], avon["n_reports"], avon["has_conflict"]) == ("S19", 3, True)
    assert (met["source_id"], met["amount_as_published"], met["has_conflict"]) == ("S01", "£9,497,400", False)


def test_reconciliation_never_claimed_with_missing_cells():
    expected = pd.DataFrame({"area_code": ["A", "B"], "stream": "vru", "financial_year": "2023-24"})
    totals = pd.DataFrame([{"stream": "vru", "financial_year": "2023-24", "amount_as_published": "£3m"}])
    one_known = pd.DataFrame(
        [
            {
                "area_code": "A",
                "stream": "vru",
                "financial_year": "2023-24",
                "amount_gbp": "3000000",
                "amount_as_published": "£3,000,000",
            }
        ]
    )
    row = funding.reconcile(totals, one_known, expected).iloc[0]
    assert (row["status"], row["cells_missing"], row["sum_known_gbp"]) == ("incomplete", 1, "3000000")

    both = pd.concat([one_known, one_known.assign(area_code="B", amount_gbp="10", amount_as_published="£10")])
    assert funding.reconcile(totals, both, expected).iloc[0]["status"] == "reconciles"
    far = both.assign(amount_gbp="5000000", amount_as_published="£5,000,000")
    assert funding.reconcile(totals, far, expected).iloc[0]["status"] == "does_not_reconcile"
    rough = both.assign(amount_as_published=["more than £1.1 million", "£1.5m"])
    assert funding.reconcile(totals, rough, expected).iloc[0]["status"] == "consistent"


def test_coverage_keeps_gaps_and_multi_year_only_cells():
    expected = funding.expected_cells({"E23000032": "2019-20"}, ["E23000032"])
    assert set(expected["stream"]) == {"vru", "surge_grip", "hotspot_fund", "svd"}
    assert expected[expected["stream"] == "surge_grip"]["financial_year"].max() == "2023-24"
    allocations = pd.DataFrame(
        [
            {
                "area_code": "E23000032",
                "stream": "vru",
                "financial_year": "2019-20",
                "amount_kind": "exact",
                "has_conflict": False,
                "source_id": "S22",
            }
        ]
    )
    reports = pd.DataFrame(
        [{"area_code": "E23000032", "stream": "vru", "financial_year": "2022-23", "financial_year_last": "2024-25"}]
    )
    table = funding.coverage(expected, allocations, reports).set_index(["stream", "financial_year"])
    assert table.loc[("vru", "2019-20"), "known"] == "exact"
    assert table.loc[("vru", "2023-24"), "known"] == "multi_year_only"
    assert table.loc[("vru", "2020-21"), "known"] == "none"


def test_reported_range_compares_amounts_as_numbers_not_text():
    # As text "1200000.00" < "950000.00": the smallest report would be the largest.
    reports = reports_for(
        [
            ("E23000036", "vru", "2019-20", 950_000, "exact", "£950,000", "S21", 3),
            ("E23000036", "vru", "2019-20", 1_200_000, "exact", "£1,200,000", "S19", 3),
        ]
    )
    cell = reference.choose_allocations(reports).iloc[0]
    assert (str(cell["min_reported_gbp"]), str(cell["max_reported_gbp"])) == ("950000.00", "1200000.00")
    assert (cell["source_id"], cell["n_reports"], cell["n_sources"], cell["has_conflict"]) == ("S19", 2, 2, True)
