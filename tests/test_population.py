"""Populations by police force area from the ONS mid-year estimates by district, and what they make possible: rates
per 1,000 for the outcome counts and funding per head. Recomputed here from the raw files with openpyxl and csv,
not with the pipeline's reader or SQL."""

import csv
import io
from collections import defaultdict
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import duckdb
import openpyxl
import pytest

from pipeline.defs.resources import PROJECT_DIR
from pipeline.transform import plausibility
from schemas.plausibility import RULES

RAW = PROJECT_DIR / "raw"
ESTIMATES = RAW / "population" / "LAD23_Mid_Year_pop_2011_to_2023.xlsx"
LOOKUP = RAW / "population" / "LAD_to_CSP_to_PFA_Dec2023_lookup.csv"
RULE = {r.name: r for r in RULES}


def cells(path):
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


@pytest.fixture(scope="module")
def from_raw() -> tuple[dict[tuple[str, int], int], dict[int, int]]:
    """Each area's population by mid-year summed straight from the workbook's MYE4 cells and the lookup's rows, and
    the England and Wales total MYE4 prints for each mid-year."""
    area_of = {row["LAD23CD"]: row["PFA23CD"] for row in cells(LOOKUP)}
    book = openpyxl.load_workbook(ESTIMATES, read_only=True, data_only=True)
    rows = list(book["MYE4"].iter_rows(values_only=True))
    book.close()
    heading = next(r for r in rows if r[0] == "Code")
    years = {i: int(h.removeprefix("Mid-")) for i, h in enumerate(heading) if str(h).startswith("Mid-")}
    areas: dict[tuple[str, int], int] = defaultdict(int)
    totals = {}
    for row in rows:
        for i, year in years.items():
            if row[0] in area_of:
                areas[(area_of[row[0]], year)] += row[i]
            elif row[0] == "K04000001":
                totals[year] = row[i]
    return dict(areas), totals


def test_every_area_and_mid_year_is_the_sum_of_its_districts_cells(fresh_build, from_raw):
    areas, _ = from_raw
    published = {
        (r["area_code"], int(r["mid_year"])): int(r["population"])
        for r in cells(fresh_build.outputs / "data" / "area_populations.csv")
    }
    assert len(published) == 43 * 13
    assert published == areas


def test_the_areas_add_up_to_the_england_and_wales_total_of_every_mid_year(fresh_build, from_raw):
    """MYE4 prints England and Wales for every mid-year (MYE1 only for mid-2023): each equals the published areas'
    sum, and the blocking rule that checks it passed."""
    _, totals = from_raw
    sums: dict[int, int] = defaultdict(int)
    for r in cells(fresh_build.outputs / "data" / "area_populations.csv"):
        sums[int(r["mid_year"])] += int(r["population"])
    assert sums == totals and sorted(totals) == list(range(2011, 2024))
    book = openpyxl.load_workbook(ESTIMATES, read_only=True, data_only=True)
    mye1 = book["MYE1"]["B9"].value
    book.close()
    assert sums[2023] == mye1
    assert ("populations_add_up", True) in fresh_build.checks


def test_the_listed_cells_are_the_ones_added(fresh_build):
    """raw_cells names every cell summed: re-adding them from the workbook gives the published population."""
    book = openpyxl.load_workbook(ESTIMATES, data_only=True)
    sheet = book["MYE4"]
    for r in cells(fresh_build.outputs / "data" / "area_populations.csv"):
        refs = [ref.strip().removeprefix("MYE4!") for ref in r["raw_cells"].split("+")]
        assert len(refs) == int(r["districts"])
        assert sum(sheet[ref].value for ref in refs) == int(r["population"]), (r["area_code"], r["mid_year"])


