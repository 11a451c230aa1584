"""The publishers' footnotes under each table of the ONS police force area workbooks, read as data (issue 23, 5)."""

import csv
import re
from collections import defaultdict
from pathlib import Path

import duckdb
import openpyxl
import pytest

from pipeline.sources import workbooks
from pipeline.sources.manifest import load_manifest

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = load_manifest(ROOT / "raw")
EDITIONS = [f for f in MANIFEST.files.values() if f.table_layout == "ons_pfa_workbook"]
# Table P3 of the year ending June 2018 puts marker 12 on a name but prints notes 1 to 11 only (the workbook's own gap).
MARKERS_WITHOUT_A_NOTE = {("ons__pfa_ye_jun2018", "Table P3", 12)}


@pytest.fixture(scope="module", params=EDITIONS, ids=lambda f: f.file_id)
def edition(request):
    entry = request.param
    path = ROOT / "raw" / entry.path
    return entry, path, workbooks.read_footnotes(path, entry.table_options)


def test_every_note_is_the_workbook_cell_it_names(edition):
    entry, path, notes = edition
    assert len(notes) > 0
    book = openpyxl.load_workbook(path, data_only=True)
    sheets = {name.strip(): book[name] for name in book.sheetnames}
    for note in notes.itertuples():
        sheet, cell = note.note_cell.split("!")
        assert sheet == note.source_table
        printed = sheets[sheet][cell].value
        assert note.note_text == printed, (entry.file_id, note.note_cell)
        assert printed.startswith(f"{note.note_number}. ")


def test_every_marker_on_a_name_points_at_a_printed_note(edition):
    entry, path, notes = edition
    cells = workbooks.read_workbook(path, entry.table_options)
    printed = set(zip(notes["source_table"], notes["note_number"], strict=True))
    markers = cells[["source_table", "area_name_footnotes"]].dropna().drop_duplicates()
    missing = {
        (entry.file_id, table, int(n))
        for table, marks in markers.itertuples(index=False)
        for n in marks.split(",")
        if (table, int(n)) not in printed
    }
    assert missing <= MARKERS_WITHOUT_A_NOTE


def test_the_notes_on_breaks_and_under_counts_are_read():
    """The notes the audit names are among those read, in the edition and table that print them."""
    entry = MANIFEST.file("ons__pfa_ye_dec2019")
    notes = workbooks.read_footnotes(ROOT / "raw" / entry.path, entry.table_options)
    by_cell = dict(zip(notes["note_cell"], notes["note_text"], strict=True))
    assert "Greater Manchester Police" in by_cell["Table P5!A70"] and "under-counting" in by_cell["Table P5!A70"]
    assert "Surrey" in by_cell["Table P5!A73"] and "unbroken bottle" in by_cell["Table P5!A73"]
    assert "Thames Valley" in by_cell["Table P5!A75"] and "have not" in by_cell["Table P5!A75"]
    assert "lorry in Essex" in by_cell["Table P1!A73"]
    assert "undercount of Dyfed-Powys" in by_cell["Table P1!A67"]


COVERAGE = "mappings/source_note_coverage.csv"


