"""Writing the Frictionless data package, and swapping it into outputs/ only once it is valid.

A package is built in a staging folder beside outputs/, validated with the frictionless library,
and then exchanged with outputs/ in one atomic rename. A failed or killed run leaves outputs/ as it
was; a leftover staging folder is removed by the next run.
"""

from __future__ import annotations

import csv
import ctypes
import datetime as dt
import hashlib
import io
import json
import os
import shutil
import time
from decimal import Decimal
from pathlib import Path

import frictionless

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


class PackageInvalid(RuntimeError):
    """The built package failed Frictionless validation; nothing was published."""

    def __init__(self, errors: list[str]):
        super().__init__("the built package is not valid, nothing was published: " + "; ".join(errors[:5]))
        self.errors = errors


def format_value(value: object) -> str:
    """One CSV cell: blank for missing, ISO dates, lower-case booleans, no float artefacts."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        # Whole numbers print whole; money keeps its two places of pence; a rate stored with more places
        # prints the digits the source published (trailing zeros of the storage type removed).
        if value == value.to_integral_value():
            return str(value.quantize(Decimal(1)))
        return f"{value:.2f}" if value.as_tuple().exponent == -2 else format(value.normalize(), "f")
    if isinstance(value, float):
        raise TypeError(f"float {value!r} reached the CSV writer; declare the column as an exact number")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def csv_bytes(header: list[str], rows: list[tuple]) -> bytes:
    """UTF-8, LF line endings, a header row, quoting only where needed."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([format_value(v) for v in row] for row in rows)
    return buffer.getvalue().encode("utf-8")


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
        "sources": sources,
        "schema": table.frictionless_schema(),
    }


def package_descriptor(
    resources: list[dict], sources: list[dict], licences: list[str], version: str = "", created: str = ""
) -> dict:
    """The package descriptor; `version` and `created` (a date) are set once a release is decided."""
    return {
        "name": "serious-violence-interventions-england-wales",
        "title": "Tackling serious violence in England and Wales: interventions, funding and sources",
        "version": version,
        "created": f"{created}T00:00:00Z" if created else "",
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


def pause_point(name: str) -> None:
    """Fault injection for tests: with SV_PAUSE_AT=name, stop here (after touching SV_PAUSE_MARKER) so a
    test can kill the process at this exact moment of publishing. Does nothing otherwise."""
    if os.environ.get("SV_PAUSE_AT") == name:
        Path(os.environ["SV_PAUSE_MARKER"]).touch()
        time.sleep(600)


def write_package(folder: Path, descriptor: dict, files: dict[str, bytes]) -> None:
    for n, (relative, data) in enumerate(files.items()):
        if n == len(files) // 2:
            pause_point("writing")
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    text = json.dumps(descriptor, indent=2, ensure_ascii=False) + "\n"
    (folder / "datapackage.json").write_text(text, encoding="utf-8")


def validate_package(folder: Path) -> frictionless.Report:
    """Frictionless validation of the whole package, foreign keys, bytes and hashes included."""
    return frictionless.validate(str(folder / "datapackage.json"))


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


def build_and_publish(outputs: Path, staging: Path, descriptor: dict, files: dict[str, bytes]) -> frictionless.Report:
    """Write the package to `staging`, validate it, and only if valid swap it into `outputs`.

    Raises PackageInvalid (with Frictionless's errors) and leaves `outputs` untouched otherwise;
    the staging folder is removed either way.
    """
    try:
        write_package(staging, descriptor, files)
        report = validate_package(staging)
        if not report.valid:
            raise PackageInvalid(report_errors(report))
        pause_point("before_swap")
        publish(staging, outputs)
        return report
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def staging_dir(outputs: Path, run_id: str) -> Path:
    return outputs.parent / f".{outputs.name}.staging-{run_id}"


def remove_stale_staging(outputs: Path) -> list[Path]:
    """Staging folders left by runs that died; they were never published, so they can go."""
    stale = sorted(outputs.parent.glob(f".{outputs.name}.staging-*"))
    for path in stale:
        shutil.rmtree(path)
    return stale


def publish(staging: Path, outputs: Path) -> None:
    """Put the validated package at `outputs` in one step; the old package is then deleted."""
    if outputs.exists():
        _exchange(staging, outputs)
        pause_point("after_swap")
        shutil.rmtree(staging)  # now holds the previous package
    else:
        os.rename(staging, outputs)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> None:
    """Swap two directories atomically (Linux renameat2 RENAME_EXCHANGE).

    Two plain renames would leave a moment with no outputs/ at all; a run killed there would lose
    the published package. Python has no portable atomic directory swap, hence the libc call.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        raise OSError("renameat2 is not available: atomic publishing needs Linux with glibc 2.28 or newer")
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"cannot swap {a} with {b}: {os.strerror(errno)}")
