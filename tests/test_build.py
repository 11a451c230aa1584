"""A full build of the committed raw/ in a temporary folder: what researchers download."""

import csv
import io
import json
import shutil

import duckdb
import frictionless
import pytest

from pipeline.defs.resources import PROJECT_DIR
from pipeline.sources.manifest import load_manifest
from pipeline.transform.parsing import parse_year_span
from schemas import PUBLISHED_TABLES
from schemas.plausibility import RULES
from tests.conftest import snapshot


def read_table(build, name: str) -> list[dict]:
    text = (build.outputs / "data" / f"{name}.csv").read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def test_build_succeeds_with_every_check_passing(fresh_build):
    """Every blocking check passes; a plausibility warning fails its check exactly when it flags values."""
    assert fresh_build.success, fresh_build.step_failures()
    evaluations = fresh_build.checks
    assert len(evaluations) >= 2 * len(PUBLISHED_TABLES)
    warnings = {rule.name for rule in RULES if rule.severity == "warn"}
    assert all(passed for name, passed in evaluations if name not in warnings)
    flagged = {f["check_name"] for f in read_table(fresh_build, "quality_flags")}
    assert {name for name, passed in evaluations if not passed} == flagged


def test_package_is_valid_with_foreign_keys(fresh_build):
    report = frictionless.validate(str(fresh_build.outputs / "datapackage.json"))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])
    descriptor = json.loads((fresh_build.outputs / "datapackage.json").read_text())
    foreign_keys = {r["name"]: r["schema"].get("foreignKeys", []) for r in descriptor["resources"]}
    assert {"fields": ["area_code"], "reference": {"resource": "police_force_areas", "fields": ["area_code"]}} in (
        foreign_keys["funding_reports"]
    )


def test_package_rejects_a_dangling_foreign_key(fresh_build, tmp_path):
    """frictionless really checks the declared keys: an unknown area code makes the package invalid."""
    import shutil

    copy = tmp_path / "pkg"
    shutil.copytree(fresh_build.outputs, copy)
    path = copy / "data" / "funding_reports.csv"
    path.write_text(path.read_text().replace(",E23000029,", ",E23000099,"))
    descriptor = json.loads((copy / "datapackage.json").read_text())
    for resource in descriptor["resources"]:  # keep bytes/hash consistent so only the key is wrong
        resource.pop("bytes"), resource.pop("hash")
    (copy / "datapackage.json").write_text(json.dumps(descriptor))
    report = frictionless.validate(str(copy / "datapackage.json"))
    assert not report.valid
    assert "foreign-key" in {e.type for task in report.tasks for e in task.errors}


def test_row_counts(fresh_build):
    counts = {name: len(read_table(fresh_build, name)) for name in PUBLISHED_TABLES}
    assert counts["police_force_areas"] == 43
    assert counts["violence_reduction_units"] == 20
    assert counts["initiatives"] == 8
    manifest = load_manifest(PROJECT_DIR / "raw")
    assert counts["sources"] == len(manifest.sources)
    # Every printed figure of every funding file, less blank cells and repeats of one source's figure; a figure
    # stated for each year of a span (funding_layout each_year_rows) is one report per year.
    printed = 0
    for entry in (f for f in manifest.files.values() if f.funding_layout):
        layout = entry.funding_layout
        year_column = next(
            (k for k, v in layout.get("columns", {}).items() if v == "year_as_published"), "year_as_published"
        )
        with (PROJECT_DIR / "raw" / entry.path).open(encoding="utf-8") as handle:
            for number, row in enumerate(csv.DictReader(handle), start=2):
                amounts = [v for k, v in row.items() if "allocation" in k or "amount" in k.lower()]
                years = 1
                if number in layout.get("each_year_rows", {}):
                    span = parse_year_span(layout.get("constants", {}).get("year_as_published") or row[year_column])
                    years = int(span.last[:4]) - int(span.first[:4]) + 1
                printed += sum(years for v in amounts if v)
    assert 0 < printed - counts["funding_reports"] <= 5
    assert counts["national_totals"] == 10
    assert counts["funding_allocations"] < counts["funding_reports"]


