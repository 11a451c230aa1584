"""Every count, range and list the dataset card and the repository README state is the data's own: a new edition or
source that changes one cannot leave the prose behind (issue 24, finding 8)."""

import datetime as dt
import re
from pathlib import Path

import duckdb

from schemas import PUBLISHED_TABLES
from schemas.plausibility import RULES

PROJECT_DIR = Path(__file__).resolve().parent.parent


def query(outputs: Path, sql: str) -> list[tuple]:
    con = duckdb.connect()
    for name in PUBLISHED_TABLES:
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_csv('{outputs / 'data' / name}.csv', all_varchar=true)")
    return con.execute(sql).fetchall()


def month(iso: str) -> str:
    return dt.date.fromisoformat(iso).strftime("%B %Y")


def test_the_cards_counts_and_ranges_are_those_of_the_published_tables(fresh_build):
    outputs = fresh_build.outputs
    card = (outputs / "README.md").read_text(encoding="utf-8")
    [(known, cells)] = query(
        outputs,
        "SELECT count(*) FILTER (known NOT IN ('none', 'multi_year_only')), count(*) FROM funding_coverage "
        "WHERE stream IN ('vru', 'surge_grip') AND area_code IN (SELECT area_code FROM violence_reduction_units)",
    )
    assert re.findall(r"(\d+) of (\d+) cells have a published figure", card) == [(str(known), str(cells))]
    [(grip, vru, areas)] = query(
        outputs,
        "SELECT count(DISTINCT area_code) FILTER (stream = 'surge_grip'), count(DISTINCT area_code) FILTER "
        "(stream = 'vru'), (SELECT count(*) FROM violence_reduction_units) FROM funding_allocations "
        "WHERE source_id = 'S01'",
    )
    assert f"{grip} of the {areas} areas have a Grip figure from it and {vru} a VRU figure" in card
    [(first, last)] = query(
        outputs,
        "SELECT min(edition_date), max(edition_date) FROM area_outcomes WHERE measure = 'homicide_rate_per_million'",
    )
    assert f"every ONS edition from {month(first)} to {month(last)}" in card
    [(workbooks, first, last)] = query(
        outputs,
        "SELECT count(DISTINCT edition), min(edition_date), max(edition_date) FROM area_outcomes "
        "WHERE measure = 'knife_homicide_offences'",
    )
    assert f"all {workbooks} workbooks in hand\n(years ending {month(first)} to {month(last)}" in card
    [(first, last)] = query(outputs, "SELECT min(reference_date), max(reference_date) FROM area_populations")
    assert f"populations by area for mid-{first[:4]} to mid-{last[:4]}" in card
    [(first, last)] = query(
        outputs,
        "SELECT min(after_start), max(after_end) FROM outcome_change_by_area WHERE after_edition = "
        "(SELECT max(after_edition) FROM outcome_change_by_group)",
    )
    assert f"The after period is a rolling year ({month(first)} to {month(last)})" in card
    assert f"| 2018-19 | year to {month(last)} |" in card
    # The rules in prose are the declared rules, every one and no other.
    assert re.findall(r"^- `(\w+)` \((?:warn|error)\): ", card, re.M) == [rule.name for rule in RULES]


def test_the_readme_restates_no_count_the_data_can_change_and_its_table_counts_are_the_rows(fresh_build):
    readme = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    # "126 of the 228 cells" went stale when a figure was added: such counts live only in the generated card.
    assert not re.findall(r"\b\d+ of (?:the |its )?\d+\b", readme)
    counted = re.findall(r"^\| `(\w+)` \| [^|]*\((\d+)\)", readme, re.M)
    assert counted, "the README's table of tables names no count"
    for name, count in counted:
        [(rows,)] = query(fresh_build.outputs, f"SELECT count(*) FROM {name}")
        assert int(count) == rows, name


def card_source_counts(text: str) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    """The card's count of sources by status (its sentence) and by kind and status (its table)."""
    [sentence] = re.findall(r"^Sources by status, of \d+: (.*)\.$", text, re.M)
    totals = {status: int(n) for status, n in re.findall(r"`(\w+)` (\d+)", sentence)}
    [heading] = re.findall(r"^\| kind \| (.*) \| all \|$", text, re.M)
    statuses = heading.split(" | ")
    by_kind = {}
    for kind, cells in re.findall(r"^\| `(\w+)` \| ([\d |]+) \|$", text, re.M):
        for status, n in zip(statuses, cells.split(" | ")[:-1], strict=True):
            by_kind[(kind, status)] = int(n)
    return totals, by_kind


