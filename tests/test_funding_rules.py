"""Issue 23, funding: streams that replace each other, bounds, and totals that rest on flagged figures.

Each rule is tested on a tiny frame (the next case of its kind, which the audit did not name) and on the real
package (the case the audit found, which fails on the data published before the rule).
"""

import csv
import io

import pandas as pd

from pipeline.transform import funding
from pipeline.transform.parsing import parse_amount
from schemas import vocabulary
from tests import reference


def read_table(build, name: str) -> list[dict]:
    text = (build.outputs / "data" / f"{name}.csv").read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def report(area, stream, year, printed, source, rank, component="total", i=0) -> dict:
    amount = parse_amount(printed)
    return {
        "report_id": f"{source}:{i}",
        "area_code": area,
        "stream": stream,
        "component": component,
        "financial_year": year,
        "financial_year_last": year,
        "is_year_inferred": False,
        "amount_gbp": str(amount.gbp),
        "amount_kind": amount.kind,
        "amount_as_published": printed,
        "source_id": source,
        "authority_rank": rank,
        "amount_low": float(amount.low),
        "amount_high": None if amount.high is None else float(amount.high),
    }


def choose(*rows: dict) -> dict[tuple[str, str, str], dict]:
    chosen = reference.choose_allocations(
        pd.DataFrame([{**r, "report_id": f"{r['report_id']}-{i}"} for i, r in enumerate(rows)])
    )
    return {(r["area_code"], r["stream"], r["financial_year"]): r for r in chosen.to_dict("records")}


# Finding 1: a stream that another replaced is not summed beside it.


def test_a_replaced_streams_figure_is_kept_flagged_and_never_summed():
    # The next case: a Grip figure printed for 2025-26, a year after the one the audit found.
    cells = choose(
        report("E23000014", "surge_grip", "2025-26", "£2,000,000", "S1", 1),
        report("E23000014", "hotspot_fund", "2025-26", "£3,000,000", "S1", 1, i=1),
        report("E23000014", "surge_grip", "2023-24", "£1,000,000", "S1", 1, i=2),
    )
    grip = cells[("E23000014", "surge_grip", "2025-26")]
    assert grip["superseded_because"] and "Hotspot Response Fund" in grip["superseded_because"]
    assert cells[("E23000014", "surge_grip", "2023-24")]["superseded_because"] is None
    assert cells[("E23000014", "hotspot_fund", "2025-26")]["superseded_because"] is None

    allocations = pd.DataFrame(cells.values())
    expected = pd.DataFrame({"area_code": ["E23000014"], "stream": "surge_grip", "financial_year": "2025-26"})
    totals = pd.DataFrame([{"stream": "surge_grip", "financial_year": "2025-26", "amount_as_published": "£2m"}])
    row = funding.reconcile(totals, allocations, expected).iloc[0]
    assert (row["cells_known"], row["sum_known_gbp"]) == (0, "0")


def test_the_declared_succession_decides_the_years_a_stream_runs():
    for succession in vocabulary.SUCCESSIONS:
        replaced_from = vocabulary.financial_year(succession.from_year)
        assert vocabulary.stream_last_year(succession.stream) < replaced_from
        assert vocabulary.stream_first_year(succession.by) <= replaced_from
        assert vocabulary.superseded(succession.stream, replaced_from) is succession


def test_no_area_year_row_adds_a_replaced_stream_to_its_successor(fresh_build):
    allocations = read_table(fresh_build, "funding_allocations")
    superseded = [a for a in allocations if vocabulary.superseded(a["stream"], a["financial_year"])]
    # The Metropolitan Police's 2024-25 Grip figure (a per-year figure of a 2022 bid) is the audit's case.
    assert ("E23000001", "surge_grip", "2024-25") in {
        (a["area_code"], a["stream"], a["financial_year"]) for a in superseded
    }
    assert all(a["superseded_because"] for a in superseded)
    assert not [a for a in allocations if a["superseded_because"] and a not in superseded]
    panel = {(r["area_code"], r["financial_year"]): r for r in read_table(fresh_build, "area_year")}
    for a in superseded:
        row = panel[(a["area_code"], a["financial_year"])]
        assert row[f"{a['stream']}_gbp"] == "" and row[f"{a['stream']}_known"] == "superseded"
    coverage = {(r["area_code"], r["stream"], r["financial_year"]) for r in read_table(fresh_build, "funding_coverage")}
    assert not {(a["area_code"], a["stream"], a["financial_year"]) for a in superseded} & coverage


