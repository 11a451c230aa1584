"""ONS outcome tables: transcriptions that add up, editions that need no code, symbols that stay symbols."""

import csv
import io
from collections import defaultdict

import duckdb

from pipeline.defs.resources import PROJECT_DIR
from pipeline.sources.manifest import load_manifest

RAW = PROJECT_DIR / "raw"


def cells(path):
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


def number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def test_every_count_column_adds_up_to_the_published_england_and_wales_total(fresh_build):
    """In every edition, for every count column of every ONS table read: the 43 areas plus British Transport
    Police equal the printed England and Wales figure (where one is printed as a number); populations,
    rounded to 100 per area, within 400. Worked out here in Python from the cells the pipeline read,
    beside the pipeline's own SQL checks: the one column that does not add up (Table P4 of June 2018, which
    ONS prints 350 attempted murders with a knife against 345 in its areas) is exactly the one flagged."""
    import duckdb

    con = duckdb.connect(str(fresh_build.root / "warehouse.duckdb"), read_only=True)
    columns = defaultdict(list)
    for edition, table, group, heading, unit, period, code, name, value in con.execute(
        "SELECT edition, source_table, column_group, column_heading, unit_as_published, period_as_published, "
        "area_code, area_name, value_as_published FROM core.ons_pfa_cells"
    ).fetchall():
        columns[(edition, table, group, heading, unit, period)].append((code or "", name, value))
    checked, mismatched = defaultdict(int), set()
    for (edition, table, group, heading, unit, _period), rows in columns.items():
        is_count = unit == "Numbers" or heading.startswith("Number")
        is_population = heading.startswith("Population figures") or table == "Table P9"
        total = [number(value) for code, _, value in rows if code == "K04000001"]
        if not (is_count or is_population) or len(total) != 1 or total[0] is None:
            continue
        members = [
            number(value) or 0.0
            for code, name, value in rows
            if code[:3] in ("E23", "W15") or name.startswith("British Transport")
        ]
        adds_up = sum(members) == total[0] if is_count else abs(sum(members) - total[0]) <= 400
        if not adds_up:
            mismatched.add((edition, f"{group} / {heading}" if group else heading))
        checked[edition, table] += 1
    # A published column that does not add up stops the build; one the package does not publish is flagged.
    flagged = {
        (f["edition"], f["subject"])
        for f in cells(fresh_build.outputs / "data" / "quality_flags.csv")
        if f["check_name"] == "unpublished_counts_add_up"
    }
    assert mismatched == flagged == {("ons__pfa_ye_jun2018", "Attempted murder / Number of offences involving a knife")}
    editions = {f.file_id for f in load_manifest(RAW).editions("ons_pfa_workbook")}
    # Every edition's counts (P1), populations (P3) and knife series (P5) were checked, and the fifteen
    # mid-year populations of P9 in the one edition that prints them.
    for table in ("Table P1", "Table P3", "Table P5"):
        assert {e for e, t in checked if t == table} == editions, table
    assert checked["ons__pfa_ye_mar2018", "Table P9"] == 15


def test_symbols_never_become_numbers(fresh_build):
    rows = cells(fresh_build.outputs / "data" / "area_outcomes.csv")
    symbols = [r for r in rows if r["symbol"]]
    # ONS tables print the symbol in the cell; the homicide file leaves the cell blank with a status code. Either
    # way the symbol is published with its prefix (no reader takes printed_NA for a missing value), and no number.
    assert symbols and all(r["value"] == "" and r["value_as_published"] == "" for r in symbols)
    assert {r["symbol"] for r in symbols} >= {"printed_u", "printed_NA"}
    greater_manchester = [r for r in symbols if r["area_code"] == "E23000005"]
    # Greater Manchester's missing figures are all in editions whose year includes July to December 2019, when its
    # new IT system supplied no data: the September and December 2019 workbooks.
    assert {r["edition"] for r in greater_manchester} == {
        "ons__pfa_ye_sep2019",
        "ons__pfa_ye_dec2019",
    }
    for row in rows:
        if row["value"]:
            assert float(row["value"]) == float(row["value_as_published"].replace(",", ""))


def june_2025_rows() -> tuple[list[str], list[list[str]]]:
    data = list(csv.reader(io.StringIO((RAW / "outcomes/ons-pfa-tables-ye-jun2025-table-c2.csv").read_text("utf-8"))))
    return data[7], data[8:]  # seven lines of title and notes above the header row


