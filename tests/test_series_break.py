"""Issue 23, finding 4: a change over six years that spans a recording change in one force's own series is left out of
the comparisons without flags, whatever a score against the other areas' six-year changes says. Recomputed here from
area_outcomes with the standard library, not with the rule's SQL."""

import csv
import io
from statistics import median

from schemas.plausibility import ROBUST_SCALE, RULES

RULE = {r.name: r for r in RULES}
DERBYSHIRE, LINCOLNSHIRE = "E23000018", "E23000020"
MEASURE = "violence_without_injury_offences"
AFTER = "ons__pfa_ye_jun2025_table_c2"


def cells(path):
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


def robust_z(values: dict[str, float], area: str) -> float:
    centre = median(values.values())
    spread = ROBUST_SCALE * median(abs(v - centre) for v in values.values())
    return (values[area] - centre) / spread


def year_on_year(outcomes: list[dict], first: str, later: str, floor: float) -> dict[str, float]:
    """Each area's percentage change between two editions' one-year counts, where the first is at least `floor`."""
    by = {(r["area_code"], r["edition"]): float(r["value"]) for r in outcomes if r["measure"] == MEASURE and r["value"]}
    return {
        a: 100 * (by[(a, later)] - x) / x for (a, e), x in by.items() if e == first and x >= floor and (a, later) in by
    }


def test_a_change_across_a_break_in_the_areas_own_series_is_flagged_and_left_out(fresh_build):
    data = fresh_build.outputs / "data"
    rule = RULE["year_on_year_break"]
    outcomes = cells(data / "area_outcomes.csv")
    floor = rule.params["min_count_before"]
    cut = rule.params["max_robust_z"]
    # The audit's case: Derbyshire's violence without injury from 2018-19 to the year to June 2025 (+150 %) sits under
    # change_outlier's cut-off among the areas' six-year changes...
    changes = {
        r["area_code"]: float(r["percent_change"])
        for r in cells(data / "outcome_change_by_area.csv")
        if (r["measure"], r["before_edition"], r["after_edition"]) == (MEASURE, "ons__pfa_ye_mar2019", AFTER)
        and r["percent_change"]
        and float(r["value_before"]) >= RULE["change_outlier"].params["min_count_before"]
    }
    assert (
        145 < changes[DERBYSHIRE] < 155
        and 0 < robust_z(changes, DERBYSHIRE) < RULE["change_outlier"].params["max_robust_z"]
    )
    # ...while its year-on-year change in 2019 stands twice the cut-off away from the other areas'.
    step = year_on_year(outcomes, "ons__pfa_ye_dec2018", "ons__pfa_ye_dec2019", floor)
    assert robust_z(step, DERBYSHIRE) > 2 * cut
    # A case the audit did not name: Lincolnshire's violence without injury doubled between the years ending
    # September 2018 and 2019, and no other rule flags its changes.
    step = year_on_year(outcomes, "ons__pfa_ye_sep2018", "ons__pfa_ye_sep2019", floor)
    assert robust_z(step, LINCOLNSHIRE) > cut
    flags = cells(data / "quality_flags.csv")
    by_rule = {}
    for f in flags:
        by_rule.setdefault(f["check_name"], set()).add((f["area_code"], f["subject"], f["edition"]))
    for area, before in ((DERBYSHIRE, "ons__pfa_ye_mar2019"), (LINCOLNSHIRE, "ons__pfa_ye_mar2018")):
        key = (area, MEASURE, f"{before} to {AFTER}")
        assert key in by_rule["year_on_year_break"] and key not in by_rule["change_outlier"], key
    # A before year that already holds the higher level (the year ending December 2019) does not span the break.
    assert (DERBYSHIRE, MEASURE, f"ons__pfa_ye_dec2019 to {AFTER}") not in by_rule["year_on_year_break"]
    # Both leave the excluding_flagged comparison of the areas without a VRU.
    [row] = [
        r
        for r in cells(data / "outcome_change_by_group.csv")
        if (r["measure"], r["before_edition"], r["after_edition"], r["area_group"], r["variant"])
        == (MEASURE, "ons__pfa_ye_mar2019", AFTER, "no_vru", "excluding_flagged")
    ]
    assert "Derbyshire (flagged: year_on_year_break)" in row["areas_left_out"]
