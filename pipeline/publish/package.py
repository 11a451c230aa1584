"""Writing the Frictionless data package, and swapping it into outputs/ only once it is valid.

A package is built in a staging folder beside outputs/, validated with the frictionless library,
and then exchanged with outputs/ in one atomic rename. A failed or killed run leaves outputs/ as it
was; a leftover staging folder is removed by the next run.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import frictionless
import pyarrow.parquet as pq

from pipeline.transform.warehouse import quoted
from schemas.model import Table

LICENCES = {
    "OGL-UK-3.0": {
        "name": "OGL-UK-3.0",
        "title": "Open Government Licence v3.0",
        "path": "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/",
    },
    "OPL-UK-3.0": {
        "name": "OPL-UK-3.0",
        "title": "Open Parliament Licence v3.0",
        "path": "https://www.parliament.uk/site-information/copyright-parliament/open-parliament-licence/",
    },
    "CC-BY-4.0": {
        "name": "CC-BY-4.0",
        "title": "Creative Commons Attribution 4.0",
        "path": "https://creativecommons.org/licenses/by/4.0/",
    },
}


PACKAGE_NAME = "serious-violence-interventions-england-wales"
PACKAGE_ID = f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'frictionless-data-package:' + PACKAGE_NAME)}"
# Data Package v2 (https://datapackage.org/standard/data-package/), which the frictionless library reads.
PACKAGE_PROFILE = "https://datapackage.org/profiles/2.0/datapackage.json"
# The project is the author; no person is named.
AUTHOR = "Tackling serious violence in England and Wales open-data project"


class PackageInvalid(RuntimeError):
    """The built package failed Frictionless validation; nothing was published."""

    def __init__(self, errors: list[str]):
        super().__init__("the built package is not valid, nothing was published: " + "; ".join(errors[:5]))
        self.errors = errors


def csv_select(con, query: str) -> str:
    """A SELECT over `query` whose cells DuckDB's CSV writer prints as the package's CSV contract says: missing and
    empty text both blank, two-place columns (money) with both places, whole numbers whole, other decimals without
    the trailing zeros of their storage type. `COPY (csv_select(...)) TO ... (HEADER, NULLSTR '')` then writes the
    same bytes as the cell-by-cell reference writer of tests/reference.py, without a Python object per cell
    (tests/test_publish.py compares them on every table)."""
    columns = con.execute(f"DESCRIBE {query}").fetchall()
    cells = []
    for name, kind, *_ in columns:
        column = quoted(name)
        if kind == "VARCHAR":
            cells.append(f"NULLIF({column}, '') AS {column}")
        elif kind.startswith("DECIMAL"):
            scale = int(kind.rstrip(")").split(",")[1])
            text = f"CAST({column} AS VARCHAR)"
            whole = f"CAST(CAST({column} AS HUGEINT) AS VARCHAR)"
            if scale == 2:
                cells.append(f"{text} AS {column}")
            else:
                fraction = f"rtrim({text}, '0')"
                cells.append(f"CASE WHEN {column} = trunc({column}) THEN {whole} ELSE {fraction} END AS {column}")
        elif kind in ("DOUBLE", "FLOAT", "REAL"):
            raise TypeError(f"column {name!r} is {kind}: declare it as an exact number before it is published")
        else:
            cells.append(column)
    return f"SELECT {', '.join(cells)} FROM ({query})"


def parquet_select(con, query: str) -> str:
    """The Parquet files hold exact decimals as DOUBLE: a DECIMAL column comes back in pandas as Python Decimal
    objects (`amount_gbp / 2.5` raises TypeError) and DECIMAL(38,24) overflows in DuckDB arithmetic. The CSVs keep
    the exact digits."""
    columns = con.execute(f"DESCRIBE {query}").fetchall()
    cells = [
        f"CAST({quoted(n)} AS DOUBLE) AS {quoted(n)}" if kind.startswith("DECIMAL") else quoted(n)
        for n, kind, *_ in columns
    ]
    return f"SELECT {', '.join(cells)} FROM ({query})"


def parquet_fields(table: Table) -> list[dict]:
    """The table's fields as the Parquet file holds them: exact decimals as DOUBLE (`number`)."""
    return [
        {k: v for k, v in field.items() if k not in ("constraints", "categories")}
        for field in table.frictionless_schema()["fields"]
    ]