def test_the_partnership_rule_compares_every_june_2025_force_total_and_catches_one_that_is_off(fresh_build):
    """The rule (schemas/plausibility.py, partnerships_add_up) over the cells this build read from Table C2: every
    force that prints a total and its partnerships is compared, for each published measure, and all agree; one
    partnership figure off by one is flagged, naming its force and measure."""
    from pipeline.transform import plausibility
    from schemas.plausibility import RULES

    rule = next(r for r in RULES if r.name == "partnerships_add_up")
    con = duckdb.connect()
    con.execute(f"ATTACH '{fresh_build.root / 'warehouse.duckdb'}' AS built (READ_ONLY)")
    for table in ("core.ons_wide_cells", "raw.project__outcome_measures"):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {table.split('.')[0]}")
        con.execute(f"CREATE TABLE {table} AS SELECT * FROM built.{table}")
    con.execute("DETACH built")
    ((compared,),) = con.execute(
        """SELECT count(*) FROM (
            SELECT area_code, column_heading FROM core.ons_wide_cells AS w
            WHERE EXISTS (SELECT 1 FROM raw.project__outcome_measures AS m
                          WHERE m.source_table = w.source_table AND m.column_heading = w.column_heading)
            GROUP BY ALL HAVING bool_or(is_area_total) AND bool_or(NOT is_area_total))"""
    ).fetchall()
    assert compared == 42 * 4  # every force but the City of London, which prints only its one partnership
    assert plausibility.flags(con, rule).empty

    con.execute(
        """UPDATE core.ons_wide_cells SET value_as_published = CAST(
               CAST(replace(trim(value_as_published), ',', '') AS BIGINT) + 1 AS VARCHAR)
           WHERE rowid = (SELECT min(rowid) FROM core.ons_wide_cells
                          WHERE area_code = 'E23000013' AND column_heading = 'Violence with injury'
                            AND NOT is_area_total)"""
    )
    found = plausibility.flags(con, rule)
    assert list(zip(found["area_code"], found["subject"], strict=True)) == [("E23000013", "Violence with injury")]


def test_june_2025_values_are_read_as_published(fresh_build):
    header, rows = june_2025_rows()
    published = {
        (r["area_code"], r["measure"]): r
        for r in cells(fresh_build.outputs / "data" / "area_outcomes.csv")
        if r["edition"] == "ons__pfa_ye_jun2025_table_c2"
    }
    assert len(published) == 43 * 4
    column = header.index("Violence with injury")
    for row in rows:
        if not row[2] and not row[3]:
            cell = published[(row[0], "violence_with_injury_offences")]
            assert cell["value_as_published"] == row[column]  # "13,388 ", as printed
            assert float(cell["value"]) == float(row[column].replace(",", "").strip())
    sample = published[("E23000036", "violence_with_injury_offences")]
    assert (sample["period_start"], sample["period_end"], sample["period_first_year"]) == (
        "2024-07-01",
        "2025-06-30",
        "",
    )


def test_the_before_and_after_comparison_is_reproduced_from_area_outcomes(fresh_build):
    outcomes = cells(fresh_build.outputs / "data" / "area_outcomes.csv")
    first_year = {
        r["area_code"]: r["first_funded_year"]
        for r in cells(fresh_build.outputs / "data" / "violence_reduction_units.csv")
    }
    flags = cells(fresh_build.outputs / "data" / "quality_flags.csv")
    after = {
        (r["area_code"], r["measure"]): float(r["value"])
        for r in outcomes
        if r["period_as_published"] == "year ending June 2025"
    }
    before = {
        (r["area_code"], r["measure"]): float(r["value"])
        for r in outcomes
        if r["edition"] == "ons__pfa_ye_mar2019" and r["value"]
    }
    flagged = {
        (f["area_code"], f["subject"])
        for f in flags
        if f["table_name"] == "outcome_change_by_area" and "year ending March 2019" in f["period"]
    }
    groups = {
        (r["measure"], r["area_group"], r["variant"]): r
        for r in cells(fresh_build.outputs / "data" / "outcome_change_by_group.csv")
        if r["before_edition"] == "ons__pfa_ye_mar2019"
    }
    for measure in ("violence_with_injury_offences", "possession_of_weapons_offences"):
        for variant in ("all_values", "excluding_flagged"):
            sums: dict[str, list[float]] = {}
            for (area, m), value in before.items():
                if m != measure or (area, m) not in after or (variant == "excluding_flagged" and (area, m) in flagged):
                    continue
                group = f"vru_from_{first_year[area]}" if area in first_year else "no_vru"
                sums.setdefault(group, [0.0, 0.0, 0])
                sums[group][0] += value
                sums[group][1] += after[(area, m)]
                sums[group][2] += 1
            for group, (b, a, n) in sums.items():
                row = groups[(measure, group, variant)]
                assert (float(row["value_before"]), float(row["value_after"]), int(row["n_areas"])) == (b, a, n)
                assert float(row["percent_change"]) == round(100 * (a - b) / b, 2)
    assert (
        sum(
            int(groups[("violence_with_injury_offences", g, "all_values")]["n_areas"])
            for g in ("vru_from_2019-20", "vru_from_2022-23", "no_vru")
        )
        == 43
    )