def test_a_district_placed_in_two_areas_is_refused_naming_file_row_and_column(project, fresh_build):
    """Bournemouth, Christchurch and Poole has three rows in the lookup (one per partnership); one of them moved to
    another area makes the district's population ambiguous: refused before anything is summed."""
    from tests.conftest import snapshot

    before = snapshot(project.outputs)
    relative = "population/LAD_to_CSP_to_PFA_Dec2023_lookup.csv"
    lines = (project.raw / relative).read_text(encoding="utf-8-sig").splitlines()
    row = next(n for n, line in enumerate(lines, start=1) if line.startswith("E06000058,") and n > 100)
    old = lines[row - 1]
    assert ",E23000039,Dorset," in old
    project.replace_raw(relative, old, old.replace(",E23000039,Dorset,", ",E23000041,Hampshire,"))
    build = project.build(only="core_area_populations", after=fresh_build)
    assert not build.result.success
    message = " ".join(build.step_failures())
    assert f"raw/{relative}, row {row}, column 'PFA23CD': value 'E23000041'" in message
    assert "E06000058" in message and "E23000039" in message
    assert snapshot(project.outputs) == before


def test_a_district_of_the_estimates_missing_from_the_lookup_is_refused(project, fresh_build):
    relative = "population/LAD_to_CSP_to_PFA_Dec2023_lookup.csv"
    text = (project.raw / relative).read_text(encoding="utf-8-sig")
    line = next(x for x in text.splitlines() if x.startswith("E06000001,"))
    project.replace_raw(relative, line + "\r\n" if line + "\r\n" in text else line + "\n", "")
    build = project.build(only="core_area_populations", after=fresh_build)
    assert not build.result.success
    message = " ".join(build.step_failures())
    assert "LAD23_Mid_Year_pop_2011_to_2023.xlsx, sheet MYE4, row" in message and "'E06000001'" in message


def test_the_sum_rule_flags_an_area_total_that_misses_the_country_total():
    con = duckdb.connect()
    con.execute("CREATE SCHEMA core")
    con.execute("CREATE SCHEMA raw")
    con.execute(
        "CREATE TABLE raw.ons__mye_lad23_2011_2023 AS SELECT * FROM (VALUES "
        "('MYE4', 'D9', 'K04000001', '2023', '300'), ('MYE4', 'E9', 'K04000001', '2022', '290'), "
        "('MYE1', 'B9', 'K04000001', '2023', '300')) AS t(source_table, cell, area_code, mid_year, value_as_published)"
    )
    con.execute(
        "CREATE TABLE core.area_populations AS SELECT * FROM (VALUES "
        "('E1', 2023, 100, 'S'), ('E2', 2023, 200, 'S'), ('E1', 2022, 100, 'S'), ('E2', 2022, 189, 'S')) "
        "AS t(area_code, mid_year, population, source_id)"
    )
    found = plausibility.flags(con, RULE["populations_add_up"])
    assert list(found["period"]) == ["mid-2022"]
    assert "289" in found.iloc[0]["observed"] and "290 (MYE4!E9)" in found.iloc[0]["expected"]


def test_the_table_p3_rule_flags_a_difference_beyond_both_tolerances():
    """5 % and 1,000 people: a large area 3 % off passes, a small one 8 % (but 600 people) off passes, a large one
    6 % off is flagged."""
    con = duckdb.connect()
    con.execute("CREATE SCHEMA core")
    con.execute(
        "CREATE TABLE core.area_outcomes AS SELECT * FROM (VALUES "
        "('E1', 'population', 'mid-2018', 1000000.0, 'p', DATE '2018-12-31', 'P3'), "
        "('E2', 'population', 'mid-2018', 7500.0, 'p', DATE '2018-12-31', 'P3'), "
        "('E3', 'population', 'mid-2018', 1000000.0, 'p', DATE '2018-12-31', 'P3')) "
        "AS t(area_code, measure, period_as_published, value, edition, edition_date, source_id)"
    )
    con.execute(
        "CREATE TABLE core.area_populations AS SELECT * FROM (VALUES "
        "('E1', 2018, 1030000, 'M'), ('E2', 2018, 8100, 'M'), ('E3', 2018, 1060000, 'M')) "
        "AS t(area_code, mid_year, population, source_id)"
    )
    found = plausibility.flags(con, RULE["population_against_table_p3"])
    assert list(found["area_code"]) == ["E3"]


