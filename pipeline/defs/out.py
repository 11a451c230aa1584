"""Out layer: each published table in its declared shape (schema `out`), checked before publishing.

One factory makes every out asset from its declaration in schemas/published.py: the declared
columns cast to their declared types (published in primary-key order), a blocking pandera schema check,
and a blocking foreign-key check (SQL on DuckDB) for every declared foreign key.
"""

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipeline.defs.steps import Step, step
from pipeline.publish import sqlcheck
from pipeline.publish.package import SQL_CHECKED_ROWS
from pipeline.validation import Failure, check_result, spreadsheet_row, validate
from schemas import Table

GROUP = "out"


def out_sql(table: Table) -> str:
    columns = ",\n    ".join(f"CAST({c.published_as or c.name} AS {c.duckdb_type}) AS {c.name}" for c in table.columns)
    # Not sorted here: the CSV and Parquet files are written in primary-key order (package.table_files), and a
    # million-row sort is a second; checks number rows in that order themselves.
    return f"CREATE OR REPLACE TABLE out.{table.name} AS\nSELECT\n    {columns}\nFROM core.{table.name}"


def column_lineage(table: Table) -> dg.TableColumnLineage:
    """Each published column's upstream columns: its core column, plus any the declaration names."""
    deps = {}
    for column in table.columns:
        upstream = [dg.TableColumnDep(asset_key=dg.AssetKey(f"core_{table.name}"), column_name=column.name)]
        for ref in column.derived_from:
            asset, name = ref.rsplit(".", 1)
            upstream.append(dg.TableColumnDep(asset_key=dg.AssetKey(asset), column_name=name))
        deps[column.name] = upstream
    return dg.TableColumnLineage(deps_by_column=deps)


def lineage_markdown(lineage: dg.TableColumnLineage) -> str:
    """The same lineage as a table an auditor can read (the open-source UI stores but does not draw it)."""
    rows = [
        f"| `{column}` | " + ", ".join(f"`{d.asset_key.to_user_string()}`.`{d.column_name}`" for d in deps) + " |"
        for column, deps in lineage.deps_by_column.items()
    ]
    return "| published column | comes from |\n|---|---|\n" + "\n".join(rows)


def dangling_keys(duckdb: DuckDBResource, table: Table) -> list[Failure]:
    """Rows whose foreign key matches no row of the referenced table."""
    label = f"outputs/data/{table.name}.csv"
    order = ", ".join(table.primary_key)
    failures = []
    with duckdb.get_connection() as con:
        for fk in table.foreign_keys:
            join = " AND ".join(f"t.{a} = r.{b}" for a, b in zip(fk.columns, fk.reference, strict=True))
            present = " AND ".join(f"t.{a} IS NOT NULL" for a in fk.columns)
            dangling = f"{present} AND NOT EXISTS (SELECT 1 FROM out.{fk.table} AS r WHERE {join})"
            # Rows are numbered (a sort of the whole table) only when some key dangles.
            if not con.execute(f"SELECT count(*) FROM out.{table.name} AS t WHERE {dangling}").fetchall()[0][0]:
                continue
            rows = con.execute(
                f"SELECT n, {', '.join(fk.columns)} FROM ("
                f" SELECT row_number() OVER (ORDER BY {order}) - 1 AS n, * FROM out.{table.name}) AS t"
                f" WHERE {dangling}"
            ).fetchall()
            failures += [
                Failure(
                    label,
                    spreadsheet_row(n),
                    ", ".join(fk.columns),
                    values[0] if len(values) == 1 else values,
                    f"matches no row of {fk.table}",
                )
                for n, *values in rows
            ]
    return failures


def out_checks(table: Table) -> list[dg.AssetCheckSpec]:
    specs = [
        dg.AssetCheckSpec(
            "matches_schema",
            asset=f"out_{table.name}",
            blocking=True,
            description="Declared types, required values, uniqueness, patterns, ranges and primary key.",
        )
    ]
    if table.foreign_keys:
        specs.append(
            dg.AssetCheckSpec(
                "foreign_keys_resolve",
                asset=f"out_{table.name}",
                blocking=True,
                description="Every "
                + "; every ".join(
                    f"{', '.join(fk.columns)} is a {fk.table}.{', '.join(fk.reference)}" for fk in table.foreign_keys
                )
                + ".",
            )
        )
    return specs


def publish_shape(context: dg.AssetExecutionContext, table: Table, duckdb: DuckDBResource):
    """One published table in its declared shape, with its schema and foreign-key checks."""
    label = f"outputs/data/{table.name}.csv"
    with duckdb.get_connection() as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS out")
        con.execute(out_sql(table))
        (rows,) = con.execute(f"SELECT count(*) FROM out.{table.name}").fetchall()[0]
        if rows > SQL_CHECKED_ROWS:
            # The declared checks as SQL in the warehouse (pipeline/publish/sqlcheck.py), not a pandas copy.
            failures = [
                Failure(label, e.row, e.field, None, f"{e.type} (declared: {table.name}.{e.field})")
                for e in sqlcheck.validate_table(con, f"out.{table.name}", table)
            ]
        else:
            order = ", ".join(table.primary_key)
            failures = validate(con.execute(f"SELECT * FROM out.{table.name} ORDER BY {order}").df(), table, label)
    for failure in failures[:20]:
        context.log.error(failure.message())
    lineage = column_lineage(table)
    key = f"out_{table.name}"
    checks = [check_result("matches_schema", failures, label, asset_key=key)]
    if table.foreign_keys:
        checks.append(check_result("foreign_keys_resolve", dangling_keys(duckdb, table), label, asset_key=key))
    return dg.MaterializeResult(
        asset_key=key,
        metadata={
            "dagster/row_count": rows,
            "dagster/column_schema": table.dagster_table_schema(),
            "dagster/column_lineage": lineage,
            "column_lineage": dg.MetadataValue.md(lineage_markdown(lineage)),
            "primary_key": ", ".join(table.primary_key),
            "published_as": label,
        },
        check_results=checks,
    )


def out_step(table: Table) -> Step:
    """The out asset of one published table."""
    referenced = sorted({fk.table for fk in table.foreign_keys if fk.table != table.name})

    @step(
        f"out_{table.name}",
        group=GROUP,
        kinds={"duckdb", "pandera"},
        deps=[f"core_{table.name}", *(f"out_{name}" for name in referenced)],
        description=f"{table.title}: published as outputs/data/{table.name}.csv.\n\n{table.description}",
        metadata={"dagster/column_schema": table.dagster_table_schema()},
        check_specs=out_checks(table),
    )
    def shape(context: dg.AssetExecutionContext, duckdb: DuckDBResource):
        return publish_shape(context, table, duckdb)

    return shape
