"""Versions change only when data changes, and the changelog says which tables changed."""

import csv
import datetime as dt
import io
import json
import subprocess
import zipfile

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.defs.resources import PROJECT_DIR
from pipeline.release import archive, versions
from schemas import PUBLISHED_TABLES
from tests.conftest import snapshot

HO_FILE = "funding/home-office-serious-violence-funding-allocations-2023-24.csv"


# Slow: the changed figure feeds the whole output layer (the package written and validated, the workbook, the
# changelog), about 18 s of CPU; the version arithmetic and the changelog's text have fast tests below.
@pytest.mark.slow
def test_changing_one_raw_figure_bumps_the_version_and_names_the_table(project, fresh_build):
    before = snapshot(project.outputs)
    old_version = json.loads(before["datapackage.json"])["version"]
    project.replace_raw(HO_FILE, '"£861,445"', '"£861,446"')
    note = "A correction: one Grip figure of the 2023-24 Home Office table was misread."
    (project.release / versions.NOTES_NAME).write_text(
        f'notes:\n  - replaces: "{old_version}"\n    note: >-\n      {note}\n', encoding="utf-8"
    )
    build = project.build(release_date="2031-01-02", after=fresh_build)
    assert build.result.success, build.step_failures()
    after = snapshot(project.outputs)

    descriptor = json.loads(after["datapackage.json"])
    assert descriptor["version"] == "2031.01.02" != old_version
    assert descriptor["created"] == "2031-01-02T00:00:00Z"
    changelog = after["CHANGELOG.md"].decode()
    newest = changelog.split("\n## ")[1]
    assert newest.startswith("2031.01.02 (2031-01-02)")
    changed = {line.split(" | ")[0].strip("| ") for line in newest.splitlines() if "| data changed" in line}
    # The figure itself, the cell it is chosen for, and the national total's sum of known cells.
    assert changed == {"funding_reports", "funding_allocations", "national_totals", "area_year"}
    assert "| funding_reports | data changed |" in newest
    # Why, in the maintainer's words, then what changed and that no reader's code breaks, computed.
    assert newest.splitlines()[2].startswith(f"{note} Changed: 4 tables with changed data. Not breaking:")
    assert f"## {old_version}" in changelog  # earlier entries are kept
    assert "861446" in after["data/funding_reports.csv"].decode()
    tables = [p for p in before if p.endswith((".csv", ".parquet")) and p.startswith(("data/", "parquet/"))]
    unchanged = [p for p in tables if not any(t in p for t in changed)]
    assert len(unchanged) == 2 * (len(PUBLISHED_TABLES) - len(changed))
    assert all(before[p] == after[p] for p in unchanged)


def test_second_release_on_the_same_day_gets_a_suffix():
    day = dt.date(2026, 11, 25)
    assert versions.next_version(None, day) == "2026.11.25"
    assert versions.next_version("2026.11.24", day) == "2026.11.25"
    assert versions.next_version("2026.11.25", day) == "2026.11.25.2"
    assert versions.next_version("2026.11.25.2", day) == "2026.11.25.3"


def test_changelog_without_a_release_is_left_as_it_was():
    text = versions.CHANGELOG_HEADER + "\n## 2026.11.25 (2026-11-25)\n\nentry\n"
    assert versions.changelog(text, versions.Release("2026.11.25", "2026-11-25", [])) == text


def _state(schema: dict) -> versions.TableState:
    return versions.TableState(rows=1, sha256="0" * 64, schema=json.dumps(schema, sort_keys=True))


def test_a_column_renamed_or_removed_a_key_or_a_unit_changed_is_marked_breaking_and_a_new_column_is_not():
    published = json.loads((PROJECT_DIR / "outputs" / "datapackage.json").read_text(encoding="utf-8"))
    schema = next(r["schema"] for r in published["resources"] if r["name"] == "funding_reports")
    before = _state(schema)
    assert versions.breaking_changes("funding_reports", before, before) == []
    added = dict(schema, fields=[*schema["fields"], {"name": "extra", "type": "string"}])
    assert versions.breaking_changes("funding_reports", before, _state(added)) == []
    renamed = [dict(f, name="amount_pounds") if f["name"] == "amount_gbp" else f for f in schema["fields"]]
    assert versions.breaking_changes("funding_reports", before, _state(dict(schema, fields=renamed))) == [
        "`funding_reports.amount_gbp` removed or renamed"
    ]
    pence = [dict(f, unit="GBX") if f["name"] == "amount_gbp" else f for f in schema["fields"]]
    assert versions.breaking_changes("funding_reports", before, _state(dict(schema, fields=pence))) == [
        "`funding_reports.amount_gbp` unit GBP -> GBX"
    ]
    rekeyed = dict(schema, primaryKey=["report_id", "source_id"])
    assert versions.breaking_changes("funding_reports", before, _state(rekeyed))[0].startswith(
        "`funding_reports` key ['report_id'] -> "
    )
    assert versions.breaking_changes("funding_reports", before, None) == ["`funding_reports` removed"]
    entry = versions.changelog(
        None, versions.Release("2031.01.02", "2031-01-02", [("funding_reports", before, _state(rekeyed))]), None, "x"
    )
    assert "No release note was given (release/notes.yaml has no entry replacing x)." in entry
    assert "**Breaking:** `funding_reports` key" in entry