def test_an_unavailable_june_2025_cell_stays_missing(project, fresh_build):
    """ONS marks unavailable data [x]: it is published as a symbol with no value, never a zero."""
    project.replace_raw(
        "outcomes/ons-pfa-tables-ye-jun2025-table-c2.csv",
        'E23000036,Avon and Somerset,,,,,"170,002 ","67,382 ",8 ,6 ,"13,388 "',
        'E23000036,Avon and Somerset,,,,,"170,002 ","67,382 ",8 ,6 ,[x]',
    )
    build = project.build(only="core_outcome_change_by_area", after=fresh_build)
    assert build.result.success, build.step_failures()
    import duckdb

    con = duckdb.connect(str(project.root / "warehouse.duckdb"), read_only=True)
    row = con.execute(
        "SELECT value, value_as_published, symbol FROM core.area_outcomes WHERE area_code = 'E23000036' "
        "AND measure = 'violence_with_injury_offences' AND edition = 'ons__pfa_ye_jun2025_table_c2'"
    ).fetchall()
    assert row == [(None, "[x]", "[x]")]
    change = con.execute(
        "SELECT value_after, change, symbol FROM core.outcome_change_by_area WHERE area_code = 'E23000036' "
        "AND measure = 'violence_with_injury_offences' AND before_edition = 'ons__pfa_ye_mar2019'"
    ).fetchall()
    assert change == [(None, None, "[x]")]


ORACLE = PROJECT_DIR / "tests" / "oracle"


def test_every_transcribed_cell_equals_the_cell_read_from_the_workbook(fresh_build):
    """The cell-by-cell transcriptions of the first release are the oracle for the workbook reader: every
    transcribed cell equals the cell read, with its footnotes, unit, period and financial year."""
    import duckdb

    con = duckdb.connect(str(fresh_build.root / "warehouse.duckdb"), read_only=True)
    key = ("area_code", "area_name", "column_group", "column_heading")
    compared = 0
    for oracle, edition, table in (
        ("ons-pfa-tables-ye-mar2018-table-p1.csv", "ons__pfa_ye_mar2018", "Table P1"),
        ("ons-pfa-tables-ye-mar2019-table-p1.csv", "ons__pfa_ye_mar2019", "Table P1"),
        ("ons-pfa-tables-ye-mar2018-table-p3.csv", "ons__pfa_ye_mar2018", "Table P3"),
        ("ons-pfa-tables-ye-mar2019-table-p3.csv", "ons__pfa_ye_mar2019", "Table P3"),
        ("ons-pfa-tables-ye-dec2019-table-p3.csv", "ons__pfa_ye_dec2019", "Table P3"),
        ("ons-pfa-tables-ye-mar2019-table-p4.csv", "ons__pfa_ye_mar2019", "Table P4"),
        ("ons-pfa-tables-ye-mar2019-table-p5.csv", "ons__pfa_ye_mar2019", "Table P5"),
        ("ons-pfa-tables-ye-dec2019-table-p5.csv", "ons__pfa_ye_dec2019", "Table P5"),
        ("ons-pfa-tables-ye-mar2018-table-p9.csv", "ons__pfa_ye_mar2018", "Table P9"),
    ):
        read = {
            tuple(row[:4]): row[4:]
            for row in con.execute(
                "SELECT coalesce(area_code, ''), area_name, coalesce(column_group, ''), column_heading, "
                "value_as_published, coalesce(area_name_footnotes, ''), coalesce(unit_as_published, ''), "
                "period_as_published, coalesce(financial_year, ''), source_table "
                f"FROM raw.{edition} WHERE source_table = ?",
                [table],
            ).fetchall()
        }
        transcribed = cells(ORACLE / oracle)
        assert len(transcribed) == len(read) > 700, oracle
        for cell in transcribed:
            found = list(read[tuple(cell[k].strip() for k in key)])
            # The same double: openpyxl gives 6.019992566964371 where the transcription wrote 6.0199925669643708.
            if number(found[0]) is not None and number(cell["value_as_published"]) is not None:
                assert number(found[0]) == number(cell["value_as_published"]), cell
                found[0] = cell["value_as_published"]
            assert found == [
                cell["value_as_published"],
                cell["area_name_footnotes"],
                cell["unit_as_published"],
                cell["period_as_published"],
                cell["financial_year"],
                cell["source_table"],
            ], cell
            compared += 1
    assert compared == 2 * 1288 + 3 * 1430 + 784 + 1160 + 1392 + 825


