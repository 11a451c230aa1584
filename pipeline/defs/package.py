"""The published data package: outputs/ with datapackage.json, CSVs, Parquet, card, dictionary, changelog."""

import tempfile
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipeline import chart, docs, publish, release
from pipeline.defs.raw import OWNERS
from pipeline.resources import ProjectPaths, ReleaseSettings
from schemas import PUBLISHED_TABLES

GROUP = "package"
CHART_STREAMS = ("vru", "surge_grip")


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
        rows = con.execute(query).fetchall()
        cited = [
            r[0]
            for r in con.execute(
                f"SELECT DISTINCT source_id FROM out.{name} WHERE source_id IS NOT NULL ORDER BY 1"
            ).fetchall()
        ]
        parquet = Path(tmp) / f"{name}.parquet"
        con.execute(f"COPY ({query}) TO '{parquet}' (FORMAT parquet)")
        parquet_bytes = parquet.read_bytes()
    return publish.csv_bytes(table.column_names, rows), parquet_bytes, cited


def funding_grid(duckdb: DuckDBResource):
    """VRU areas, every (stream, year) column they could have, and the chosen figures and their kinds."""
    with duckdb.get_connection() as con:
        cells = con.execute(
            "SELECT a.area_name, c.stream, c.financial_year, c.known, f.amount_gbp, c.has_conflict "
            "FROM out.funding_coverage c JOIN out.police_force_areas a USING (area_code) "
            "LEFT JOIN out.funding_allocations f USING (area_code, stream, financial_year) "
            "WHERE c.stream IN ('vru', 'surge_grip') "
            "AND c.area_code IN (SELECT area_code FROM out.violence_reduction_units) "
            "ORDER BY a.area_name, c.financial_year, c.stream DESC"
        ).fetchall()
    areas = sorted({c[0] for c in cells})
    columns = sorted({(c[1], c[2]) for c in cells}, key=lambda c: (c[1], CHART_STREAMS.index(c[0])))
    amounts = {(a, s, y): amount for a, s, y, _, amount, _ in cells if amount is not None}
    kinds = {(a, s, y): known + (" !" if conflict else "") for a, s, y, known, _, conflict in cells}
    return areas, columns, amounts, kinds


def homicide_comparison(duckdb: DuckDBResource) -> docs.HomicideComparison:
    """The newest homicide-rate edition's comparison of area groups, both variants, for the card and chart."""
    with duckdb.get_connection() as con:
        edition = con.execute(
            "SELECT edition FROM out.area_outcomes WHERE measure = 'homicide_rate_per_million' "
            "ORDER BY edition_date DESC, edition DESC LIMIT 1"
        ).fetchone()[0]
        rows = con.execute(
            "SELECT period_first_year, area_group, variant, mean_value, median_value, "
            "mean_weighted_by_population_mid2018, n_areas, n_flagged_values_used, areas_left_out "
            "FROM out.outcome_comparison WHERE measure = 'homicide_rate_per_million' AND edition = ? "
            "ORDER BY period_first_year, area_group DESC, variant",
            [edition],
        ).fetchall()
    return docs.HomicideComparison(edition, rows)


def change_by_group(duckdb: DuckDBResource) -> list[tuple]:
    """outcome_change_by_group for 2018-19 against the newest after year, for the card and chart."""
    with duckdb.get_connection() as con:
        return con.execute(
            "SELECT measure, area_group, variant, value_before, value_after, percent_change, n_areas, "
            "n_flagged_values_used FROM out.outcome_change_by_group "
            "WHERE before_edition = (SELECT max(edition) FROM out.area_outcomes WHERE period_as_published = "
            "'year ending March 2019' AND measure = 'violence_with_injury_offences') "
            "AND after_edition = (SELECT max(after_edition) FROM out.outcome_change_by_group) "
            "ORDER BY measure, area_group, variant"
        ).fetchall()


