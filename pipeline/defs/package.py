"""The published Frictionless data package: outputs/datapackage.json and outputs/data/*.csv."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipeline import publish
from pipeline.defs.raw import OWNERS
from pipeline.resources import ProjectPaths
from schemas import PUBLISHED_TABLES

GROUP = "package"
SOURCE_FIELDS = ("title", "path", "publisher", "date_published", "licence")


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


def table_rows(duckdb: DuckDBResource, name: str) -> tuple[list[str], list[tuple], list[str]]:
    """Header, rows sorted by primary key, and the source ids the table cites."""
    table = PUBLISHED_TABLES[name]
    with duckdb.get_connection() as con:
        rows = con.execute(f"SELECT * FROM out.{name} ORDER BY {', '.join(table.primary_key)}").fetchall()
        cited = [r[0] for r in con.execute(f"SELECT DISTINCT source_id FROM out.{name} ORDER BY 1").fetchall()]
    return table.column_names, rows, cited


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    kinds={"frictionless", "csv"},
    code_version="1",
    deps=[f"out_{name}" for name in PUBLISHED_TABLES],
    check_specs=[
        dg.AssetCheckSpec(
            "frictionless_valid",
            asset="datapackage",
            description="frictionless validate passes on the built package: types, constraints, primary and "
            "foreign keys, bytes and sha256 of every resource.",
        )
    ],
)
def datapackage(context: dg.AssetExecutionContext, paths: ProjectPaths, duckdb: DuckDBResource):
    """The published data package: every out table as a CSV, described in datapackage.json.

    Built in a staging folder beside outputs/, validated with the frictionless library, then swapped
    into outputs/ in one atomic rename. If validation fails nothing is published and the previous
    outputs/ stays exactly as it was. Identical inputs give byte-identical files.
    """
    outputs = paths.outputs
    for stale in publish.remove_stale_staging(outputs):
        context.log.warning(f"removed {stale}, left by a run that did not finish")
    sources = package_sources(duckdb)
    staging = publish.staging_dir(outputs, context.run_id)

    files, resources, licences = {}, [], []
    for name, table in PUBLISHED_TABLES.items():
        header, rows, cited = table_rows(duckdb, name)
        data = publish.csv_bytes(header, rows)
        files[f"data/{name}.csv"] = data
        resources.append(publish.resource_descriptor(table, data, [sources[s] for s in cited]))
        licences += [sources[s]["licence"] for s in cited]
    descriptor = publish.package_descriptor(resources, list(sources.values()), licences)

    try:
        report = publish.build_and_publish(outputs, staging, descriptor, files)
    except publish.PackageInvalid as exc:
        for line in exc.errors:
            context.log.error(line)
        raise dg.Failure(description=str(exc)) from exc

    yield dg.MaterializeResult(
        metadata={
            "outputs": str(outputs),
            "resources": dg.MetadataValue.md(
                "| resource | rows | bytes | sha256 |\n|---|---|---|---|\n"
                + "\n".join(
                    f"| {r['name']} | {report.tasks[i].stats['rows']} | {r['bytes']} | `{r['hash'][7:19]}…` |"
                    for i, r in enumerate(resources)
                )
            ),
        }
    )
    yield dg.AssetCheckResult(
        check_name="frictionless_valid",
        passed=True,
        metadata={"resources": len(report.tasks), "rows": sum(t.stats["rows"] for t in report.tasks)},
    )