def test_a_published_figure_traces_back_to_its_raw_cell(fresh_build):
    rows = {r["report_id"]: r for r in read_table(fresh_build, "funding_reports")}
    met_grip = rows["home_office__funding_allocations_2023_24:2:grip"]
    assert (met_grip["area_code"], met_grip["stream"], met_grip["financial_year"]) == (
        "E23000001",
        "surge_grip",
        "2023-24",
    )
    assert met_grip["amount_gbp"] == "8907532.00"
    assert met_grip["amount_as_published"] == "£8,907,532"
    raw_file = PROJECT_DIR / met_grip["raw_file"]
    raw_rows = list(csv.reader(io.StringIO(raw_file.read_text(encoding="utf-8"))))
    assert raw_rows[int(met_grip["raw_row"]) - 1] == ["Metropolitan Police/London", "£8,907,532", "£9,497,400"]
    sources = {r["source_id"]: r for r in read_table(fresh_build, "sources")}
    assert sources[met_grip["source_id"]]["url"].startswith("https://www.gov.uk/")
    assert sources[met_grip["source_id"]]["authority_rank"] == "1"


@pytest.mark.parametrize(
    ("report_id", "area", "stream", "year", "gbp", "kind", "printed"),
    [
        ("itv__vru_funding_2020_21:5", "E23000014", "vru", "2020-21", "3300000.00", "lower_bound", "more £3.3 million"),
        (
            "local_reports__vru_allocations_2019_20:15",
            "E23000036",
            "vru",
            "2019-20",
            "1160000.00",
            "rounded",
            "£1.16million",
        ),
        ("local_reports__serious_violence_duty:3", "E23000001", "svd", "2022-23", "137941.30", "exact", "£137,941.30"),
        ("local_reports__gap_fill:2", "W15000003", "surge_grip", "2023-24", "535000.00", "rounded", "c.£535k"),
    ],
)
def test_published_strings_parse_end_to_end(fresh_build, report_id, area, stream, year, gbp, kind, printed):
    row = {r["report_id"]: r for r in read_table(fresh_build, "funding_reports")}[report_id]
    assert row["amount_as_published"] == printed
    assert (row["area_code"], row["stream"], row["financial_year"]) == (area, stream, year)
    assert (row["amount_gbp"], row["amount_kind"]) == (gbp, kind)


def test_conflicting_sources_are_kept_side_by_side_and_flagged(fresh_build):
    reports = read_table(fresh_build, "funding_reports")
    avon = {
        r["amount_as_published"]
        for r in reports
        if (r["area_code"], r["stream"], r["financial_year"]) == ("E23000036", "vru", "2019-20")
    }
    assert {"£1.16million", "£1.16m", "£1.6m"} <= avon
    cells = {
        (r["area_code"], r["stream"], r["financial_year"]): r for r in read_table(fresh_build, "funding_allocations")
    }
    assert cells[("E23000036", "vru", "2019-20")]["has_conflict"] == "true"  # Avon & Somerset £1.16m v £1.6m
    assert cells[("E23000030", "vru", "2019-20")]["has_conflict"] == "true"  # Hampshire £880,000 v £800,000
    assert cells[("E23000032", "vru", "2020-21")]["has_conflict"] == "true"  # Kent £1,160,000 v £1.61 million
    assert cells[("E23000030", "surge_grip", "2019-20")]["has_conflict"] == "false"  # £1.26m v £1.2m: rounding
    met = cells[("E23000001", "vru", "2023-24")]
    assert (met["source_id"], met["amount_gbp"]) == ("S01", "9497400.00")  # the Home Office table wins