def parquet_metadata(table: Table) -> str:
    """File-level key-value metadata (a SQL struct): the table's title and description, and its fields with their
    descriptions as JSON, so that a Parquet file read on its own (pyarrow: `schema.metadata`) still says what each
    column means."""
    values = {
        "title": table.title,
        "description": table.description,
        "frictionless:fields": json.dumps(parquet_fields(table), ensure_ascii=False, sort_keys=True),
    }
    return "{" + ", ".join(f"'{k}': '{v.replace(chr(39), chr(39) * 2)}'" for k, v in values.items()) + "}"


# Why an integer column with blanks is declared `number` in parquet/datapackage.json.
INTEGERS_WITH_BLANKS = (
    " In the Parquet file: whole numbers stored as 64-bit integers; declared number here because a default pandas "
    "read (and frictionless, which reads through pandas) turns an integer column with blanks into floats."
)


def parquet_descriptor_fields(table: Table, data: bytes) -> list[dict]:
    """The fields as frictionless reads the Parquet file: through pandas, where an integer column with a blank
    becomes floats (NaN for the blank), which an `integer` field refuses. Such a column is declared `number`,
    saying why; every other field is as in parquet_fields."""
    parquet = pq.read_table(io.BytesIO(data))
    fields = []
    for field in parquet_fields(table):
        if field["type"] == "integer" and parquet.column(field["name"]).null_count:
            field = field | {"type": "number", "description": field.get("description", "") + INTEGERS_WITH_BLANKS}
        fields.append(field)
    return fields


def parquet_descriptor(resources: list[dict], files: dict[str, bytes], version: str, tables: dict[str, Table]) -> dict:
    """parquet/datapackage.json: the Parquet files as a data package of their own (paths relative to parquet/),
    with the same names, licences and sources as the CSV resources. It validates with `frictionless validate`:
    frictionless reads a Parquet file through pyarrow, not as a stream of bytes, so it cannot count a file's bytes or
    hash them, and a resource that states them fails; their sizes and sha256 are in the release archive's
    SHA256SUMS and on the site's table pages."""
    parquet_resources = []
    for resource in resources:
        name = resource["name"]
        data = files[f"parquet/{name}.parquet"]
        parquet_resources.append(
            {
                "name": name,
                "path": f"{name}.parquet",
                "title": resource["title"],
                "format": "parquet",
                "mediatype": "application/vnd.apache.parquet",
                "licenses": resource["licenses"],
                "schema": {"fields": parquet_descriptor_fields(tables[name], data)},
            }
        )
    return {
        "$schema": PACKAGE_PROFILE,
        "name": f"{PACKAGE_NAME}-parquet",
        "id": PACKAGE_ID,
        "title": "The same tables as Parquet (numbers as double precision; the CSVs keep the exact digits)",
        "version": version,
        "resources": parquet_resources,
    }


# This project's licence for its own compilations: a table built from several sources, or from facts on pages
# under their publishers' copyright (cited, never quoted at length), is the project's compilation.
COMPILATION_LICENCE = "CC-BY-4.0"


def resource_licences(sources: list[dict]) -> list[dict]:
    """The licences of one table, from the sources its rows cite. A table whose every source is under one open
    licence carries that licence alone (ONS tables: OGL); any other table is the project's compilation, under
    CC BY 4.0, listed first (datasette, CKAN and Zenodo show the first), then the open licences of what it
    reproduces."""
    named = {source["licence"] for source in sources}
    if len(named) == 1 and (only := next(iter(named))) in LICENCES:
        return [LICENCES[only]]
    rest = sorted(named & set(LICENCES) - {COMPILATION_LICENCE})
    return [LICENCES[name] for name in [COMPILATION_LICENCE, *rest]]


