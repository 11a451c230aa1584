"""ONS police force area workbooks (.xlsx) read as published, one cell per row.

What differs between editions and tables is data in the manifest (`table_options.sheets`), not code:
the sheet's name (with its trailing spaces), the rows of the column groups, headings and units, and the
rows the areas run over. The reader returns the same long layout as the cell-by-cell transcriptions
(`ons_pfa_long`), so every edition flows through one core query:

- the sheet name is kept without its trailing spaces ("Table P4  " is Table P4);
- footnote markers glued to a name ("ENGLAND AND WALES7,8") or a heading ("Violence against the person4")
  are split off: the name is kept, the markers go to `area_name_footnotes` (headings lose them);
- a column group spans the columns to its right until the next group; a heading with no group above it
  is its own heading ("Total recorded crime (excluding fraud)"); the units line carries the same way;
- a cell ONS filled with a symbol keeps the symbol; a blank cell has no row (a gap, never a zero);
- every cell carries where it was read ("Table P1!G10", the sheet name without its trailing spaces), so a
  published value leads back to the cell in one step.
"""

from __future__ import annotations

import re
from pathlib import Path

import openpyxl
import pandas as pd
from openpyxl.utils import get_column_letter

from pipeline.sources.csvfile import RawFileError
from schemas.vocabulary import financial_year as year_label

COLUMNS = (
    "source_table",
    "area_code",
    "area_name",
    "area_name_footnotes",
    "column_group",
    "column_heading",
    "unit_as_published",
    "period_as_published",
    "financial_year",
    "value_as_published",
    "source_cell",
)
# Footnote markers ONS glues to the end of a name: "ENGLAND AND WALES7,8", "Violence against the person4" (not the
# year of a period: "Mar '11").
_FOOTNOTES = re.compile(r"^(?P<text>.*?[^\d,\s'])\s*(?P<notes>\d{1,2}(?:,\d{1,2})*)$")
# ... or inside a closing bracket: "Total recorded crime (excluding fraud3)".
_FOOTNOTES_IN_BRACKET = re.compile(r"^(?P<text>.*?[^\d,\s])(?P<notes>\d{1,2}(?:,\d{1,2})*)\)$")
# ... or after a closing bracket inside a heading: "Population figures (mid-2016)4 rounded to 100".
_FOOTNOTES_AFTER_BRACKET = re.compile(r"^(?P<text>.*?\))(?P<notes>\d{1,2}(?:,\d{1,2})*) (?P<rest>\D.*)$")
# A heading that names its own period: the population column of Table P3 is "(mid-2016)", not the table's year.
_MID_YEAR = re.compile(r"\((mid-\d{4})\)")
_YEAR_ENDING_MARCH = re.compile(r"year ending March (\d{2}|\d{4})")
_APRIL_TO_MARCH = re.compile(r"Apr '(\d{2}) to Mar '(\d{2})")
_SPAN = re.compile(r"[A-Z][a-z]{2} '\d{2} to [A-Z][a-z]{2} '\d{2}")
# A column whose heading is a share ("% involving a knife"): a part of a whole, so between 0 and 100. A "% change"
# group is not a share (a count that more than doubled is a change above 100%).
_SHARE = re.compile(r"^%(?! change)")


def is_share(group: str | None, heading: str) -> bool:
    return bool(_SHARE.match(heading)) and not (group or "").startswith("% change")


def share_problem(value: str) -> str | None:
    """Why a share's cell cannot be right, or None (a symbol such as '..' or '[x]' is not a number to check)."""
    try:
        number = float(value)
    except ValueError:
        return None
    return None if 0 <= number <= 100 else "a percentage share must lie between 0 and 100"


def split_footnotes(text: str) -> tuple[str, str | None]:
    """('ENGLAND AND WALES', '7,8') from 'ENGLAND AND WALES7,8'; names without markers are kept whole."""
    text = " ".join(str(text).split())
    if match := _FOOTNOTES_IN_BRACKET.match(text):
        return match["text"].strip() + ")", match["notes"]
    if match := _FOOTNOTES_AFTER_BRACKET.match(text):
        return f"{match['text']} {match['rest']}", match["notes"]
    match = _FOOTNOTES.match(text)
    return (match["text"].strip(), match["notes"]) if match else (text, None)