def test_national_totals_never_claim_reconciliation_with_missing_cells(fresh_build):
    for row in read_table(fresh_build, "national_totals"):
        if int(row["cells_missing"]) > 0:
            assert row["status"] == "incomplete", row["total_id"]
        assert int(row["cells_known"]) + int(row["cells_missing"]) == int(row["cells_expected"])
    vru = {r["total_id"]: r for r in read_table(fresh_build, "national_totals")}["vru:2023-24:S01"]
    assert (vru["amount_as_published"], vru["cells_expected"], vru["status"]) == ("£55m", "20", "incomplete")


def test_gaps_stay_gaps(fresh_build):
    """Lancashire's VRU cell is blank in the Home Office table: no report from S01, and no zero anywhere."""
    rows = read_table(fresh_build, "funding_reports")
    assert not [r for r in rows if r["area_code"] == "E23000003" and r["stream"] == "vru" and r["source_id"] == "S01"]
    assert all(float(r["amount_gbp"]) > 0 for r in rows)
    allocations = {
        (r["area_code"], r["stream"], r["financial_year"]) for r in read_table(fresh_build, "funding_allocations")
    }
    for cell in read_table(fresh_build, "funding_coverage"):
        key = (cell["area_code"], cell["stream"], cell["financial_year"])
        assert (cell["known"] in ("none", "multi_year_only")) == (key not in allocations)


def test_csv_conventions(fresh_build):
    for name, table in PUBLISHED_TABLES.items():
        data = (fresh_build.outputs / "data" / f"{name}.csv").read_bytes()
        assert b"\r\n" not in data and data.endswith(b"\n"), name
        assert data.decode("utf-8").splitlines()[0] == ",".join(table.column_names), name


def test_committed_outputs_equal_a_rebuild(fresh_build):
    """CI catches a stale package, and the same inputs give the same bytes: the session's rebuild of the committed
    raw/ over a copy of the committed outputs/, every file written afresh on another day and machine, changes no
    file (a stale package would get new data, a new version and a changelog entry; unchanged inputs keep their
    version whatever the date)."""
    assert fresh_build.success, fresh_build.step_failures()
    committed, rebuilt = snapshot(PROJECT_DIR / "outputs"), snapshot(fresh_build.outputs)
    assert sorted(rebuilt) == sorted(committed) and len(committed) > 2 * len(PUBLISHED_TABLES)
    stale = [path for path in rebuilt if committed[path] != rebuilt[path]]
    assert not stale, f"outputs/ is stale, run `make data` and commit: {stale}"


@pytest.mark.slow
def test_a_first_build_into_no_outputs_folder_writes_the_committed_tables(project):
    """A first release, with no outputs/ and no release history yet, writes the same CSV and Parquet files as
    the committed package. (Its datapackage.json and changelog differ only by release history.)"""
    committed = snapshot(project.outputs)
    shutil.rmtree(project.outputs)
    build = project.build(release_date="2031-01-02")
    assert build.result.success, build.step_failures()
    first = snapshot(project.outputs)

    def table_files(files: dict) -> list[str]:  # parquet/datapackage.json carries the version, like the root one
        return sorted(p for p in files if p.startswith(("data/", "parquet/")) and p.endswith((".csv", ".parquet")))

    tables = table_files(committed)
    assert tables and table_files(first) == tables
    assert [p for p in tables if first[p] != committed[p]] == []
    assert json.loads(first["datapackage.json"])["version"] == "2031.01.02"  # a first release, not the committed one


