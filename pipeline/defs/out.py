"""Out layer: each published table in its declared shape (schema `out`), checked before publishing.

One factory makes every out asset from its declaration in schemas/published.py: the declared
columns cast to their declared types (published in primary-key order), a blocking pandera schema check,
and a blocking foreign-key check (SQL on DuckDB) for every declared foreign key.
"""

import dagster as dg
import pandas as pd
import sqlglot
from dagster_duckdb import DuckDBResource
from duckdb import DuckDBPyConnection
from sqlglot import exp

from pipeline.defs.steps import Step, step
from pipeline.validation import Failure, check_result, declared_frame, spreadsheet_row, validate
from schemas import Table
from schemas.model import ForeignKey

GROUP = "out"


def out_sql(table: Table) -> str:
    """CREATE TABLE out.<name>: every declared column cast to its declared type, computed as `published_as` says
    where it is not the core column as it is."""
    columns = [
        exp.cast(
            sqlglot.parse_one(c.published_as, read="duckdb") if c.published_as else exp.column(c.name),
            exp.DataType.build(c.duckdb_type, dialect="duckdb"),
        ).as_(c.name)
        for c in table.columns
    ]
    # Not sorted here: the CSV and Parquet files are written in primary-key order (package.table_files), and a
    # million-row sort is a second; checks number rows in that order themselves.
    select = exp.select(*columns).from_(exp.table_(table.name, db="core"))
    create = exp.Create(this=exp.table_(table.name, db="out"), kind="TABLE", replace=True, expression=select)
    return create.sql(dialect="duckdb", pretty=True)


def decimals(table: Table) -> list:
    return [c for c in table.columns if c.type == "number"]


def rows_to_check(con: DuckDBPyConnection, table: Table, source: str = "") -> pd.DataFrame:
    """The rows of out.<name> (or of `source`) as pandera checks them, at any size: in primary-key order, as the CSV
    is written, so that a failure names the row a reader sees; exact decimals as DOUBLE, every column Arrow-backed
    (pipeline/validation.py: declared_frame)."""
    doubles = [exp.cast(exp.column(c.name), "DOUBLE").as_(c.name) for c in decimals(table)]
    ordered = (
        exp.select(exp.Star(**{"replace": doubles}))
        .from_(exp.to_table(source, dialect="duckdb") if source else exp.table_(table.name, db="out"))
        .order_by(*table.primary_key, dialect="duckdb")
    )
    return declared_frame(con.sql(ordered.sql(dialect="duckdb")).to_arrow_table())


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


def dangling(table: Table, fk: ForeignKey) -> exp.Condition:
    """Rows `t` of out.<table> whose foreign key `fk` has every cell and matches no row `r` of the referenced table."""
    present = exp.and_(*(exp.column(a, "t").is_(exp.null()).not_() for a in fk.columns))
    match = exp.and_(
        *(exp.column(a, "t").eq(exp.column(b, "r")) for a, b in zip(fk.columns, fk.reference, strict=True))
    )
    referenced = exp.select("1").from_(exp.table_(fk.table, db="out", alias="r")).where(match)
    return exp.and_(present, exp.Exists(this=referenced).not_())


def dangling_keys(duckdb: DuckDBResource, table: Table) -> list[Failure]:
    """Rows whose foreign key matches no row of the referenced table."""
    label = f"outputs/data/{table.name}.csv"
    # Rows numbered as the CSV numbers them (it is written in primary-key order): 0 for the first data row.
    order = exp.Order(expressions=[exp.Ordered(this=exp.column(k)) for k in table.primary_key])
    number = exp.Sub(this=exp.Window(this=exp.RowNumber(), order=order), expression=exp.Literal.number(1))
    numbered = exp.select(number.as_("n"), exp.Star()).from_(exp.table_(table.name, db="out")).subquery("t")
    failures = []
    with duckdb.get_connection() as con:
        for fk in table.foreign_keys:
            where = dangling(table, fk)
            count = exp.select("count(*)").from_(exp.table_(table.name, db="out", alias="t")).where(where)
            # Rows are numbered (a sort of the whole table) only when some key dangles.
            if not con.execute(count.sql(dialect="duckdb")).fetchall()[0][0]:
                continue
            rows = exp.select("n", *fk.columns).from_(numbered).where(where)
            failures += [
                Failure(
                    label,
                    spreadsheet_row(n),
                    ", ".join(fk.columns),
                    values[0] if len(values) == 1 else values,
                    f"matches no row of {fk.table}",
                )
                for n, *values in con.execute(rows.sql(dialect="duckdb")).fetchall()
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
        frame = rows_to_check(con, table)
    failures = validate(frame, table, label)
    del frame  # a million rows of text: not held while the foreign keys are checked
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