def test_every_rate_is_the_count_over_the_population_of_the_mid_year_inside_its_period(fresh_build):
    data = fresh_build.outputs / "data"
    populations = {(r["area_code"], r["mid_year"]): int(r["population"]) for r in cells(data / "area_populations.csv")}
    counts = {
        (r["area_code"], r["measure"], r["period_as_published"], r["edition"]): r
        for r in cells(data / "area_outcomes.csv")
        if r["unit"] == "offences" and r["value"]
    }
    rates = cells(data / "area_outcome_rates.csv")
    assert rates
    for r in rates:
        count = counts[(r["area_code"], r["measure"], r["period_as_published"], r["edition"])]
        assert r["offences"] == count["value"] and r["source_id"] == count["source_id"]
        mid_year = int(r["population_mid_year"])
        assert count["period_start"] <= f"{mid_year}-06-30" <= count["period_end"]
        assert int(r["population"]) == populations[(r["area_code"], str(mid_year))]
        expected = (Decimal(r["offences"]) * 1000 / Decimal(r["population"])).quantize(Decimal("0.0001"), ROUND_HALF_UP)
        assert Decimal(r["rate_per_1000"]) == expected, r
    # Every count with a population in hand for its mid-year has a rate; the year to June 2025 (mid-2025) has none.
    covered = {(r["area_code"], r["measure"], r["period_as_published"], r["edition"]) for r in rates}
    for key, count in counts.items():
        start, end = date.fromisoformat(count["period_start"]), date.fromisoformat(count["period_end"])
        one_year = end == start.replace(year=start.year + 1) - timedelta(days=1)
        mid = end.year if (end.month, end.day) >= (6, 30) else end.year - 1
        if one_year and (count["area_code"], str(mid)) in populations:
            assert key in covered, key
    assert not [k for k in covered if "June 2025" in k[2]]


def test_funding_per_head_is_the_chosen_figure_over_the_population_recomputed_from_the_raw_files(fresh_build, from_raw):
    """The Metropolitan Police area's VRU figure for 2019-20 over its mid-2019 population summed from the workbook;
    and every per-head figure of the panel is its stream's figure over the population of the mid-year inside the
    financial year."""
    areas, _ = from_raw
    data = fresh_build.outputs / "data"
    panel = {(r["area_code"], r["financial_year"]): r for r in cells(data / "area_year.csv")}
    chosen = {
        (r["area_code"], r["stream"], r["financial_year"]): Decimal(r["amount_gbp"])
        for r in cells(data / "funding_allocations.csv")
    }
    met = panel[("E23000001", "2019-20")]
    assert (
        met["per_head_population_mid_year"] == "2019" and int(met["per_head_population"]) == areas[("E23000001", 2019)]
    )
    expected = (chosen[("E23000001", "vru", "2019-20")] / areas[("E23000001", 2019)]).quantize(Decimal("0.0001"))
    assert Decimal(met["vru_gbp_per_head"]) == expected
    per_head = 0
    for (area, year), row in panel.items():
        mid_year = int(year[:4])
        population = areas.get((area, mid_year))
        assert row["per_head_population"] == (str(population) if population else "")
        for stream in ("vru", "surge_grip"):
            amount = chosen.get((area, stream, year))
            if amount is None or population is None:
                assert row[f"{stream}_gbp_per_head"] == ""
                continue
            per_head += 1
            value = (amount / population).quantize(Decimal("0.0001"), ROUND_HALF_UP)
            assert Decimal(row[f"{stream}_gbp_per_head"]) == value, (area, year, stream)
    assert per_head > 50


def _mid_year(start: str, end: str) -> int | None:
    """The year of the 30 June inside a period, recomputed here (schemas/vocabulary.py POPULATION_RULE)."""
    last = int(end[:4]) - (1 if end[5:] < "06-30" else 0)
    return last if f"{last}-06-30" >= start else None


