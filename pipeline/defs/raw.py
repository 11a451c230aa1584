"""Raw layer: each file in raw/ read as published, checked against the manifest and its schema.

A raw asset refuses a file whose sha256 or size differs from the manifest, reads every cell as text,
stores it in the warehouse's `raw` schema with its spreadsheet row numbers, and reports its schema
check as a blocking asset check: nothing downstream runs on a file that fails.
"""

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from pipeline.defs.resources import ProjectPaths
from pipeline.defs.steps import Step, step
from pipeline.sources import workbooks
from pipeline.sources.csvfile import RawFileError, read_raw_csv
from pipeline.sources.manifest import Manifest, ManifestError, verify_all, verify_file
from pipeline.transform.warehouse import MANIFEST_ASSET, write_table
from pipeline.validation import ROW_COLUMN, check_result, validate
from schemas import RAW_TABLES, Table
from schemas.raw import layout_tables

GROUP = "raw"


def load_manifest_or_fail(paths: ProjectPaths) -> Manifest:
    try:
        return paths.manifest()
    except ManifestError as exc:
        raise dg.Failure(description=str(exc)) from exc


@step(MANIFEST_ASSET, group=GROUP, kinds={"yaml", "duckdb"})
def raw_manifest__sources(paths: ProjectPaths, duckdb: DuckDBResource) -> dg.MaterializeResult:
    """The manifest raw/sources.yaml: every public document the data cites and every file in raw/.

    Each source has a URL, publisher, publication date, licence and kind; each file its source,
    retrieval date, sha256 and size. A malformed manifest, a path that leaves raw/, a file in
    raw/ that the manifest does not list, or any listed file (read as a table or not) whose sha256 or size
    differs from its entry fails the run before anything is read.
    """
    manifest = load_manifest_or_fail(paths)
    unlisted = manifest.unlisted_files()
    if unlisted:
        raise dg.Failure(
            description=f"{manifest.path}: file(s) in raw/ not listed in the manifest: {', '.join(unlisted)}"
        )
    mismatched = verify_all(manifest)
    if mismatched:
        raise dg.Failure(description="\n".join(mismatched))
    # Text throughout (blank for missing), so an all-blank column still has a type in DuckDB.
    sources = pd.DataFrame(list(manifest.sources.values())).fillna("").astype(str)
    write_table(duckdb, "raw", "manifest_sources", sources)
    listing = "| file | source | sha256 |\n|---|---|---|\n" + "\n".join(
        f"| {f.path} | {f.source_id} | `{f.sha256[:12]}…` |" for f in manifest.files.values()
    )
    return dg.MaterializeResult(
        metadata={
            "manifest": str(manifest.path),
            "sources": len(manifest.sources),
            "files": dg.MetadataValue.md(listing),
            "dagster/row_count": len(sources),
        }
    )


def read_raw_table(context: dg.AssetExecutionContext, manifest: Manifest, table: Table, duckdb: DuckDBResource):
    """One raw file read, checked against the manifest and its schema, and stored: its materialisation with the
    provenance an auditor follows (source URL, publisher, licence, sha256) and its schema check."""
    entry = manifest.file(table.file_id)
    header_row = entry.table_options.get("header_row", 1)
    try:
        path = verify_file(manifest, table.file_id)
        footnotes = None
        if entry.table_layout == "ons_pfa_workbook":
            frame = workbooks.read_workbook(path, entry.table_options)
            footnotes = workbooks.read_footnotes(path, entry.table_options)
        elif entry.table_layout == "ons_mye_workbook":
            frame = workbooks.read_mye_workbook(path)
        else:
            frame = read_raw_csv(path, header_row)
    except (ManifestError, RawFileError) as exc:
        raise dg.Failure(description=str(exc)) from exc

    label = f"raw/{entry.path}"
    failures = validate(frame, table, label, raw=True, header_row=header_row)
    for failure in failures[:20]:
        context.log.error(failure.message())

    stored = frame.reset_index(drop=True)
    stored[ROW_COLUMN] = (frame.index + header_row + 1).astype("int64")  # spreadsheet_row, for every row at once
    write_table(duckdb, "raw", table.file_id, stored)
    if footnotes is not None:
        # The notes printed under the tables, beside the cells they annotate (core.ons_pfa_footnotes reads them).
        write_table(duckdb, "raw", f"{table.file_id}__footnotes", footnotes)

    source = manifest.source_of(table.file_id)
    if source:
        provenance = {
            "source_id": entry.source_id,
            "source_url": dg.MetadataValue.url(source["url"]),
            "publisher": source["publisher"],
            "source_title": source["title"],
            "date_published": source["date_published"] or "not stated",
            "licence": source["licence"],
        }
    elif "source_id" in frame:
        provenance = {"source_id": "per row: " + ", ".join(sorted(frame["source_id"].dropna().unique()))}
    else:
        provenance = {"source_id": "per row: the document at each row's first URL (see the core table)"}
    return dg.MaterializeResult(
        asset_key=table.name,
        metadata={
            **provenance,
            "raw_file": label,
            "date_retrieved": entry.date_retrieved,
            "transcribed_from": entry.transcribed_from,
            "verified": entry.verified,
            "sha256": entry.sha256,
            "bytes": entry.bytes,
            "dagster/row_count": len(frame),
            "dagster/column_schema": table.dagster_table_schema(),
        },
        check_results=[check_result("matches_schema", failures, label, asset_key=table.name)],
    )


def raw_file_step(table: Table, file_kind: str) -> Step:
    """One raw file as an asset: read, checked against the manifest and its schema, and stored."""

    @step(
        table.name,
        group=GROUP,
        kinds={file_kind, "duckdb", "pandera"},
        deps=[MANIFEST_ASSET],
        description=(
            f"{table.title}. {table.description}\n\nRead as published from the file listed in "
            f"raw/sources.yaml as `{table.file_id}`: its sha256 is checked against the manifest, every "
            "cell is kept as text, and the pandera schema below must pass before anything downstream runs."
        ),
        metadata={"dagster/column_schema": table.dagster_table_schema()},
        check_specs=[
            dg.AssetCheckSpec(
                "matches_schema",
                asset=table.name,
                blocking=True,
                description="Every column present in order, required cells filled, values of the declared form.",
            )
        ],
    )
    def read_file(context: dg.AssetExecutionContext, paths: ProjectPaths, duckdb: DuckDBResource):
        return read_raw_table(context, load_manifest_or_fail(paths), table, duckdb)

    return read_file


def raw_steps(manifest: Manifest | None) -> list[Step]:
    """The raw layer: the manifest asset, the project's fixed tables, and one asset per file the manifest
    declares in a known layout (funding files, ONS editions), so a new file needs no code. Without a
    readable manifest only the manifest asset and the fixed tables are defined: the manifest asset then
    fails the run with the manifest's own error, naming the file and entry."""
    files = list(manifest.files.values()) if manifest else []
    workbook_files = {f.file_id for f in files if f.table_layout in ("ons_pfa_workbook", "ons_mye_workbook")}
    tables = [(t, "csv") for t in RAW_TABLES.values()]
    tables += [(t, "xlsx" if t.file_id in workbook_files else "csv") for t in layout_tables(files)]
    return [raw_manifest__sources, *(raw_file_step(table, kind) for table, kind in tables)]