def resource_descriptor(table: Table, data: bytes, sources: list[dict]) -> dict:
    return {
        "name": table.name,
        "path": f"data/{table.name}.csv",
        "title": table.title,
        "description": table.description,
        "format": "csv",
        "mediatype": "text/csv",
        "encoding": "utf-8",
        "bytes": len(data),
        "hash": "sha256:" + hashlib.sha256(data).hexdigest(),
        "licenses": resource_licences(sources),
        "sources": sources,
        "schema": table.frictionless_schema(),
    }


def package_descriptor(
    resources: list[dict], sources: list[dict], licences: list[str], version: str = "", created: str = ""
) -> dict:
    """The package descriptor; `version` and `created` (a date) are set once a release is decided."""
    return {
        "$schema": PACKAGE_PROFILE,
        "name": PACKAGE_NAME,
        # Stable across versions (the version says which): a UUID derived from the package's name. The project has
        # no DOI or fixed public address yet, so no homepage is given rather than one that would not resolve.
        "id": PACKAGE_ID,
        "title": "Tackling serious violence in England and Wales: interventions, funding and sources",
        "version": version,
        "created": f"{created}T00:00:00Z" if created else "",
        "contributors": [{"title": AUTHOR, "roles": ["creator", "publisher"]}],
        "description": (
            "Which serious violence interventions run where in England and Wales (Violence Reduction "
            "Units, hotspot policing, case-study initiatives), who funds them with how much, each "
            "figure traced to the public document it came from. Gaps are left as gaps: a figure no "
            "source gives has no row."
        ),
        "keywords": ["serious violence", "violence reduction units", "policing", "funding", "England", "Wales"],
        # The open licences of the material reproduced; figures from publisher-copyright pages are facts
        # cited with their source, which no licence entry covers (the dataset card says so).
        "licenses": [LICENCES[name] for name in sorted(set(licences)) if name in LICENCES],
        "sources": sources,
        "resources": resources,
    }


def write_package(folder: Path, descriptor: dict, files: dict[str, bytes]) -> None:
    for relative, data in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    text = json.dumps(descriptor, indent=2, ensure_ascii=False) + "\n"
    (folder / "datapackage.json").write_text(text, encoding="utf-8")


# A table with more data rows than this is checked by frictionless as a file: its bytes and sha256 against the
# descriptor, not cell by cell. Frictionless reads every cell in Python, about a minute per million rows (100,000
# rows: ~5 s), and the out layer has already validated the same rows with pandera (declared types, required, unique,
# pattern, enum, range, primary key; pipeline/defs/out.py) and their foreign keys in SQL, at every size. The real
# tables are far below it (the largest, area_outcomes, has ~8,300 rows), so the published package is validated
# cell by cell by frictionless; `make data` then runs `frictionless validate` over the whole package as well.
FRICTIONLESS_CELL_ROWS = 20_000


@dataclass(frozen=True)
class Validation:
    valid: bool
    errors: list[str]  # 'resource, row N, field F: message', the first ones
    resources: int
    rows: int
    checked_as_files: list[str]  # resources whose bytes and hash frictionless checked, not their cells


def _data_rows(path: Path) -> int:
    """Lines after the header: the rows, or a few more where a quoted cell holds a line break (a size, for the
    threshold and the run's metadata, not a count anything is checked against)."""
    with path.open("rb") as handle:
        return sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b"")) - 1