def _cell_text(value: object) -> str | None:
    """A cell as the workbook stores it, as text: integers without '.0', symbols as printed."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip() if isinstance(value, str) else str(value)


def financial_year(period: str) -> str | None:
    """'2018-19' for 'year ending March 2019' or "Apr '18 to Mar '19"; None for any other period."""
    if match := _APRIL_TO_MARCH.fullmatch(period):
        return f"20{match[1]}-{match[2]}" if int(match[2]) == (int(match[1]) + 1) % 100 else None
    match = _YEAR_ENDING_MARCH.fullmatch(period)
    if not match:
        return None
    end = int(match[1]) + (2000 if len(match[1]) == 2 else 0)
    return year_label(end - 1)


def column_period(sheet_period: str | None, group: str | None, heading: str, template: str | None = None) -> str:
    """The period of one column: the one its heading names ("Population figures (mid-2016) ..."); else
    the sheet's `period_format` filled in ("mid-{heading}": Table P9 heads each column with its year);
    else the sheet's period; or (period_from: group) the column group's, where a series table prints one
    period per group ("Apr '10 to Mar '11"); a "% change ... compared with:" group compares with the period
    in its heading, so both are kept."""
    if match := _MID_YEAR.search(heading):
        return match[1]
    if template is not None:
        return template.format(group=group, heading=heading)
    if sheet_period is not None:
        return sheet_period
    return f"{group} {heading}" if _SPAN.fullmatch(heading) else str(group)


def sheet_rows(path: Path, book, sheet: dict) -> list[tuple]:
    """The rows of one sheet of an open workbook, as stored."""
    if sheet["name"] not in book.sheetnames:
        raise RawFileError(f"{path}: no sheet {sheet['name']!r} (sheets: {', '.join(book.sheetnames)})")
    return list(book[sheet["name"]].iter_rows(values_only=True))


def read_sheet(path: Path, rows: list[tuple], sheet: dict, period: str | None) -> pd.DataFrame:
    """One table of a workbook as long cells. `sheet` gives its name and rows (see the module docstring)."""
    width = max(len(r) for r in rows)
    rows = [tuple(r) + (None,) * (width - len(r)) for r in rows]

    groups, headings, units = [], [], []
    group = unit = None
    for column in range(2, width):
        above = _cell_text(rows[sheet["group_row"] - 1][column])
        heading = _cell_text(rows[sheet["heading_row"] - 1][column])
        printed_unit = _cell_text(rows[sheet["unit_row"] - 1][column]) if sheet.get("unit_row") else None
        if above is not None:
            group = split_footnotes(above)[0]
        if printed_unit is not None:
            unit = printed_unit
        if heading is None and above is not None:
            heading, own_group = above, None  # a heading printed on the group row, with no group above it
        else:
            own_group = group
        groups.append(own_group if heading is not None else None)
        headings.append(split_footnotes(heading)[0] if heading is not None else None)
        units.append(unit if heading is not None else None)

    records, rows_read, impossible = [], [], []
    for number in range(sheet["first_row"], sheet["last_row"] + 1):
        row = rows[number - 1]
        name = _cell_text(row[1])
        if name is None:
            continue
        area_name, footnotes = split_footnotes(name)
        code = _cell_text(row[0])
        for column in range(2, width):
            heading = headings[column - 2]
            if heading is None:
                continue
            value = _cell_text(row[column])
            if value is None:
                continue
            if is_share(groups[column - 2], heading) and (why := share_problem(value)):
                impossible.append(
                    f"{path}, sheet {sheet['name'].strip()!r}, cell {get_column_letter(column + 1)}{number} "
                    f"({area_name}, {groups[column - 2]}: {heading}): value {value!r}: {why}"
                )
            rows_read.append(number)
            column_says = column_period(period, groups[column - 2], heading, sheet.get("period_format"))
            records.append(
                (
                    sheet["name"].strip(),
                    code,
                    area_name,
                    footnotes,
                    groups[column - 2],
                    heading,
                    units[column - 2],
                    column_says,
                    financial_year(column_says),
                    value,
                    f"{sheet['name'].strip()}!{get_column_letter(column + 1)}{number}",
                )
            )
    if impossible:
        shown = "; ".join(impossible[:5]) + (f"; and {len(impossible) - 5} more" if len(impossible) > 5 else "")
        raise RawFileError(
            f"{shown}. Compare the cell with the publisher's workbook: a workbook that is not the one published is "
            "replaced by the publisher's file (with its own manifest entry), never edited in place"
        )
    # Indexed so that index + 2 is the sheet's own row number, as for a CSV with its header on row 1:
    # a failure names the row an analyst opens the workbook at.
    return pd.DataFrame(records, columns=list(COLUMNS), index=[n - 2 for n in rows_read], dtype=object)


def open_workbook(path: Path, *, data_only: bool = True) -> openpyxl.Workbook:
    """A workbook opened to be read: streamed, and without its links to other workbooks, which ONS's carry by the
    thousand and we never follow (opening costs half as much without them)."""
    return openpyxl.load_workbook(path, read_only=True, data_only=data_only, keep_links=False)


def open_raw_workbook(path: Path) -> openpyxl.Workbook:
    """open_workbook for a raw file: a file that is not a workbook is named as such."""
    try:
        return open_workbook(path)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        raise RawFileError(f"{path}: not a readable .xlsx workbook: {exc}") from exc


def read_workbook(path: Path, options: dict) -> pd.DataFrame:
    """Every table the manifest names in a workbook, as long cells. The workbook is opened once (opening it
    is most of the cost of reading it)."""
    book = open_raw_workbook(path)
    try:
        tables = [(sheet, sheet_rows(path, book, sheet)) for sheet in options["sheets"]]
    finally:
        book.close()
    # A sheet may word its period differently from the others ("year ending March 18" in P1, "... 2018" in P4),
    # or print one period per column group (period_from: group, the knife series of Table P5).
    frames = []
    for sheet, rows in tables:
        by_group = sheet.get("period_from") == "group"
        period = None if by_group else sheet.get("period_as_published", options["period_as_published"])
        frames.append(read_sheet(path, rows, sheet, period))
    return pd.concat(frames)


FOOTNOTE_COLUMNS = ("source_table", "note_number", "note_cell", "note_text")
# A numbered footnote printed under a table: "4. Data from Northumbria, ... have revised ...".
_FOOTNOTE_LINE = re.compile(r"^(?P<number>\d{1,2})\.\s")


def footnotes(rows: list[tuple], sheet: dict) -> list[tuple]:
    """The numbered footnotes printed in column A under one table (below its last area row), as printed.
    The markers on names and headings point at these; what a note says about a force's series is read
    from here, not retyped."""
    records = []
    for number in range(sheet["last_row"] + 1, len(rows) + 1):
        row = rows[number - 1]
        text = row[0] if row else None
        if not isinstance(text, str) or not (match := _FOOTNOTE_LINE.match(text.strip())):
            continue
        records.append((sheet["name"].strip(), int(match["number"]), f"{sheet['name'].strip()}!A{number}", text))
    return records


def read_footnotes(path: Path, options: dict) -> pd.DataFrame:
    """The numbered footnotes under every table the manifest names in a workbook (FOOTNOTE_COLUMNS), the text
    exactly as the cell holds it. A workbook's 'Notes' sheet lists only its tables and contacts (checked for
    every edition in raw/), so the footnotes are where ONS says where a force's series breaks or under-counts."""
    book = open_raw_workbook(path)
    try:
        records = [r for sheet in options["sheets"] for r in footnotes(sheet_rows(path, book, sheet), sheet)]
    finally:
        book.close()
    return pd.DataFrame(records, columns=list(FOOTNOTE_COLUMNS))