@pytest.mark.parametrize("name", list(PUBLISHED_TABLES))
def test_every_published_row_cites_a_source_with_a_url(fresh_build, name):
    sources = {r["source_id"]: r["url"] for r in read_table(fresh_build, "sources")}
    rows = read_table(fresh_build, name)
    assert rows, name
    if name == "area_year":  # a panel: each value names its own source, a gap none
        columns = [c for c in rows[0] if c.endswith("_source_id")]
        for row in rows:
            for column in columns:
                subject = column.removesuffix("_source_id")
                value = row.get(subject) or row.get(f"{subject}_gbp", "")
                # A value always names its source; a source without a value is an edition that printed a symbol.
                assert bool(row[column]) == bool(value or row.get(f"{subject}_edition")), (row, column)
                if row[column]:
                    assert sources[row[column]].startswith(("https://", "http://")), (row, column)
        return
    for row in rows:
        if name == "funding_coverage" and row["known"] in ("none", "multi_year_only"):
            assert row["source_id"] == ""  # nothing known, nothing cited
            continue
        assert sources[row["source_id"]].startswith(("https://", "http://")), (name, row)


def test_report_claim_verdicts_against_primary_sources(fresh_build):
    claims = {r["claim_id"]: r for r in read_table(fresh_build, "report_claims")}
    r04 = claims["R04"]
    assert r04["claim_as_stated"] == "VRUs and hotspot policing have prevented 136,000 violent crimes since 2019"
    assert r04["verdict"] == "misstated"
    assert "violence without injury" in r04["primary_source_says"]
    assert "no statistically significant effect" in r04["primary_source_says"]
    assert claims["R05"]["verdict"] == "not_supported"
    evidence = {(r["claim_id"], r["impact_claim_id"]) for r in read_table(fresh_build, "report_claim_evidence")}
    impact = {r["claim_id"]: r for r in read_table(fresh_build, "impact_claims")}
    assert {("R04", "C09"), ("R04", "C10")} <= evidence
    assert impact["C09"]["value_transcribed"] == "136000"
    assert all(claim in claims for claim, _ in evidence) and all(i in impact for _, i in evidence)


def test_researchers_can_find_initiatives_using_high_impact_approaches(fresh_build):
    bands = {r["approach_id"]: r["impact_band"] for r in read_table(fresh_build, "evidence_approaches")}
    high = sorted(
        {
            r["initiative_id"]
            for r in read_table(fresh_build, "initiative_approaches")
            if bands[r["approach_id"]] == "high"
        }
    )
    assert high == [
        "a-e-navigator-programme",
        "greater-manchester-vru-community-led-approach",
        "intact-programme",
        "operation-deter",
    ]


def test_local_policing_bodies_cover_every_area(fresh_build):
    bodies = read_table(fresh_build, "local_policing_bodies")
    assert len(bodies) == 43
    mayors = {
        r["area_code"]: r["since_as_published"] for r in bodies if r["body_type"].startswith("Combined authority")
    }
    assert mayors["E23000005"] == "2017-05-08"  # Greater Manchester


def test_area_outcomes_keep_published_values_and_gaps(fresh_build):
    every = [r for r in read_table(fresh_build, "area_outcomes") if r["measure"] == "homicide_rate_per_million"]
    # Every police force area in every edition: one period in each of the first two, nine in the others.
    assert len(every) == 43 * (1 + 1 + 9 + 9 + 9)
    rows = [r for r in every if r["edition"] == "ons__homicide_offences_2026_02_11"]
    met = {r["period_as_published"]: r for r in rows if r["area_code"] == "E23000001"}
    assert met["2014-04-01/P3Y"]["value"] == "12.213149431813083"  # digits as ONS stores them
    assert (met["2019-04-01/P3Y"]["period_first_year"], met["2019-04-01/P3Y"]["period_last_year"]) == (
        "2019-20",
        "2021-22",
    )
    city = [r for r in rows if r["area_code"] == "E23000034"]
    assert len(city) == 9 and all(r["value"] == "" and r["symbol"] == "printed_u" for r in city)
    # Earlier editions mark the City of London's suppressed rate 'c'; never a value, never a zero.
    assert {r["symbol"] for r in every if r["area_code"] == "E23000034"} == {"printed_u", "printed_c"}
    assert all(r["value"] == "" for r in every if r["area_code"] == "E23000034")