def validate_package(folder: Path, limit: int = 20) -> Validation:
    """The whole package validated by frictionless: the descriptor, and for every resource its bytes and sha256;
    for every table of up to FRICTIONLESS_CELL_ROWS rows also its cells (types, constraints) and its primary and
    foreign keys. A larger table is checked as a file (a resource without its schema), and foreign keys into it are
    left to the out layer's check, which ran on the same rows."""
    descriptor = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    rows = {r["name"]: _data_rows(folder / r["path"]) for r in descriptor["resources"]}
    large = [name for name, n in rows.items() if n > FRICTIONLESS_CELL_ROWS]
    checked = json.loads(json.dumps(descriptor))
    for resource in checked["resources"]:
        if resource["name"] in large:
            # A file resource: frictionless streams its bytes through its sha256 and counts them.
            resource["type"] = "file"
            for key in ("schema", "dialect", "encoding"):
                resource.pop(key, None)
        elif "schema" in resource:
            keys = resource["schema"].get("foreignKeys", [])
            resource["schema"]["foreignKeys"] = [fk for fk in keys if fk["reference"]["resource"] not in large]
    target = folder / ".frictionless.json"
    target.write_text(json.dumps(checked), encoding="utf-8")
    try:
        report = frictionless.validate(str(target))
    finally:
        target.unlink()
    errors = report_errors(report, limit)
    return Validation(not errors, errors, len(rows), sum(rows.values()), large)


def report_errors(report: frictionless.Report, limit: int = 20) -> list[str]:
    """Frictionless errors as 'resource, row N, field F: message' lines."""
    lines = []
    for task in report.tasks:
        for error in task.errors:
            where = [task.name]
            row = getattr(error, "row_number", None)
            field = getattr(error, "field_name", None)
            if row:
                where.append(f"row {row}")
            if field:
                where.append(f"field {field!r}")
            lines.append(f"{', '.join(where)}: {error.message}")
    lines.extend(f"package: {error.message}" for error in report.errors)
    return lines[:limit]


def build_and_publish(outputs: Path, staging: Path, descriptor: dict, files: dict[str, bytes]) -> Validation:
    """Write the package to `staging`, validate it, and only if valid swap it into `outputs`.

    Raises PackageInvalid (with the validation's errors) and leaves `outputs` untouched otherwise;
    the staging folder is removed either way.
    """
    try:
        write_package(staging, descriptor, files)
        validation = validate_package(staging)
        if not validation.valid:
            raise PackageInvalid(validation.errors)
        publish(staging, outputs)
        return validation
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def staging_dir(outputs: Path, run_id: str) -> Path:
    return outputs.parent / f".{outputs.name}.staging-{run_id}"


def remove_stale_staging(outputs: Path) -> list[Path]:
    """Put back what a run that died while publishing left behind, then remove the rest.

    A run killed between its two renames (see `publish`) left no outputs/ and the previous package aside:
    it is renamed back, whole. Staging folders and packages set aside by runs that died were never (or are
    no longer) published, so they go. Called at the start of every publish, under the run lock.
    """
    aside = sorted(outputs.parent.glob(f".{outputs.name}.previous-*"), key=lambda p: p.stat().st_mtime)
    if aside and not outputs.exists():
        os.rename(aside.pop(), outputs)
    stale = sorted([*outputs.parent.glob(f".{outputs.name}.staging-*"), *aside])
    for path in stale:
        shutil.rmtree(path)
    return stale


def publish(staging: Path, outputs: Path) -> None:
    """Put the validated package at `outputs`; the previous package is deleted only once the new one is there.

    Two renames in one folder, each atomic on every system Python runs on: the previous package is set
    aside, the new one takes its name, then the one set aside is deleted. (Linux alone can exchange two
    folders in one call, renameat2, which Python does not expose.) Whenever a run is killed, a whole
    package exists: at `outputs`, or, between the two renames, set aside, where the next run's
    `remove_stale_staging` puts it back before anything else.
    """
    if outputs.exists():
        aside = outputs.parent / f".{outputs.name}.previous-{staging.name.removeprefix(f'.{outputs.name}.staging-')}"
        os.rename(outputs, aside)
        os.rename(staging, outputs)
        shutil.rmtree(aside)
    else:
        os.rename(staging, outputs)