# Finding 2: bounds have their own rules.


def test_bounds_from_two_sources_pin_the_figure_and_a_bound_a_better_source_contradicts_is_set_aside():
    cells = choose(
        # The audit's case, Hampshire 2021-22: a local paper's "up to £800,000", the regional release's
        # "up to £880,000" and the written answer's floor for every VRU.
        report("E23000030", "vru", "2021-22", "up to £800,000", "S64", 4),
        report("E23000030", "vru", "2021-22", "up to £880,000", "S57", 4),
        report("E23000030", "vru", "2021-22", "no less than £880,000", "R04", 2, component="minimum"),
        # The next case: a lower bound and an upper bound of two sources that meet, no floor.
        report("E23000033", "vru", "2021-22", "up to £1,200,000", "S2", 4),
        report("E23000033", "vru", "2021-22", "at least £1,200,000", "S3", 3),
        # Bounds that cannot both hold, of equal authority: a conflict, nothing pinned.
        report("E23000029", "vru", "2021-22", "up to £500,000", "S4", 4),
        report("E23000029", "vru", "2021-22", "more than £600,000", "S5", 4),
        # A floor alone is never a figure.
        report("E23000019", "vru", "2021-22", "no less than £880,000", "R04", 2, component="minimum"),
    )
    hampshire = cells[("E23000030", "vru", "2021-22")]
    assert (hampshire["amount_gbp"], hampshire["amount_kind"], hampshire["source_id"]) == ("880000.00", "exact", "S57")
    assert (hampshire["chosen_because"], hampshire["has_conflict"], hampshire["n_reports"]) == (
        "bounds_combined",
        True,
        2,
    )
    sussex = cells[("E23000033", "vru", "2021-22")]
    assert (sussex["amount_gbp"], sussex["chosen_because"], sussex["has_conflict"]) == (
        "1200000.00",
        "bounds_combined",
        False,
    )
    apart = cells[("E23000029", "vru", "2021-22")]
    assert apart["has_conflict"] and apart["chosen_because"] != "bounds_combined"
    assert ("E23000019", "vru", "2021-22") not in cells


def test_chosen_because_names_the_step_that_decided():
    cells = choose(
        report("A", "vru", "2019-20", "£1.6m", "S21", 3),
        report("A", "vru", "2019-20", "£1,600,000", "S22", 4),
        report("B", "vru", "2019-20", "£1.6m", "S21", 3),
        report("B", "vru", "2019-20", "£1,600,000", "S22", 3),
        report("C", "vru", "2019-20", "£1.6m", "S21", 3),
        report("C", "vru", "2019-20", "£1.62m", "S22", 3),
        report("D", "vru", "2019-20", "£1.6m", "S22", 3),
        report("D", "vru", "2019-20", "£1.6m", "S21", 3),
        report("E", "vru", "2019-20", "£1.6m", "S21", 3),
    )
    because = {area: cells[(area, "vru", "2019-20")]["chosen_because"] for area in "ABCDE"}
    assert because == {"A": "authority", "B": "exactness", "C": "precision", "D": "id_order", "E": "only_report"}


