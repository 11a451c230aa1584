"""Every table read as a researcher first reads it: the default call of pandas, polars, DuckDB and R's readr, no
options. Nothing the CSV printed may come back missing, and every declared number must do arithmetic (in the
CSVs and in the Parquet files)."""

import csv
import os
import re
import shutil
import subprocess
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pytest

from schemas import PUBLISHED_TABLES

NUMBERS = {name: [c.name for c in t.columns if c.type in ("number", "integer")] for name, t in PUBLISHED_TABLES.items()}


def printed(outputs: Path, name: str) -> dict[str, list[str]]:
    """Each column's cells exactly as the CSV prints them."""
    with (outputs / "data" / f"{name}.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    return {column: [row[i] for row in rows[1:]] for i, column in enumerate(rows[0])}


def lost(cells: list[str], missing: list[bool]) -> list[str]:
    return [cell for cell, gone in zip(cells, missing, strict=True) if gone and cell != ""]


@pytest.mark.parametrize("name", list(PUBLISHED_TABLES))
def test_pandas_polars_and_duckdb_default_reads_keep_every_printed_cell_and_do_arithmetic(fresh_build, name):
    path = fresh_build.outputs / "data" / f"{name}.csv"
    cells = printed(fresh_build.outputs, name)
    frame = pd.read_csv(path)
    table = pl.read_csv(path)
    relation = duckdb.connect().execute(f"SELECT * FROM '{path}'")
    columns = [d[0] for d in relation.description]
    rows = relation.fetchall()
    assert list(frame.columns) == list(table.columns) == columns == list(cells)
    for i, column in enumerate(columns):
        assert not lost(cells[column], frame[column].isna().tolist()), ("pandas", column)
        assert not lost(cells[column], table[column].is_null().to_list()), ("polars", column)
        assert not lost(cells[column], [row[i] is None for row in rows]), ("duckdb", column)
    for column in NUMBERS[name]:
        assert pd.api.types.is_numeric_dtype(frame[column]), ("pandas", column, frame[column].dtype)
        assert table[column].dtype.is_numeric(), ("polars", column, table[column].dtype)
        (frame[column] / 2.5).sum()
        table.select(pl.col(column) / 2.5).sum()


@pytest.mark.parametrize("name", list(PUBLISHED_TABLES))
def test_parquet_numbers_do_arithmetic_in_pandas_polars_and_duckdb(fresh_build, name):
    path = fresh_build.outputs / "parquet" / f"{name}.parquet"
    frame, table = pd.read_parquet(path), pl.read_parquet(path)
    con = duckdb.connect()
    for column in NUMBERS[name]:
        assert pd.api.types.is_numeric_dtype(frame[column]), ("pandas", column, frame[column].dtype)
        assert table[column].dtype.is_numeric(), ("polars", column, table[column].dtype)
        (frame[column] / 2.5).sum()
        # A rate times a population: DECIMAL(38,24) overflowed here ("Needed scale 48").
        con.execute(f'SELECT sum("{column}" * "{column}" * 1000000.5) FROM \'{path}\'').fetchall()


R_SCRIPT = r"""
suppressMessages(library(readr))
args <- commandArgs(trailingOnly = TRUE)
numbers <- if (length(args) > 1) strsplit(args[2], ",")[[1]] else character()
parsed <- read_csv(args[1], show_col_types = FALSE, progress = FALSE)
text <- read_csv(args[1], col_types = cols(.default = col_character()), na = character(), progress = FALSE)
stopifnot(identical(names(parsed), names(text)), nrow(parsed) == nrow(text))
for (column in names(text)) {
  gone <- sum(is.na(parsed[[column]]) & text[[column]] != "")
  if (gone > 0) cat("LOST", column, gone, text[[column]][is.na(parsed[[column]]) & text[[column]] != ""][1], "\n")
}
for (column in numbers) {
  if (!is.numeric(parsed[[column]])) cat("NOT_NUMERIC", column, class(parsed[[column]])[1], "\n")
  invisible(sum(parsed[[column]] / 2.5, na.rm = TRUE))
}
cat("OK", nrow(parsed), "\n")
"""


@pytest.mark.slow  # an R process per table
@pytest.mark.parametrize("name", list(PUBLISHED_TABLES))
def test_r_readr_default_read_keeps_every_printed_cell_and_reads_numbers_as_numbers(fresh_build, name, tmp_path):
    if shutil.which("Rscript") is None:
        reason = "R is not installed (apt-get install r-cran-readr; .ci/run does)"
        pytest.fail(reason) if os.environ.get("CI") else pytest.skip(reason)
    script = tmp_path / "read.R"
    script.write_text(R_SCRIPT, encoding="utf-8")
    path = fresh_build.outputs / "data" / f"{name}.csv"
    run = subprocess.run(
        ["Rscript", str(script), str(path), ",".join(NUMBERS[name])], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    rows = len(printed(fresh_build.outputs, name)[PUBLISHED_TABLES[name].column_names[0]])
    assert run.stdout.strip() == f"OK {rows}", run.stdout


def test_the_parquet_files_have_a_descriptor_of_their_own_and_carry_their_field_descriptions(fresh_build):
    import json

    import frictionless
    import pyarrow.parquet as pq

    folder = fresh_build.outputs / "parquet"
    package = frictionless.Package(str(folder / "datapackage.json"))
    csv_package = json.loads((fresh_build.outputs / "datapackage.json").read_text(encoding="utf-8"))
    assert [r.name for r in package.resources] == list(PUBLISHED_TABLES)
    assert package.to_dict()["version"] == csv_package["version"]
    from pipeline.publish.package import INTEGERS_WITH_BLANKS

    for resource, csv_resource in zip(package.to_dict()["resources"], csv_package["resources"], strict=True):
        # No bytes or hash: frictionless reads Parquet through pyarrow and could not check them (the validator
        # would report every table invalid); the files' sha256 are in the archive's SHA256SUMS.
        assert "bytes" not in resource and "hash" not in resource
        assert resource["licenses"] == csv_resource["licenses"]
        metadata = pq.read_schema(folder / resource["path"]).metadata
        fields = json.loads(metadata[b"frictionless:fields"])
        table = pq.read_table(folder / resource["path"])
        described = []
        for field in resource["schema"]["fields"]:
            if field["description"].endswith(INTEGERS_WITH_BLANKS):  # an integer column with blanks, and only that
                assert table.column(field["name"]).null_count and str(table.schema.field(field["name"]).type) == "int64"
                field = field | {
                    "type": "integer",
                    "description": field["description"].removesuffix(INTEGERS_WITH_BLANKS),
                }
            described.append(field)
        assert fields == described
        assert [f["name"] for f in fields] == pq.read_schema(folder / resource["path"]).names
        assert all(f["description"] for f in fields)
        assert metadata[b"title"].decode() == PUBLISHED_TABLES[resource["name"]].title


TEXT = {name: [c.name for c in t.columns if c.type == "string"] for name, t in PUBLISHED_TABLES.items()}
CARD_ROW = re.compile(r"^\| `(\w+)\.(\w+)` \| [^|]+ \| ([^|]+) \|$")


def card_claims(outputs: Path) -> set[tuple[str, str, str]]:
    """(table, column, client) for each declared text column the card says a client's default read changes."""
    card = (outputs / "README.md").read_text(encoding="utf-8")
    section = card[card.index("**Types a default read guesses.**") : card.index("## Licences")]
    claims = set()
    for line in section.splitlines():
        if match := CARD_ROW.match(line):
            claims |= {(match[1], match[2], client.strip()) for client in match[3].split(",")}
    return claims


def typed_reads(outputs: Path) -> dict[str, tuple[str, str]]:
    """Each table's typed read for R and for pandas, as the data dictionary prints them."""
    found = {}
    for line in (outputs / "DATA_DICTIONARY.md").read_text(encoding="utf-8").splitlines():
        if match := re.fullmatch(r"- Read in its declared types: R `(.+)`; pandas `(\w+) = (.+)`", line):
            found[match[2]] = (match[1], match[3])
    return found


def test_the_card_names_exactly_the_text_columns_the_python_clients_default_reads_change(fresh_build):
    claims = card_claims(fresh_build.outputs)
    assert ("area_outcomes", "value_as_published", "readr") in claims  # "5,658 " read as 5658
    changed = set()
    for name, columns in TEXT.items():
        path = fresh_build.outputs / "data" / f"{name}.csv"
        frame, table = pd.read_csv(path), pl.read_csv(path)
        relation = duckdb.connect().execute(f"SELECT * FROM '{path}'")
        types = {d[0]: str(d[1]) for d in relation.description}
        for column in columns:
            changed |= {(name, column, "pandas")} if frame[column].dtype != object else set()
            changed |= {(name, column, "polars")} if table[column].dtype != pl.String else set()
            changed |= {(name, column, "DuckDB")} if types[column] != "VARCHAR" else set()
    assert changed == {claim for claim in claims if claim[2] != "readr"}


@pytest.mark.parametrize("name", list(PUBLISHED_TABLES))
def test_the_dictionarys_typed_pandas_read_keeps_every_text_cell_as_printed(fresh_build, name, monkeypatch):
    monkeypatch.chdir(fresh_build.outputs)
    frame = eval(typed_reads(fresh_build.outputs)[name][1], {"pandas": pd})
    cells = printed(fresh_build.outputs, name)
    for column in TEXT[name]:
        assert frame[column].fillna("").tolist() == cells[column], column
    for column in NUMBERS[name]:
        assert pd.api.types.is_numeric_dtype(frame[column]), column


R_TYPED = r"""
suppressMessages(library(readr))
args <- commandArgs(trailingOnly = TRUE)
setwd(args[1])
parsed <- read_csv(args[2], show_col_types = FALSE, progress = FALSE)
text <- read_csv(args[2], col_types = cols(.default = col_character()), na = character(), progress = FALSE)
typed <- eval(parse(text = args[3]))
for (column in names(text)) {
  if (!is.character(parsed[[column]])) cat("CHANGED", column, "\n")
  gone <- sum(is.na(typed[[column]]) & text[[column]] != "")
  if (gone > 0) cat("TYPED_LOST", column, gone, "\n")
  if (is.character(typed[[column]]) && !identical(ifelse(is.na(typed[[column]]), "", typed[[column]]), text[[column]]))
    cat("TYPED_CHANGED", column, "\n")
}
if (length(problems(typed)$row) > 0) cat("PROBLEMS", nrow(problems(typed)), "\n")
cat("OK\n")
"""


@pytest.mark.slow  # an R process per table
@pytest.mark.parametrize("name", list(PUBLISHED_TABLES))
def test_r_readr_changes_exactly_the_text_columns_the_card_names_and_the_typed_read_keeps_them(
    fresh_build, name, tmp_path
):
    if shutil.which("Rscript") is None:
        reason = "R is not installed (apt-get install r-cran-readr; .ci/run does)"
        pytest.fail(reason) if os.environ.get("CI") else pytest.skip(reason)
    script = tmp_path / "typed.R"
    script.write_text(R_TYPED, encoding="utf-8")
    typed = typed_reads(fresh_build.outputs)[name][0]
    run = subprocess.run(
        ["Rscript", str(script), str(fresh_build.outputs), f"data/{name}.csv", typed],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[-1] == "OK" and not [line for line in lines if line.startswith(("TYPED", "PROBLEMS"))], lines
    declared_text = set(TEXT[name])
    changed = {line.split()[1] for line in lines if line.startswith("CHANGED")} & declared_text
    claimed = {
        column for table, column, client in card_claims(fresh_build.outputs) if (table, client) == (name, "readr")
    }
    assert changed == claimed