def published(build, table: str) -> list[dict]:
    with open(build.outputs / "data" / f"{table}.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_every_published_note_is_the_workbook_cell_it_names(fresh_build):
    notes = published(fresh_build, "source_notes")
    assert len(notes) == 332
    books: dict[str, dict] = {}
    for note in notes:
        if note["raw_file"] not in books:
            book = openpyxl.load_workbook(fresh_build.root / note["raw_file"], data_only=True)
            books[note["raw_file"]] = {name.strip(): book[name] for name in book.sheetnames}
        sheet, cell = note["note_cell"].split("!")
        assert note["note_text"] == books[note["raw_file"]][sheet][cell].value, note["note_id"]


def test_a_value_a_note_marks_as_short_or_not_comparable_is_left_out_of_the_noted_variant(fresh_build):
    names = {a["area_code"]: a["area_name"] for a in published(fresh_build, "police_force_areas")}
    covered = [v for v in published(fresh_build, "source_note_values") if v["excluded_from_comparisons"] == "true"]
    assert {v["kind"] for v in covered} == {"under_count", "estimated", "not_comparable"}
    left_out: dict[tuple, str] = defaultdict(str)
    used = 0
    for row in published(fresh_build, "outcome_comparison"):
        if row["variant"] == "excluding_flagged_and_noted":
            left_out[(row["measure"], row["period_as_published"], row["edition"])] += row["areas_left_out"] + "; "
    for value in covered:
        key = (value["measure"], value["period_as_published"], value["edition"])
        if key in left_out:
            used += 1
            assert f"{names[value['area_code']]} (" in left_out[key], (value["note_id"], key)
    # Surrey's knife figures include unbroken bottles (ONS's note), so they leave the comparison of 2018-19.
    surrey = left_out[("knife_selected_offences", "Apr '18 to Mar '19", "ons__pfa_ye_mar2019")]
    assert "Surrey (publisher's note: ons__pfa_ye_mar2019:Table P5!A72)" in surrey
    assert used > 50

    changes = published(fresh_build, "outcome_change_by_area")
    by_value = {(v["area_code"], v["measure"], v["edition"], v["period_as_published"]) for v in covered}
    groups = defaultdict(str)
    for row in published(fresh_build, "outcome_change_by_group"):
        if row["variant"] == "excluding_flagged_and_noted":
            groups[(row["measure"], row["before_edition"], row["after_edition"])] += row["areas_left_out"] + "; "
    noted = [
        c
        for c in changes
        if (c["area_code"], c["measure"], c["before_edition"], c["before_period"]) in by_value
        or (c["area_code"], c["measure"], c["after_edition"], c["after_period"]) in by_value
    ]
    assert noted
    for change in noted:
        assert (
            f"{names[change['area_code']]} ("
            in groups[(change["measure"], change["before_edition"], change["after_edition"])]
        )


def test_the_other_variants_are_untouched_by_the_notes(fresh_build):
    """Notes add a variant; all_values and excluding_flagged are what they were without them."""
    rows = published(fresh_build, "outcome_comparison")
    for row in rows:
        if row["variant"] != "all_values":
            assert "publisher's note" not in row["areas_left_out"] or row["variant"] == "excluding_flagged_and_noted"
    counts = defaultdict(int)
    for row in rows:
        counts[row["variant"]] += 1
    assert counts["all_values"] == counts["excluding_flagged"] == counts["excluding_flagged_and_noted"]


def test_the_rule_catches_a_note_on_a_force_nobody_has_read(project, fresh_build):
    """With one note's reading removed (Surrey's unbroken bottles, December 2019, Table P5), the rule flags the note
    as unread and the comparison no longer leaves Surrey's figures of that table out: the exclusion is the note's."""
    text = (project.raw / COVERAGE).read_text(encoding="utf-8")
    line = next(x for x in text.splitlines() if x.startswith("ons__pfa_ye_dec2019,Table P5!A73,"))
    project.replace_raw(COVERAGE, line + "\n", "")
    build = project.build(only="core_outcome_comparison", after=fresh_build)
    assert not build.step_failures()
    with duckdb.connect(str(project.root / "warehouse.duckdb"), read_only=True) as con:
        flags = con.execute("SELECT area_code, observed FROM core.flags__note_on_a_force_is_read").fetchall()
        # The note names Surrey; its marker is on Surrey's and (misplaced) Sussex's names.
        assert {observed[:14] for _, observed in flags} == {"Table P5!A73: "}
        assert "E23000031" in {code for code, _ in flags}
        left_out = con.execute(
            "SELECT areas_left_out FROM core.outcome_comparison WHERE variant = 'excluding_flagged_and_noted' "
            "AND measure = 'knife_selected_offences' AND period_as_published = 'Apr ''18 to Mar ''19' "
            "AND edition = 'ons__pfa_ye_dec2019' AND area_group = 'no_vru'"
        ).fetchone()[0]
    assert "Surrey" not in (left_out or "")


def test_an_edition_with_no_readings_yet_gets_one_flag_per_note_and_force(project, fresh_build):
    """A newly fetched edition arrives with none of its notes read: every note on a force is flagged, each with its
    own flag id (an edition prints several notes on one force in one table, as December 2019 does for Greater
    Manchester), and the package's quality flags stay unique."""
    text = (project.raw / COVERAGE).read_text(encoding="utf-8")
    kept = "".join(line for line in text.splitlines(keepends=True) if not line.startswith("ons__pfa_ye_dec2019,"))
    project.write_raw(COVERAGE, kept.encode("utf-8"))
    build = project.build(only="out_quality_flags", after=fresh_build)
    assert not build.step_failures()
    with duckdb.connect(str(project.root / "warehouse.duckdb"), read_only=True) as con:
        ids = [i for (i,) in con.execute("SELECT flag_id FROM out.quality_flags").fetchall()]
        unread = con.execute(
            "SELECT count(*), count(DISTINCT period) FROM core.flags__note_on_a_force_is_read "
            "WHERE area_code = 'E23000005'"
        ).fetchone()
    assert len(ids) == len(set(ids))
    assert unread[0] == unread[1] > 1  # Greater Manchester: several December 2019 notes, one flag each


def test_a_reading_that_names_no_printed_note_stops_the_run(project, fresh_build):
    text = (project.raw / COVERAGE).read_text(encoding="utf-8")
    row = 1 + next(i for i, x in enumerate(text.splitlines()) if x.startswith("ons__pfa_ye_dec2019,Table P1!A67,"))
    project.replace_raw(COVERAGE, "ons__pfa_ye_dec2019,Table P1!A67,", "ons__pfa_ye_dec2019,Table P1!A99,")
    failures = " ".join(project.build(only="core_source_notes", after=fresh_build).step_failures())
    assert f"raw/mappings/source_note_coverage.csv, row {row}, column 'note_cell'" in failures
    assert "Traceback" not in failures


def test_the_under_count_a_note_dates_leaves_every_variant_and_without_the_note_it_would_not(fresh_build, tmp_path):
    """Greater Manchester's knife offences before its December 2017 review are left out of every variant of
    outcome_comparison because ONS's note says so (source_notes: an under-count up to a date, with no start), not
    because the comparison names the force: the comparison rerun on the same warehouse gives the published table,
    and with the notes' readings gone those values are counted in all_values (unless the edition printed a symbol)."""
    from pipeline.transform.sqltext import sql_text
    from pipeline.transform.warehouse import SQL_DIR

    warehouse = tmp_path / "warehouse.duckdb"
    warehouse.write_bytes((fresh_build.root / "warehouse.duckdb").read_bytes())
    con = duckdb.connect(str(warehouse))
    query = sql_text(SQL_DIR / "core_outcome_comparison.sql")
    columns = "measure, period_as_published, edition, area_group, variant, n_areas, areas_left_out, sum_value"
    published = con.execute(f"SELECT {columns} FROM core.outcome_comparison ORDER BY ALL").fetchall()
    con.execute(query)
    assert con.execute(f"SELECT {columns} FROM core.outcome_comparison ORDER BY ALL").fetchall() == published
    left_out = "Greater Manchester (under-count before 2018)"
    every = [r for r in published if r[4] == "all_values" and left_out in (r[6] or "")]
    assert {r[0] for r in every} == {"knife_selected_offences", "knife_homicide_offences"} and len(every) >= 9
    # Remove the readings of Greater Manchester's review notes (kind under_count, no start, an end).
    removed = con.execute(
        "DELETE FROM core.source_notes WHERE area_codes = 'E23000005' AND kind = 'under_count' "
        "AND covers_from IS NULL AND covers_until IS NOT NULL"
    ).fetchone()[0]
    assert removed >= 9
    con.execute(query)
    rerun = {r[:5]: r for r in con.execute(f"SELECT {columns} FROM core.outcome_comparison ORDER BY ALL").fetchall()}
    con.close()
    counted = 0
    for row in every:
        again = rerun[row[:5]]
        # Counted, unless the edition printed a symbol for it (the December 2019 edition's 2017-18: 'NA', '..').
        assert left_out not in (again[6] or "") and again[5] in (row[5], row[5] + 1), (row, again)
        assert again[5] == row[5] + 1 or re.search(r"Greater Manchester \((NA|\.\.)\)", again[6]), again
        counted += again[5] - row[5]
    assert counted >= 9
