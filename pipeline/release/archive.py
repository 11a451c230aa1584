"""One archive per version: `make release` writes dist/<name>-<version>.zip and dist/SHA256SUMS.

The archive holds one folder, <name>-<version>/, with the published package as it is in outputs/ (CSVs,
Parquet, datapackage.json, the card, dictionary, changelog, charts, CITATION.cff), an Excel workbook of every
table (serious_violence.xlsx, made here: it is not in outputs/), the raw files with their manifest under raw/
(so every `raw_file` in a table opens, relative to that folder), the static site under site/ (open
site/index.html: pipeline/publish/site.py), and a SHA256SUMS of its own files. The same
outputs/ and raw/ give the same bytes: entries in sorted order, each dated with the release date, the same
permissions, the same compression.

    python -m pipeline.release.archive [outputs] [raw] [dist]
"""

import csv
import datetime as dt
import hashlib
import io
import json
import re
import sys
import tempfile
import zipfile
from decimal import Decimal
from pathlib import Path

from pipeline.operations.locations import PROJECT_DIR, outputs_dir, raw_dir
from pipeline.publish.site import build_site

SUMS = "SHA256SUMS"
WORKBOOK = "serious_violence.xlsx"


def files_under(folder: Path, prefix: str = "") -> dict[str, bytes]:
    return {
        prefix + path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def sha256sums(files: dict[str, bytes]) -> bytes:
    """The format `sha256sum -c` reads: digest, two spaces, path."""
    return "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in sorted(files.items())).encode()


def release_name(outputs: Path) -> tuple[str, str, tuple[int, int, int, int, int, int]]:
    descriptor = json.loads((outputs / "datapackage.json").read_text(encoding="utf-8"))
    version, created = descriptor["version"], descriptor["created"]
    year, month, day = (int(part) for part in created[:10].split("-"))
    return f"{descriptor['name']}-{version}", version, (year, month, day, 0, 0, 0)


def typed(cell: str, kind: str) -> object:
    """A CSV cell as the spreadsheet value of its declared type (blank stays empty)."""
    if cell == "":
        return None
    if kind == "integer":
        return int(cell)
    if kind == "number":
        number = Decimal(cell)
        return int(number) if number == number.to_integral_value() and "." not in cell else float(number)
    if kind == "boolean":
        return cell == "true"
    if kind == "date":
        return dt.date.fromisoformat(cell)
    return cell


def as_text_cell(sheet, value: object) -> object:
    """A value as openpyxl appends it, except text that openpyxl would write as a formula ("=..."), which is kept
    as text. (A cell object for every value would be safe too, and three times slower.)"""
    from openpyxl.cell import WriteOnlyCell

    if isinstance(value, str) and value.startswith("="):
        cell = WriteOnlyCell(sheet, value)
        cell.data_type = "s"
        return cell
    return value


def excel_workbook(outputs: Path, stamp: tuple[int, int, int, int, int, int]) -> bytes:
    """serious_violence.xlsx: a README sheet, then every table on its own sheet with typed cells (numbers as
    numbers, dates as dates), text never read as a formula. Made for Excel users: a double-clicked CSV without a
    byte-order mark shows `£` as `Â£`. Byte-reproducible: the workbook's dates and its zip entries' dates are the
    release date."""
    import openpyxl

    from schemas import PUBLISHED_TABLES

    descriptor = json.loads((outputs / "datapackage.json").read_text(encoding="utf-8"))
    book = openpyxl.Workbook(write_only=True)
    released = dt.datetime(*stamp)
    book.properties.creator = descriptor["contributors"][0]["title"]
    book.properties.title = descriptor["title"]
    book.properties.created = book.properties.modified = released
    readme = book.create_sheet("README")
    for line in (
        [descriptor["title"]],
        [f"Version {descriptor['version']}, released {descriptor['created'][:10]}. Identifier {descriptor['id']}."],
        ["The same tables as the CSVs of the data package (data/*.csv), one sheet each, cells typed by the schema."],
        ["The CSVs and datapackage.json are the reference; README.md and DATA_DICTIONARY.md describe every column."],
        [],
        ["sheet", "rows", "one row per", "licence", "description"],
    ):
        readme.append(line)
    resources = {r["name"]: r for r in descriptor["resources"]}
    sheets = {}
    for name, table in PUBLISHED_TABLES.items():
        with (outputs / "data" / f"{name}.csv").open(encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))
        sheets[name] = rows
        licence = resources[name]["licenses"][0]["name"]
        readme.append([name, len(rows) - 1, table.one_row_per, licence, table.description])
    for name, rows in sheets.items():
        kinds = [c.type for c in PUBLISHED_TABLES[name].columns]
        sheet = book.create_sheet(name)
        sheet.append(rows[0])
        for row in rows[1:]:
            sheet.append([as_text_cell(sheet, v) for v in map(typed, row, kinds)])
    buffer = io.BytesIO()
    book.save(buffer)
    return zip_with_date(buffer.getvalue(), stamp)


def zip_with_date(data: bytes, stamp: tuple[int, int, int, int, int, int]) -> bytes:
    """The same zip with every entry dated `stamp` and the modified date in its core properties set to it too."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    iso = dt.datetime(*stamp).strftime("%Y-%m-%dT%H:%M:%SZ")
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>" + iso.encode(), content)
                content = re.sub(rb"(<dcterms:created[^>]*>)[^<]*", rb"\g<1>" + iso.encode(), content)
            entry = zipfile.ZipInfo(info.filename, date_time=stamp)
            entry.external_attr = 0o644 << 16
            entry.create_system = 3
            target.writestr(entry, content, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return out.getvalue()


def build_archive(outputs: Path, raw: Path, dist: Path) -> Path:
    """Write the version's archive and dist/SHA256SUMS (which lists every archive in dist/); return the archive."""
    name, _, stamp = release_name(outputs)
    contents = files_under(outputs) | files_under(raw, "raw/")
    contents[WORKBOOK] = excel_workbook(outputs, stamp)
    with tempfile.TemporaryDirectory() as folder:
        build_site(outputs, Path(folder) / "site")
        contents |= files_under(Path(folder) / "site", "site/")
    contents[SUMS] = sha256sums(contents)
    dist.mkdir(parents=True, exist_ok=True)
    archive = dist / f"{name}.zip"
    partial = archive.with_suffix(".zip.part")
    with zipfile.ZipFile(partial, "w") as zf:
        for relative, data in sorted(contents.items()):
            entry = zipfile.ZipInfo(f"{name}/{relative}", date_time=stamp)
            entry.external_attr = 0o644 << 16
            entry.create_system = 3  # Unix, whatever system builds it
            zf.writestr(entry, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    partial.replace(archive)
    (dist / SUMS).write_bytes(sha256sums({p.name: p.read_bytes() for p in sorted(dist.glob("*.zip"))}))
    return archive


def main(argv: list[str]) -> int:
    outputs = Path(argv[0]) if argv else outputs_dir()
    raw = Path(argv[1]) if len(argv) > 1 else raw_dir()
    dist = Path(argv[2]) if len(argv) > 2 else PROJECT_DIR / "dist"
    archive = build_archive(outputs, raw, dist)
    print(f"{archive} ({archive.stat().st_size:,} bytes); verify with: cd {dist} && sha256sum -c {SUMS}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