def test_outcome_comparison_is_reproduced_from_area_outcomes(fresh_build):
    """Every variant: every value, without the values quality_flags names, and also without those a publisher's note
    covers (source_note_values); for the counts, the group's rate per
    1,000 on the same areas' populations for the mid-year inside the financial year (area_populations)."""
    import statistics

    flagged = {
        (f["area_code"], f["subject"], f["period"], f["edition"])
        for f in read_table(fresh_build, "quality_flags")
        if f["table_name"] == "area_outcomes"
    }

    # The values a publisher's note says are short, estimated or not comparable (the third variant leaves them out).
    noted = {
        (v["area_code"], v["measure"], v["period_as_published"], v["edition"])
        for v in read_table(fresh_build, "source_note_values")
        if v["excluded_from_comparisons"] == "true"
    }

    first_year = {r["area_code"]: r["first_funded_year"] for r in read_table(fresh_build, "violence_reduction_units")}
    groups: dict[tuple, list[float]] = {}
    weighted: dict[tuple, list[float]] = {}
    people: dict[tuple, list[int]] = {}
    left_out: dict[tuple, int] = {}
    outcomes = read_table(fresh_build, "area_outcomes")
    populations = {
        (r["area_code"], int(r["mid_year"])): int(r["population"]) for r in read_table(fresh_build, "area_populations")
    }
    population = {
        r["area_code"]: float(r["value"])
        for r in outcomes
        if r["measure"] == "population" and r["period_as_published"] == "mid-2018" and r["value"]
    }
    for row in outcomes:
        knife = row["measure"] in ("knife_selected_offences", "knife_homicide_offences")
        if not (
            row["measure"] == "homicide_rate_per_million"
            or knife
            and row["period_first_year"] in ("2016-17", "2017-18", "2018-19")
        ):
            continue
        group = f"vru_from_{first_year[row['area_code']]}" if row["area_code"] in first_year else "no_vru"
        under_count = knife and row["area_code"] == "E23000005" and row["period_first_year"] < "2018-19"
        value_key = (row["area_code"], row["measure"], row["period_as_published"], row["edition"])
        is_flagged, is_noted = value_key in flagged, value_key in noted
        for variant in ("all_values", "excluding_flagged", "excluding_flagged_and_noted"):
            key = (row["measure"], row["period_as_published"], row["edition"], group, variant)
            left = (is_flagged and variant != "all_values") or (is_noted and variant == "excluding_flagged_and_noted")
            if row["value"] and not under_count and not left:
                groups.setdefault(key, []).append(float(row["value"]))
                weighted.setdefault(key, []).append(population.get(row["area_code"], 0.0))
                # A financial year's mid-year is 30 June of its first calendar year.
                people.setdefault(key, []).append(populations[(row["area_code"], int(row["period_start"][:4]))])
            else:
                groups.setdefault(key, [])
                left_out[key] = left_out.get(key, 0) + 1
    published = read_table(fresh_build, "outcome_comparison")
    assert len(published) == len(groups)
    for row in published:
        key = (row["measure"], row["period_as_published"], row["edition"], row["area_group"], row["variant"])
        values = groups[key]
        assert int(row["n_areas"]) == len(values)
        assert int(row["n_areas_left_out"]) == left_out.get(key, 0)
        # Published to 2 places: within half a hundredth of the exact figure (a tie such as 1892.625 rounds up in
        # DuckDB and down in Python's binary round, so the rounded figures are not compared with each other).
        assert float(row["sum_value"]) == pytest.approx(sum(values), abs=0.0051)
        assert float(row["mean_value"]) == pytest.approx(statistics.mean(values), abs=0.0051)
        assert float(row["median_value"]) == pytest.approx(statistics.median(values), abs=0.0051)
        if "rate" in row["measure"]:
            weights = weighted[key]
            expected = sum(v * w for v, w in zip(values, weights, strict=True)) / sum(weights)
            assert float(row["mean_weighted_by_population_mid2018"]) == pytest.approx(expected, abs=0.006)
        else:
            assert row["mean_weighted_by_population_mid2018"] == ""
    # The counts' groups as rates: every group with a count has one, over the same areas' populations.
    rates = {
        (r["measure"], r["period_as_published"], r["edition"], r["area_group"], r["variant"]): r
        for r in read_table(fresh_build, "outcome_group_rates")
    }
    assert set(rates) == {k for k, v in groups.items() if "rate" not in k[0] and v}
    for key, row in rates.items():
        assert int(row["n_areas"]) == len(groups[key]) and int(row["offences"]) == sum(groups[key])
        assert row["population_mid_year"] == row["period_first_year"][:4]
        assert int(row["population"]) == sum(people[key])
        expected = round(sum(groups[key]) * 1000 / sum(people[key]), 4)
        assert float(row["rate_per_1000"]) == pytest.approx(expected, abs=0.00006), key
    homicide_no_vru = [
        r
        for r in published
        if r["area_group"] == "no_vru"
        and r["measure"].startswith("homicide_rate")
        and r["edition"] == "ons__homicide_offences_2026_02_11"
    ]
    assert len(homicide_no_vru) == 9 * 3  # nine periods, three variants
    assert all(r["areas_left_out"] == "London, City of (u)" and r["n_areas"] == "22" for r in homicide_no_vru)
    gmp = {
        r["areas_left_out"]
        for r in published
        if r["area_group"] == "vru_from_2019-20" and r["areas_left_out"] and r["variant"] == "all_values"
    }
    # Left out for the under-count before 2018, or missing (NA, ..) while its new IT system supplied no data in 2019.
    assert gmp == {"Greater Manchester (under-count before 2018)", "Greater Manchester (NA)", "Greater Manchester (..)"}