def test_the_cards_count_of_sources_by_status_is_that_of_the_sources_table(fresh_build):
    outputs = fresh_build.outputs
    totals, by_kind = card_source_counts((outputs / "README.md").read_text(encoding="utf-8"))
    rows = query(outputs, "SELECT kind, verification, count(*) FROM sources GROUP BY ALL")
    assert {k: n for k, n in by_kind.items() if n} == {(kind, status): n for kind, status, n in rows}
    assert totals == {s: sum(n for _, status, n in rows if status == s) for s in totals}
    assert set(totals) == {"verified", "contradicted", "not_rechecked"}


def test_changing_a_sources_status_changes_the_cards_count(tmp_path):
    # The published sources table in a warehouse of its own; the card's section is computed from it as the build does.
    from dagster_duckdb import DuckDBResource

    from pipeline.publish import docs, report

    database = str(tmp_path / "warehouse.duckdb")
    con = duckdb.connect(database)
    con.execute("CREATE SCHEMA out")
    con.execute(f"CREATE TABLE out.sources AS SELECT * FROM read_csv('{PROJECT_DIR / 'outputs/data/sources.csv'}')")
    [(source_id, kind)] = con.execute(
        "SELECT source_id, kind FROM out.sources WHERE verification = 'not_rechecked' ORDER BY source_id LIMIT 1"
    ).fetchall()
    con.close()
    resource = DuckDBResource(database=database)
    before_totals, before_kinds = card_source_counts(docs.source_checks_section(report.source_checks(resource)))
    with duckdb.connect(database) as con:
        con.execute("UPDATE out.sources SET verification = 'contradicted' WHERE source_id = ?", [source_id])
    after_totals, after_kinds = card_source_counts(docs.source_checks_section(report.source_checks(resource)))
    assert after_totals["contradicted"] == before_totals["contradicted"] + 1
    assert after_totals["not_rechecked"] == before_totals["not_rechecked"] - 1
    assert after_totals["verified"] == before_totals["verified"]
    assert after_kinds[(kind, "contradicted")] == before_kinds[(kind, "contradicted")] + 1
    assert after_kinds[(kind, "not_rechecked")] == before_kinds[(kind, "not_rechecked")] - 1


def test_the_cards_rates_per_1000_are_the_published_groups_rates(fresh_build):
    """The card's before-and-after comparison per 1,000 people is outcome_change_by_group's, row for row: every
    group's rate for every values, each variant that leaves out other areas, and why the after year has none."""
    outputs = fresh_build.outputs
    card = (outputs / "README.md").read_text(encoding="utf-8")
    rows = query(
        outputs,
        "SELECT area_group, variant, n_areas, rate_per_1000_before, rate_missing_because, measure "
        "FROM outcome_change_by_group WHERE before_period = 'year ending March 2019' "
        "AND after_edition = (SELECT max(after_edition) FROM outcome_change_by_group) AND measure IN "
        "('violence_with_injury_offences', 'possession_of_weapons_offences')",
    )
    assert rows
    printed = re.findall(
        r"^\| (Violence with injury|Possession of weapons) \| ([^|]+) \| ([^|]+) \| (\d+) \| ([\d.]+) \| ([^|]+) \|$",
        card,
        re.M,
    )
    assert len(printed) >= 6
    for label, group, values, areas, before, after in printed:
        measure = (
            "violence_with_injury_offences" if label == "Violence with injury" else "possession_of_weapons_offences"
        )
        variant = {"every value": "all_values", "without flagged values": "excluding_flagged"}.get(
            values, "excluding_flagged_and_noted"
        )
        code = "no_vru" if group == "no VRU" else "vru_from_" + group.removeprefix("VRU from ")
        [row] = [r for r in rows if (r[5], r[0], r[1]) == (measure, code, variant)]
        assert int(areas) == int(row[2])
        assert abs(float(before) - float(row[3])) < 0.006
        assert (after == "—") == (row[4] is not None)
    for reason in {r[4] for r in rows if r[4]}:
        assert reason in card
