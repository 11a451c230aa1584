"""The published data package: outputs/ with datapackage.json, CSVs, Parquet, card, dictionary, changelog."""

import json
import os
import tempfile
from datetime import timedelta
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipeline.defs.resources import PackageMirror, ProjectPaths, ReleaseSettings
from pipeline.defs.steps import step
from pipeline.publish import package, report
from pipeline.release import gate, ledger, mirror, versions
from pipeline.transform.warehouse import quoted
from schemas import PUBLISHED_TABLES

GROUP = "package"


def package_sources(duckdb: DuckDBResource) -> dict[str, dict]:
    """Frictionless `sources` entries for every document in the published sources table."""
    with duckdb.get_connection() as con:
        rows = con.execute(
            "SELECT source_id, title, url, publisher, date_published, licence FROM out.sources ORDER BY source_id"
        ).fetchall()
    return {
        source_id: {
            "title": f"{source_id}: {title}",
            "path": url,
            "publisher": publisher,
            **({"date_published": date.isoformat()} if date else {}),
            "licence": licence,
        }
        for source_id, title, url, publisher, date, licence in rows
    }


def table_files(duckdb: DuckDBResource, name: str) -> tuple[bytes, bytes, list[str]]:
    """CSV and Parquet of one out table (rows sorted by primary key), and the source ids it cites."""
    table = PUBLISHED_TABLES[name]
    query = f"SELECT * FROM out.{name} ORDER BY {', '.join(table.primary_key)}"
    with duckdb.get_connection() as con, tempfile.TemporaryDirectory() as tmp:
        selects = [f"SELECT {quoted(c)} AS s FROM out.{name}" for c in table.source_columns]
        cited = (
            [
                r[0]
                for r in con.execute(
                    f"SELECT DISTINCT s FROM ({' UNION ALL '.join(selects)}) WHERE s IS NOT NULL ORDER BY 1"
                ).fetchall()
            ]
            if selects
            else []
        )
        # Both files written by DuckDB, columnar: no Python object per cell.
        csv, parquet = Path(tmp) / f"{name}.csv", Path(tmp) / f"{name}.parquet"
        con.execute(f"COPY ({package.csv_select(con, query)}) TO '{csv}' (HEADER, NULLSTR '')")
        options = f"FORMAT parquet, KV_METADATA {package.parquet_metadata(table)}"
        con.execute(f"COPY ({package.parquet_select(con, query)}) TO '{parquet}' ({options})")
        csv_data, parquet_bytes = csv.read_bytes(), parquet.read_bytes()
    if not csv_data.startswith(",".join(table.column_names).encode() + b"\n"):
        raise RuntimeError(f"{name}: the CSV header is not the declared columns")
    return csv_data, parquet_bytes, cited


def release_diff(
    outputs: Path,
    previous_version: str | None,
    previous_files: dict[str, bytes],
    files: dict[str, bytes],
    decided: versions.Release,
    paths: ProjectPaths,
) -> tuple[dict[str, bytes], dict[str, str]]:
    """RELEASE_DIFF.md and release_diff.csv for a new version, after the gate let it through; for the same version
    rebuilt, the ones already published (the diff describes a version against the one before it)."""
    if not decided.is_new:
        kept = {
            name: (outputs / name).read_bytes() for name in (gate.DIFF_MD, gate.DIFF_CSV) if (outputs / name).is_file()
        }
        return kept, {}
    keys = {name: list(table.primary_key) for name, table in PUBLISHED_TABLES.items()}
    diffs = gate.diff_packages(previous_files, files, keys, gate.number_columns(PUBLISHED_TABLES))
    notes = gate.check(diffs, paths.release, previous_version, decided.version)
    return {
        gate.DIFF_MD: gate.diff_markdown(diffs, decided.version, previous_version),
        gate.DIFF_CSV: gate.diff_csv(diffs),
    }, notes


# Weekly, like the schedule: a package not republished in the seven days before Monday 09:00 (three hours after
# the scheduled run) shows as failing its freshness policy in the UI and in GraphQL, and the missed deadline is
# posted (automation.py). A deployment that moves SV_PUBLISH_CRON moves these too: SV_FRESHNESS_CRON (the deadline)
# and SV_FRESHNESS_WINDOW_MINUTES (how long before it a publish counts).
WEEKLY = dg.FreshnessPolicy.cron(
    deadline_cron=os.environ.get("SV_FRESHNESS_CRON", "0 9 * * 1"),
    lower_bound_delta=timedelta(minutes=int(os.environ.get("SV_FRESHNESS_WINDOW_MINUTES", str(7 * 24 * 60)))),
    timezone="Europe/London",
)