def test_the_before_and_after_comparisons_per_1000_recompute_from_area_outcomes_and_area_populations(fresh_build):
    """Every group's before rate in outcome_change_by_group: the offences of the group's areas (from area_outcomes,
    less the areas the row names as left out) over the same areas' populations at the mid-year inside the before
    period (area_populations); the after period (the year to June 2025: mid-2025, not in hand) has no rate and says
    which mid-year is missing, and no rate divides by another year's population."""
    data = fresh_build.outputs / "data"
    populations = {
        (r["area_code"], int(r["mid_year"])): int(r["population"]) for r in cells(data / "area_populations.csv")
    }
    names = {r["area_name"]: r["area_code"] for r in cells(data / "police_force_areas.csv")}
    first_year = {r["area_code"]: r["first_funded_year"] for r in cells(data / "violence_reduction_units.csv")}
    group_of = {code: f"vru_from_{first_year[code]}" if code in first_year else "no_vru" for code in names.values()}
    outcomes = {
        (r["area_code"], r["measure"], r["edition"]): r
        for r in cells(data / "area_outcomes.csv")
        if r["unit"] == "offences"
    }
    rows = cells(data / "outcome_change_by_group.csv")
    for row in rows:
        left_out = {part.split(" (")[0] for part in row["areas_left_out"].split("; ") if part}
        areas = [a for a, g in group_of.items() if g == row["area_group"] and a not in {names[n] for n in left_out}]
        assert len(areas) == int(row["n_areas"]), row
        before = [outcomes[(a, row["measure"], row["before_edition"])] for a in areas]
        assert {v["period_as_published"] for v in before} == {row["before_period"]}
        mid = _mid_year(before[0]["period_start"], before[0]["period_end"])
        assert row["population_mid_year_before"] == str(mid) and 2017 <= mid <= 2019
        offences = sum(Decimal(v["value"]) for v in before)
        people = sum(populations[(a, mid)] for a in areas)
        assert Decimal(row["value_before"]) == offences and int(row["population_before"]) == people
        rate = (offences * 1000 / people).quantize(Decimal("0.0001"), ROUND_HALF_UP)
        assert Decimal(row["rate_per_1000_before"]) == rate, row
        # The after year's mid-year, recomputed, is one area_populations does not hold, and the row says so.
        after = outcomes[(areas[0], row["measure"], row["after_edition"])]
        mid_after = _mid_year(after["period_start"], after["period_end"])
        assert row["population_mid_year_after"] == str(mid_after) and (areas[0], mid_after) not in populations
        reason = f"no population for mid-{mid_after}, the 30 June inside the after period"
        assert reason in row["rate_missing_because"]


def test_a_group_rate_change_is_given_where_both_periods_have_their_own_mid_year(fresh_build, tmp_path):
    """Today's after year has no population, so the rate change is exercised on the same warehouse with the
    calendar year 2019 (mid-2019) as the after period and the years ending by December 2018 as before: every row
    then has both rates, and the change in the rate is the ratio of the two rates, each on its own population."""
    from pipeline.transform.sqltext import sql_text
    from pipeline.transform.warehouse import SQL_DIR
    from schemas.published import OUTCOME_CHANGE

    warehouse = tmp_path / "warehouse.duckdb"
    warehouse.write_bytes((fresh_build.root / "warehouse.duckdb").read_bytes())
    con = duckdb.connect(str(warehouse))
    con.execute(
        sql_text(SQL_DIR / "core_outcome_change_by_area.sql"),
        {
            "measures": list(OUTCOME_CHANGE["measures"]),
            "before_ends_by": "2018-12-31",
            "after_starts_from": "2019-01-01",
        },
    )
    con.execute(sql_text(SQL_DIR / "core_outcome_change_by_group.sql"))
    rows = con.execute(
        "SELECT value_before, value_after, population_before, population_after, population_mid_year_after, "
        "rate_percent_change, rate_missing_because FROM core.outcome_change_by_group WHERE after_period = "
        "'year ending December 2019'"
    ).fetchall()
    con.close()
    assert len(rows) >= 36
    for before, after, people_before, people_after, mid_after, change, missing in rows:
        assert mid_after == 2019 and missing is None
        expected = 100 * ((Decimal(after) / people_after) / (Decimal(before) / people_before) - 1)
        assert abs(Decimal(str(change)) - expected) <= Decimal("0.005"), (before, after, change)