def test_a_cells_reported_range_is_in_columns_not_only_in_prose(fresh_build):
    con = duckdb.connect()
    data = fresh_build.outputs / "data"
    wrong = con.execute(
        f"""SELECT a.area_code, a.stream, a.financial_year FROM '{data}/funding_allocations.csv' a
        JOIN (SELECT area_code, stream, financial_year, min(amount_gbp) AS low, max(amount_gbp) AS high
              FROM '{data}/funding_reports.csv' WHERE component = 'total' AND financial_year = financial_year_last
              GROUP BY ALL) r USING (area_code, stream, financial_year)
        WHERE a.min_reported_gbp <> r.low OR a.max_reported_gbp <> r.high
           OR NOT (a.min_reported_gbp <= a.amount_gbp AND a.amount_gbp <= a.max_reported_gbp)"""
    ).fetchall()
    assert wrong == []
    conflicts = con.execute(
        f"SELECT count(*), count(*) FILTER (min_reported_gbp < max_reported_gbp) FROM '{data}/funding_allocations.csv' "
        "WHERE has_conflict"
    ).fetchall()[0]
    assert conflicts[0] > 0 and conflicts[0] == conflicts[1]


def test_no_wording_of_a_copyrighted_page_is_quoted_in_evidence_approaches(fresh_build):
    """YEF's Toolkit pages are under its copyright: the band, figures and evidence strength are published as facts
    in this project's words, never as a quotation."""
    rows = read_table(fresh_build, "evidence_approaches")
    assert len(rows) == 12
    for row in rows:
        for column in ("impact_band_as_published", "impact_figures_summary", "evidence_quality_summary"):
            assert '"' not in row[column], (row["approach_id"], column, row[column])
    navigators = next(r for r in rows if r["approach_id"] == "a-e-navigators")
    assert (navigators["impact_band"], navigators["impact_band_as_published"]) == ("high", "HIGH")
    assert navigators["evidence_quality_summary"].startswith("Very low confidence")