@step(
    group=GROUP,
    kinds={"frictionless", "csv", "parquet"},
    freshness_policy=WEEKLY,
    deps=[f"out_{name}" for name in PUBLISHED_TABLES],
    check_specs=[
        dg.AssetCheckSpec(
            "no_published_data_lost",
            asset="datapackage",
            description="Release gate: no published key vanishes (so no table shrinks) against the package being "
            "replaced, and no table falls below release/expected_rows.csv, unless release/acknowledged.yaml names "
            "the table and the version replaced (pipeline/release/gate.py). Checked before anything is written.",
        ),
        dg.AssetCheckSpec(
            "frictionless_valid",
            asset="datapackage",
            description="frictionless validate passes on the built package: bytes and sha256 of every resource; "
            f"types, constraints, primary and foreign keys of every table of up to {package.FRICTIONLESS_CELL_ROWS:,} "
            "rows (a larger one's "
            "rows were validated by pandera and its keys in SQL, in the out layer).",
        ),
    ],
)
def datapackage(
    context: dg.AssetExecutionContext,
    paths: ProjectPaths,
    duckdb: DuckDBResource,
    release_settings: ReleaseSettings,
    package_mirror: PackageMirror,
):
    """The published data package in outputs/: what researchers download.

    Every out table as CSV (data/) and Parquet (parquet/), described in datapackage.json, with the report
    computed from the same tables (pipeline/publish/report.py: dataset card, data dictionary, changelog, charts).
    Built in a staging folder beside outputs/, validated with the frictionless library, then renamed into outputs/ (the
    previous package set aside first, deleted last): if anything fails, the previous outputs/ stays exactly
    as it was, and a run killed mid-publish leaves a whole package that the next run puts back. The version
    changes only when a table's data or schema changed; identical inputs give byte-identical files.
    With SV_PUBLISH_URL set, the published package is then copied to object storage under v/<version>/ and
    latest.json is pointed at it last (pipeline/release/mirror.py).
    """
    outputs = paths.outputs
    for stale in package.remove_stale_staging(outputs):
        context.log.warning(f"removed {stale}, left by a run that did not finish")
    try:
        gate.acknowledgements(paths.release)  # read on every build, though only a shrinking release needs it
        # Every version released so far: the committed ledger and the copy in the package being replaced.
        recorded = {
            f"release/{ledger.LEDGER}": ledger.parse(paths.release / ledger.LEDGER),
            f"outputs/{ledger.LEDGER}": ledger.parse(outputs / ledger.LEDGER),
        }
    except gate.ReleaseFileError as exc:
        raise dg.Failure(description=str(exc)) from None
    if package_mirror.url and (restored := mirror.restore(outputs, package_mirror.url)):
        context.log.info(f"no package in {outputs}: restored version {restored} from {package_mirror.url}")
    sources = package_sources(duckdb)

    files, resources, licences, row_counts = {}, [], [], {}
    for name, table in PUBLISHED_TABLES.items():
        csv_data, parquet_data, cited = table_files(duckdb, name)
        files[f"data/{name}.csv"] = csv_data
        files[f"parquet/{name}.parquet"] = parquet_data
        resources.append(package.resource_descriptor(table, csv_data, [sources[s] for s in cited]))
        licences += [sources[s]["licence"] for s in cited]
        row_counts[name] = versions.count_rows(csv_data)
    previous, previous_files = versions.previous_package(outputs)
    decided = versions.decide_release(
        previous,
        previous_files,
        {"resources": resources},
        files,
        release_settings.today(),
        frozenset(e.version for entries in recorded.values() for e in entries),
    )
    checksum = ledger.data_checksum(resources)
    if refused := ledger.conflict(recorded, decided.version, checksum):
        context.log.error(refused)
        yield dg.AssetCheckResult(check_name="no_published_data_lost", passed=False, description=refused)
        raise dg.Failure(description=f"{refused}. Nothing was published; outputs/ is unchanged")
    released = ledger.merged(*recorded.values())
    released = ledger.with_release(released, decided.version, decided.date, checksum, len(resources))
    files[ledger.LEDGER] = ledger.to_csv(released)
    descriptor = package.package_descriptor(resources, list(sources.values()), licences, decided.version, decided.date)
    if decided.is_new:
        context.log.info(f"data changed: releasing version {decided.version}")
    # Read on every build, not only when a release needs it: a malformed file is found the day it is edited.
    try:
        note = versions.release_note(paths.release / versions.NOTES_NAME, (previous or {}).get("version"))
    except versions.NotesInvalid as exc:
        context.log.error(str(exc))
        raise dg.Failure(description=str(exc)) from exc

    # The row-level diff against the package being replaced, and the gate on it, before anything is written.
    previous_version = (previous or {}).get("version")
    try:
        diff_files, gate_notes = release_diff(outputs, previous_version, previous_files, files, decided, paths)
    except gate.ReleaseBlocked as exc:
        for line in exc.problems:
            context.log.error(line)
        yield dg.AssetCheckResult(check_name="no_published_data_lost", passed=False, description=str(exc)[:2000])
        raise dg.Failure(description=str(exc)) from exc
    files |= diff_files

    files["parquet/datapackage.json"] = (
        json.dumps(
            package.parquet_descriptor(resources, files, decided.version, PUBLISHED_TABLES),
            indent=2,
            ensure_ascii=False,
        )
        + "\n"
    ).encode("utf-8")

    previous_changelog = outputs / "CHANGELOG.md"
    files |= report.report_files(
        duckdb,
        descriptor,
        decided,
        row_counts,
        previous_changelog.read_text(encoding="utf-8") if previous_changelog.is_file() else None,
        note,
        (previous or {}).get("version"),
    )

    try:
        validated = package.build_and_publish(outputs, package.staging_dir(outputs, context.run_id), descriptor, files)
    except package.PackageInvalid as exc:
        for line in exc.errors:
            context.log.error(line)
        # Recorded as the check's own failure before the step fails: the UI shows why on the check.
        yield dg.AssetCheckResult(check_name="frictionless_valid", passed=False, description=str(exc)[:2000])
        raise dg.Failure(description=str(exc)) from exc

    # outputs/ is published by now: a failed upload fails the run after the materialisation is recorded.
    mirrored, mirror_failure = {}, None
    if package_mirror.url:
        try:
            pointer = mirror.mirror(outputs, package_mirror.url, decided.version)
            mirrored = {"mirrored_to": f"{package_mirror.url.rstrip('/')}/{pointer['prefix']}"}
            context.log.info(f"mirrored version {decided.version} to {mirrored['mirrored_to']}; latest.json names it")
        except mirror.MirrorError as exc:
            mirror_failure = exc

    yield dg.MaterializeResult(
        metadata={
            **mirrored,
            "outputs": str(outputs),
            "version": decided.version,
            "released": decided.date,
            "new_release": decided.is_new,
            "resources": dg.MetadataValue.md(
                "| resource | rows | bytes | sha256 |\n|---|---|---|---|\n"
                + "\n".join(
                    f"| {r['name']} | {row_counts[r['name']]} | {r['bytes']} | `{r['hash'][7:19]}…` |"
                    for r in resources
                )
            ),
            "files": dg.MetadataValue.md(
                "| file | bytes |\n|---|---|\n" + "\n".join(f"| {p} | {len(d)} |" for p, d in sorted(files.items()))
            ),
        }
    )
    yield dg.AssetCheckResult(
        check_name="no_published_data_lost",
        passed=True,
        description="; ".join(f"{t}: {note}" for t, note in gate_notes.items()) or "no key lost, no table shrank",
        metadata={"version": decided.version, "replaces": previous_version or "nothing"},
    )
    yield dg.AssetCheckResult(
        check_name="frictionless_valid",
        passed=True,
        metadata={
            "resources": validated.resources,
            "rows": validated.rows,
            "checked_as_files": ", ".join(validated.checked_as_files)
            or "none (frictionless checked every table cell by cell)",
        },
    )
    if mirror_failure:
        raise dg.Failure(description=f"outputs/ was published and validated; the mirror was not: {mirror_failure}")
