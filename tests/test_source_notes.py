"""The publishers' footnotes under each table of the ONS police force area workbooks, read as data (issue 23, 5)."""

from pathlib import Path

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