# ONS mid-year population estimates (the MYE workbook): MYE4 prints one row per geography (country, region, county,
# district) and one column per mid-year; MYE1 prints the mid-year of its title for England and Wales and each
# country, one column per country. Both are read as long cells with their own cell reference.
MYE_COLUMNS = (
    "source_table",
    "cell",
    "area_code",
    "area_name",
    "geography",
    "period_as_published",
    "mid_year",
    "value_as_published",
)
_MYE_HEADING = re.compile(r"Mid-(\d{4})")
_MYE_TITLE = re.compile(r"mid-(\d{4})$")


def _find_row(path: Path, sheet: str, rows: list[tuple], first_cell: str) -> int:
    """The 1-based number of the row whose first cell is `first_cell` (the tables sit under a varying preamble)."""
    for number, row in enumerate(rows, start=1):
        if row and _cell_text(row[0]) == first_cell:
            return number
    raise RawFileError(f"{path}: sheet {sheet}: no row starting {first_cell!r} (the table's heading)")


def _mye_by_row(path: Path, rows: list[tuple]) -> list[tuple[int, tuple]]:
    """MYE4: under the heading row 'Code | Name | Geography | Mid-2023 | ...', one row per geography."""
    heading_row = _find_row(path, "MYE4", rows, "Code")
    headings = [_cell_text(v) for v in rows[heading_row - 1]]
    records = []
    for number in range(heading_row + 1, len(rows) + 1):
        row = tuple(rows[number - 1]) + (None,) * len(headings)
        code = _cell_text(row[0])
        if code is None:
            continue
        for column, heading in enumerate(headings):
            match = _MYE_HEADING.fullmatch(heading or "")
            if match is None:
                continue
            record = (
                "MYE4",
                f"{openpyxl.utils.get_column_letter(column + 1)}{number}",
                code,
                _cell_text(row[1]),
                _cell_text(row[2]),
                heading,
                match[1],
                _cell_text(row[column]),
            )
            records.append((number, record))
    return records