def test_a_malformed_release_note_is_refused_naming_the_file_and_entry(tmp_path):
    path = tmp_path / versions.NOTES_NAME
    assert versions.release_note(path, "2031.01.01") is None  # no file: no note
    path.write_text('notes:\n  - replaces: "2031.01.01"\n    text: why\n', encoding="utf-8")
    with pytest.raises(versions.NotesInvalid, match=r"notes.yaml: notes entry 1 must have exactly 'replaces'"):
        versions.release_note(path, "2031.01.01")
    path.write_text('notes:\n  - replaces: "2031.01.01"\n    note: "A new edition."\n', encoding="utf-8")
    assert versions.release_note(path, "2031.01.01") == "A new edition."
    assert versions.release_note(path, "2031.01.02") is None  # a note explains the one release it names


def test_rows_are_counted_as_a_csv_reader_counts_them():
    assert versions.count_rows(b"a,b\n1,2\n3,4\n") == 2
    assert versions.count_rows(b'a,b\n"x\ny",1\n') == 1  # a line break inside a quoted cell is not a row
    assert versions.count_rows(b"a,b\n") == 0


@given(st.lists(st.lists(st.text(alphabet='ab,"\n £', max_size=6), min_size=2, max_size=2), max_size=12))
def test_rows_with_quotes_and_line_breaks_in_cells_are_counted_as_csv_reader_counts_them(rows):
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([["a", "b"], *rows])
    data = buffer.getvalue().encode("utf-8")
    assert versions.count_rows(data) == sum(1 for _ in csv.reader(io.StringIO(data.decode("utf-8")))) - 1


@pytest.mark.slow
def test_make_release_twice_gives_the_same_archive_whose_sums_verify_raw_files_resolve_and_workbook_is_typed(
    release_archive, tmp_path
):
    outputs, raw = PROJECT_DIR / "outputs", PROJECT_DIR / "raw"
    first = release_archive  # the session's, built by another test worker or earlier in this one
    second = archive.build_archive(outputs, raw, tmp_path / "two")
    assert first.read_bytes() == second.read_bytes()
    assert (first.parent / "SHA256SUMS").read_bytes() == (tmp_path / "two" / "SHA256SUMS").read_bytes()
    checked = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=first.parent, capture_output=True, text=True)
    assert checked.returncode == 0 and checked.stdout == f"{first.name}: OK\n", checked.stdout + checked.stderr

    with zipfile.ZipFile(first) as zf:
        zf.extractall(tmp_path / "unpacked")
    [folder] = (tmp_path / "unpacked").iterdir()
    assert folder.name == first.name.removesuffix(".zip")
    inner = subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=folder, capture_output=True, text=True)
    assert inner.returncode == 0, inner.stdout + inner.stderr
    # The package as published, and the raw files every row names.
    for path in outputs.rglob("*"):
        if path.is_file():
            assert (folder / path.relative_to(outputs)).read_bytes() == path.read_bytes(), path
    named = set()
    for csv_path in (folder / "data").glob("*.csv"):
        with csv_path.open(encoding="utf-8", newline="") as handle:
            named |= {row["raw_file"] for row in csv.DictReader(handle) if row.get("raw_file")}
    assert len(named) >= 10  # the funding files, the reference transcriptions, the ONS editions
    assert all((folder / name).is_file() for name in named), sorted(n for n in named if not (folder / n).is_file())
    assert (folder / "raw" / "sources.yaml").read_bytes() == (raw / "sources.yaml").read_bytes()
    # The workbook for Excel users, checked inside the archive rather than built a third time.
    check_release_workbook((folder / archive.WORKBOOK).read_bytes(), outputs)


def check_release_workbook(data: bytes, outputs) -> None:
    """The release workbook: a README sheet, then every table with the CSV's header and rows, numbers typed."""
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["README", *PUBLISHED_TABLES]
    readme = {row[0]: row for row in book["README"].iter_rows(min_row=7, values_only=True)}
    for name, table in PUBLISHED_TABLES.items():
        with (outputs / "data" / f"{name}.csv").open(encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))
        sheet = list(book[name].iter_rows(values_only=True))
        assert list(sheet[0]) == rows[0] and len(sheet) == len(rows), name
        assert readme[name][1] == len(rows) - 1
        for column in (c for c in table.columns if c.type == "number"):
            i = rows[0].index(column.name)
            for text, value in zip((r[i] for r in rows[1:]), (r[i] for r in sheet[1:]), strict=True):
                assert (value is None) if text == "" else value == pytest.approx(float(text), rel=1e-15), (name, text)
    # Text that looks like a formula stays text.
    assert archive.typed("=SUM(A1)", "string") == "=SUM(A1)"


def test_text_that_looks_like_a_formula_is_written_as_text():
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("t")
    sheet.append([archive.as_text_cell(sheet, v) for v in ("=SUM(A1)", "=1+1", "text", 3.5)])
    buffer = io.BytesIO()
    book.save(buffer)
    cells = next(openpyxl.load_workbook(buffer)["t"].iter_rows())
    assert [c.value for c in cells] == ["=SUM(A1)", "=1+1", "text", 3.5]
    assert [c.data_type for c in cells] == ["s", "s", "s", "n"]  # no formula