def test_the_area_year_panel_repeats_the_detail_tables_exactly(fresh_build):
    """Each funding value of the panel is the figure funding_allocations chose, with its source; each outcome is
    the newest edition's value for exactly that financial year, with its source; a gap stays blank."""
    con = duckdb.connect()
    data = fresh_build.outputs / "data"
    for name in ("area_year", "funding_allocations", "funding_coverage", "area_outcomes"):
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_csv('{data / name}.csv', all_varchar=true)")
    rows, areas, years = con.execute(
        "SELECT count(*), count(DISTINCT area_code), count(DISTINCT financial_year) FROM area_year"
    ).fetchall()[0]
    assert (rows, areas) == (areas * years, 43) and years >= 16
    for stream in ("vru", "surge_grip", "hotspot_fund", "svd"):
        mismatched = con.execute(
            f"""SELECT count(*) FROM area_year p
            FULL JOIN (SELECT * FROM funding_allocations WHERE stream = '{stream}' AND superseded_because IS NULL) a
                USING (area_code, financial_year)
            WHERE p.{stream}_gbp IS DISTINCT FROM a.amount_gbp OR p.{stream}_source_id IS DISTINCT FROM a.source_id"""
        ).fetchall()[0][0]
        assert mismatched == 0, stream
        known = con.execute(
            f"""SELECT count(*) FROM area_year p LEFT JOIN (SELECT * FROM funding_coverage WHERE stream = '{stream}') c
            USING (area_code, financial_year)
            LEFT JOIN (SELECT * FROM funding_allocations WHERE stream = '{stream}' AND superseded_because IS NOT NULL) s
            USING (area_code, financial_year)
            WHERE p.{stream}_known IS DISTINCT FROM coalesce(c.known, CASE WHEN s.area_code IS NOT NULL
                                                                          THEN 'superseded' END)"""
        ).fetchall()[0][0]
        assert known == 0, stream
    for measure in ("violence_with_injury_offences", "homicide_offences", "knife_selected_offences"):
        newest = con.execute(
            f"""SELECT area_code, substr(period_start, 1, 4) || '-' || substr(CAST(CAST(substr(period_start, 1, 4)
                AS INT) + 1 AS VARCHAR), 3, 2) AS financial_year, value, edition, source_id
            FROM area_outcomes WHERE measure = '{measure}' AND period_start LIKE '%-04-01'
              AND period_end = CAST(CAST(substr(period_start, 1, 4) AS INT) + 1 AS VARCHAR) || '-03-31'
            QUALIFY row_number() OVER (
                PARTITION BY area_code, period_start ORDER BY edition_date DESC, edition DESC) = 1"""
        ).fetchall()
        assert newest
        panel = {
            (r[0], r[1]): r[2:]
            for r in con.execute(
                f"SELECT area_code, financial_year, {measure}, {measure}_edition, {measure}_source_id FROM area_year "
                f"WHERE {measure}_edition IS NOT NULL"
            ).fetchall()
        }
        assert panel == {(a, y): (v, e, s) for a, y, v, e, s in newest}, measure