def _mye_by_column(path: Path, rows: list[tuple]) -> list[tuple[int, tuple]]:
    """MYE1: the mid-year of its title ('..., mid-2023'); the 'All Persons' row under 'Country Code', per country."""
    title = _cell_text(rows[0][0]) or ""
    match = _MYE_TITLE.search(title)
    if match is None:
        raise RawFileError(f"{path}: sheet MYE1, cell A1: no mid-year in the title {title!r}")
    names = rows[_find_row(path, "MYE1", rows, "Groups/Codes") - 1]
    codes = rows[_find_row(path, "MYE1", rows, "Country Code") - 1]
    number = _find_row(path, "MYE1", rows, "All Persons")
    records = []
    for column in range(1, len(codes)):
        code = _cell_text(codes[column])
        if code is None:
            continue
        record = (
            "MYE1",
            f"{openpyxl.utils.get_column_letter(column + 1)}{number}",
            code,
            " ".join(str(names[column]).split()),
            "Country",
            f"Mid-{match[1]}",
            match[1],
            _cell_text(rows[number - 1][column]),
        )
        records.append((number, record))
    return records


def read_mye_workbook(path: Path) -> pd.DataFrame:
    """Sheets MYE4 and MYE1 of an ONS mid-year estimates workbook as long cells (MYE_COLUMNS), every value as text.
    Indexed so that index + 2 is the sheet's row, as for the police force area workbooks."""
    book = open_raw_workbook(path)
    try:
        by_row = sheet_rows(path, book, {"name": "MYE4"})
        by_column = sheet_rows(path, book, {"name": "MYE1"})
    finally:
        book.close()
    records = _mye_by_row(path, by_row) + _mye_by_column(path, by_column)
    return pd.DataFrame(
        [r for _, r in records], columns=list(MYE_COLUMNS), index=[n - 2 for n, _ in records], dtype=object
    )
