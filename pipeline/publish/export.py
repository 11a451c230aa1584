"""Build a DuckDB database of the published package, on demand (`make duckdb`).

Not part of outputs/: a DuckDB file is not byte-reproducible, so committing it would churn the history
without any change in the data. Tables get their declared types and primary keys, and are loaded from
the package's Parquet files, which were written from the same warehouse tables as the CSVs.
"""

import sys
from pathlib import Path

import duckdb

from schemas import PUBLISHED_TABLES


def create_table_sql(name: str) -> str:
    table = PUBLISHED_TABLES[name]
    columns = [f"{c.name} {c.duckdb_type}{' NOT NULL' if c.required else ''}" for c in table.columns]
    columns.append(f"PRIMARY KEY ({', '.join(table.primary_key)})")
    return f"CREATE TABLE {name} (\n    " + ",\n    ".join(columns) + "\n)"


def build_database(outputs: Path, target: Path) -> dict[str, int]:
    """Write `target` afresh from outputs/parquet; returns the row count of every table."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    counts = {}
    with duckdb.connect(str(target)) as con:
        for name in PUBLISHED_TABLES:  # declaration order: referenced tables first
            con.execute(create_table_sql(name))
            con.execute(
                f"INSERT INTO {name} SELECT * FROM read_parquet(?)", [str(outputs / "parquet" / f"{name}.parquet")]
            )
            (counts[name],) = con.execute(f"SELECT count(*) FROM {name}").fetchall()[0]
    return counts


if __name__ == "__main__":
    outputs, target = Path(sys.argv[1]), Path(sys.argv[2])
    for table, rows in build_database(outputs, target).items():
        print(f"{table}: {rows} rows")
    print(f"wrote {target}")