def quality_flags(duckdb: DuckDBResource) -> list[tuple]:
    with duckdb.get_connection() as con:
        return con.execute(
            "SELECT check_name, severity, table_name, area_code, subject, period, edition, observed, expected, action "
            "FROM out.quality_flags ORDER BY severity, check_name, flag_id"
        ).fetchall()


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    kinds={"frictionless", "csv", "parquet"},
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
def datapackage(
    context: dg.AssetExecutionContext, paths: ProjectPaths, duckdb: DuckDBResource, release_settings: ReleaseSettings
):
    """The published data package in outputs/: what researchers download.

    Every out table as CSV (data/) and Parquet (parquet/), described in datapackage.json, with a
    dataset card (README.md), a data dictionary, a changelog and a funding chart. Built in a staging
    folder beside outputs/, validated with the frictionless library, then renamed into outputs/ (the
    previous package set aside first, deleted last): if anything fails, the previous outputs/ stays exactly
    as it was, and a run killed mid-publish leaves a whole package that the next run puts back. The version
    changes only when a table's data or schema changed; identical inputs give byte-identical files.
    """
    outputs = paths.outputs
    for stale in publish.remove_stale_staging(outputs):
        context.log.warning(f"removed {stale}, left by a run that did not finish")
    sources = package_sources(duckdb)

    files, resources, licences, row_counts = {}, [], [], {}
    for name, table in PUBLISHED_TABLES.items():
        csv_data, parquet_data, cited = table_files(duckdb, name)
        files[f"data/{name}.csv"] = csv_data
        files[f"parquet/{name}.parquet"] = parquet_data
        resources.append(publish.resource_descriptor(table, csv_data, [sources[s] for s in cited]))
        licences += [sources[s]["licence"] for s in cited]
        row_counts[name] = release.count_rows(csv_data)
    previous, previous_files = release.previous_package(outputs)
    decided = release.decide_release(
        previous, previous_files, {"resources": resources}, files, release_settings.today()
    )
    descriptor = publish.package_descriptor(resources, list(sources.values()), licences, decided.version, decided.date)
    if decided.is_new:
        context.log.info(f"data changed: releasing version {decided.version}")

    areas, columns, amounts, kinds = funding_grid(duckdb)
    previous_changelog = outputs / "CHANGELOG.md"
    files[docs.CHART_PATH] = chart.funding_grid_png(areas, columns, amounts, kinds)
    homicide = homicide_comparison(duckdb)
    files[docs.HOMICIDE_CHART_PATH] = chart.homicide_png(
        homicide,
        f"Source: ONS homicide offences per million population by police force area (Explore Local Statistics), "
        f"edition {homicide.edition}; flagged values: this package's quality_flags. "
        f"{descriptor['title']}, version {decided.version}.",
    )
    change_rows = change_by_group(duckdb)
    change = docs.change_section(change_rows)
    files[docs.CHANGE_CHART_PATH] = chart.change_png(
        [(r[0], r[1], r[5], r[6]) for r in change_rows if r[2] == "all_values"],
        f"Source: ONS police force area data tables (police recorded crime), years ending March 2019 and June 2025. "
        f"{descriptor['title']}, version {decided.version}.",
    )
    with duckdb.get_connection() as con:
        totals = con.execute(
            "SELECT total_id, amount_as_published, source_id, cells_known, cells_expected, sum_known_gbp, status "
            "FROM out.national_totals ORDER BY stream DESC, financial_year"
        ).fetchall()
    files["README.md"] = docs.dataset_card(
        descriptor,
        row_counts,
        docs.coverage_matrix(areas, columns, kinds),
        docs.totals_table(totals),
        docs.comparison_table(homicide),
        docs.homicide_alt(homicide),
        docs.flags_section(quality_flags(duckdb)),
        change,
        decided.date,
    ).encode("utf-8")
    files["DATA_DICTIONARY.md"] = docs.data_dictionary(row_counts, decided.version).encode("utf-8")
    files["CHANGELOG.md"] = release.changelog(
        previous_changelog.read_text(encoding="utf-8") if previous_changelog.is_file() else None, decided
    ).encode("utf-8")

    try:
        report = publish.build_and_publish(outputs, publish.staging_dir(outputs, context.run_id), descriptor, files)
    except publish.PackageInvalid as exc:
        for line in exc.errors:
            context.log.error(line)
        raise dg.Failure(description=str(exc)) from exc

    yield dg.MaterializeResult(
        metadata={
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
        check_name="frictionless_valid",
        passed=True,
        metadata={"resources": len(report.tasks), "rows": sum(t.stats["rows"] for t in report.tasks)},
    )