def test_hampshire_2021_22_is_pinned_by_the_release_and_the_written_answer(fresh_build):
    cell = next(
        r
        for r in read_table(fresh_build, "funding_allocations")
        if (r["area_code"], r["stream"], r["financial_year"]) == ("E23000030", "vru", "2021-22")
    )
    assert (cell["amount_gbp"], cell["amount_as_published"], cell["source_id"]) == (
        "880000.00",
        "up to £880,000",
        "S57",
    )
    assert (cell["chosen_because"], cell["has_conflict"]) == ("bounds_combined", "true")


# Finding 3: a total that uses a flagged figure says so.


def test_a_total_that_needs_a_flagged_figure_is_never_consistent():
    expected = pd.DataFrame({"area_code": ["A", "B"], "stream": "vru", "financial_year": "2020-21"})
    totals = pd.DataFrame([{"stream": "vru", "financial_year": "2020-21", "amount_as_published": "£3m"}])
    cells = pd.DataFrame(
        {
            "area_code": ["A", "B"],
            "stream": "vru",
            "financial_year": "2020-21",
            "amount_gbp": ["1500000", "1500000"],
            "amount_as_published": ["£1.5m", "£1.5m"],
            "has_conflict": [False, False],
        }
    )
    assert funding.reconcile(totals, cells, expected).iloc[0]["status"] == "consistent"
    flagged = funding.reconcile(totals, cells, expected, {("B", "vru", "2020-21"): "single_source_breaks_pattern"})
    assert (flagged.iloc[0]["status"], flagged.iloc[0]["cells_flagged"]) == ("rests_on_flagged", 1)
    assert flagged.iloc[0]["flagged_cells"] == "B (single_source_breaks_pattern)"
    # The next case: a figure whose reports conflict is in doubt too, flagged by no rule.
    conflicted = funding.reconcile(totals, cells.assign(has_conflict=[True, False]), expected).iloc[0]
    assert (conflicted["status"], conflicted["flagged_cells"]) == ("rests_on_flagged", "A (reports conflict)")


def test_no_published_total_rests_on_a_flagged_figure_unsaid(fresh_build):
    totals = {t["total_id"]: t for t in read_table(fresh_build, "national_totals")}
    assert totals["vru:2020-21:S02"]["status"] == "rests_on_flagged"
    assert "E23000036 (single_source_breaks_pattern)" in totals["vru:2020-21:S02"]["flagged_cells"]
    flagged = {
        (f["area_code"], f["subject"], f["period"])
        for f in read_table(fresh_build, "quality_flags")
        if f["table_name"] == "funding_allocations"
    }
    doubtful = flagged | {
        (a["area_code"], a["stream"], a["financial_year"])
        for a in read_table(fresh_build, "funding_allocations")
        if a["has_conflict"] == "true"
    }
    for total in totals.values():
        uses = {
            (area, total["stream"], total["financial_year"])
            for area, *_ in [c.split(" ", 1) for c in total["flagged_cells"].split("; ") if c]
        }
        assert uses <= doubtful
        assert int(total["cells_flagged"]) == len(uses)
        if total["status"] in ("reconciles", "consistent"):
            assert total["cells_flagged"] == "0"


# The candidate figures of December 2026.


def test_the_candidate_figures_are_reports_and_raise_their_conflicts(fresh_build):
    reports = [
        r for r in read_table(fresh_build, "funding_reports") if r["raw_file"] == "raw/funding/candidates-2026-12.csv"
    ]
    assert len({r["raw_row"] for r in reports}) == 26
    cells = {
        (a["area_code"], a["stream"], a["financial_year"]): a for a in read_table(fresh_build, "funding_allocations")
    }
    # The i's £8.1m against MOPAC's £9,430,885; the MP's £1.5m against £1.82m for Lancashire's Surge 2019-20.
    assert cells[("E23000001", "surge_grip", "2021-22")]["has_conflict"] == "true"
    assert cells[("E23000003", "surge_grip", "2019-20")]["has_conflict"] == "true"
    assert cells[("E23000005", "surge_grip", "2021-22")]["has_conflict"] == "false"
    assert cells[("E23000014", "surge_grip", "2021-22")]["source_id"] == "G55"
