"""The package as researchers use it: with clients nobody here wrote, and with its own documentation."""

import csv
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from pipeline.defs.resources import PROJECT_DIR
from pipeline.publish.export import build_database
from pipeline.release.versions import count_rows
from schemas import PUBLISHED_TABLES

BIN = Path(sys.executable).parent
PANDAS_TYPES = {"string": "string", "integer": "Int64", "number": "Float64", "boolean": "boolean"}


@pytest.mark.slow
@pytest.mark.parametrize("descriptor", ["datapackage.json", "parquet/datapackage.json"])
def test_frictionless_cli_validates_the_package(fresh_build, descriptor):
    """Both descriptors, the CSVs' and the Parquet files', pass the validator anyone would run on them."""
    run = subprocess.run(
        [BIN / "frictionless", "validate", descriptor], cwd=fresh_build.outputs, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count("VALID") == len(PUBLISHED_TABLES)
    assert "INVALID" not in run.stdout


@pytest.mark.parametrize("name", list(PUBLISHED_TABLES))
def test_duckdb_reads_every_csv_with_declared_types_and_matches_the_parquet(fresh_build, name):
    """The CSV read with its declared (exact) types holds the same values as the Parquet file, whose numbers are
    DOUBLE so that they do arithmetic everywhere (tests/test_readers.py)."""
    table = PUBLISHED_TABLES[name]
    columns = {c.name: c.duckdb_type for c in table.columns}
    as_parquet = ", ".join(
        f"CAST({c.name} AS DOUBLE) AS {c.name}" if c.duckdb_type.startswith("DECIMAL") else c.name
        for c in table.columns
    )
    con = duckdb.connect()
    from_csv = con.execute(
        f"SELECT {as_parquet} FROM read_csv(?, header=true, columns=?)",
        [str(fresh_build.outputs / "data" / f"{name}.csv"), columns],
    ).fetchall()
    from_parquet = con.execute(
        "SELECT * FROM read_parquet(?)", [str(fresh_build.outputs / "parquet" / f"{name}.parquet")]
    ).fetchall()
    assert from_csv and from_csv == from_parquet


@pytest.mark.parametrize("name", list(PUBLISHED_TABLES))
def test_pandas_reads_every_csv_with_declared_types(fresh_build, name):
    table = PUBLISHED_TABLES[name]
    dates = [c.name for c in table.columns if c.type == "date"]
    dtypes = {c.name: PANDAS_TYPES[c.type] for c in table.columns if c.type != "date"}
    frame = pd.read_csv(fresh_build.outputs / "data" / f"{name}.csv", dtype=dtypes, parse_dates=dates)
    assert list(frame.columns) == table.column_names
    assert len(frame) > 0
    assert not frame.duplicated(subset=list(table.primary_key)).any()
    for column in table.columns:
        if column.required:
            assert frame[column.name].notna().all(), column.name


@pytest.mark.slow
def test_datapackage_to_datasette_imports_into_sqlite(fresh_build, tmp_path):
    database, metadata = tmp_path / "sv.db", tmp_path / "metadata.json"
    run = subprocess.run(
        [BIN / "datapackage-to-datasette", database, fresh_build.outputs / "datapackage.json", metadata],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    con = sqlite3.connect(database)
    for name in PUBLISHED_TABLES:
        csv_rows = count_rows((fresh_build.outputs / "data" / f"{name}.csv").read_bytes())
        assert csv_rows > 0
        assert con.execute(f"SELECT count(*) FROM {name}").fetchone()[0] == csv_rows
    total = con.execute(
        "SELECT sum(amount_gbp) FROM funding_reports WHERE area_code = 'E23000001' AND source_id = 'S01'"
    ).fetchone()[0]
    assert total == 8_907_532 + 9_497_400
    references = {row[2] for row in con.execute("PRAGMA foreign_key_list(funding_reports)")}
    assert references == {"police_force_areas", "sources"}
    assert metadata.read_text().count('"title"') > len(PUBLISHED_TABLES)
    # Each table shows its own licence: ONS tables the OGL they are published under, compilations CC BY 4.0.
    tables = next(iter(json.loads(metadata.read_text())["databases"].values()))["tables"]

    def rows(name: str) -> list[dict]:
        with open(fresh_build.outputs / "data" / f"{name}.csv", encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))

    sources = {row["source_id"]: row for row in rows("sources")}
    for name in PUBLISHED_TABLES:
        cited = {value for row in rows(name) for key, value in row.items() if key.endswith("source_id")} - {""}
        licences = {sources[s]["licence"] for s in cited}
        expected = licences.pop() if len(licences) == 1 and "publisher-copyright" not in licences else "CC-BY-4.0"
        assert tables[name]["license"] == expected, name
    assert tables["area_outcomes"]["license"] == "OGL-UK-3.0"
    assert tables["funding_reports"]["license"] == "CC-BY-4.0"


def test_duckdb_export_has_every_table_with_keys(fresh_build, tmp_path):
    counts = build_database(fresh_build.outputs, tmp_path / "sv.duckdb")
    assert counts["police_force_areas"] == 43
    assert counts["funding_reports"] == count_rows((fresh_build.outputs / "data" / "funding_reports.csv").read_bytes())
    con = duckdb.connect(str(tmp_path / "sv.duckdb"), read_only=True)
    keys = con.execute("SELECT table_name FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY'").fetchall()
    assert {k[0] for k in keys} == set(PUBLISHED_TABLES)


def test_card_and_dictionary_mention_every_table_and_column(fresh_build):
    card = (fresh_build.outputs / "README.md").read_text()
    dictionary = (fresh_build.outputs / "DATA_DICTIONARY.md").read_text()
    for name, table in PUBLISHED_TABLES.items():
        assert f"`{name}`" in card
        assert f"## `{name}`" in dictionary
        section = dictionary.split(f"## `{name}`")[1].split("\n## ")[0]
        for column in table.columns:
            assert f"| `{column.name}` | {column.type} |" in section, (name, column.name)


def test_card_shows_version_coverage_chart_and_licences(fresh_build):
    import json

    card = (fresh_build.outputs / "README.md").read_text()
    descriptor = json.loads((fresh_build.outputs / "datapackage.json").read_text())
    assert f"**Version {descriptor['version']}**" in card
    matrix = card.split("## Funding coverage")[1].split("## Caveats")[0]
    met = next(line for line in matrix.splitlines() if line.startswith("| Metropolitan Police |"))
    assert "| E |" in met and "R!" in met  # exact figures, and a conflict flagged
    humberside = next(line for line in matrix.splitlines() if line.startswith("| Humberside |"))
    # Humberside's VRU began in 2022-23: earlier years are blank (not cells), later gaps are shown as gaps.
    assert humberside.startswith("| Humberside |  |  |") and "| — |" in humberside
    assert "cells have a published figure" in matrix
    assert "![" in card and (fresh_build.outputs / "funding_by_area_and_year.png").read_bytes()[:4] == b"\x89PNG"
    assert "Open Government Licence v3.0" in card and "S01" in card.split("## Licences")[1]


def test_card_shows_the_outcome_comparison_as_descriptive(fresh_build):
    card = (fresh_build.outputs / "README.md").read_text()
    section = card.split("## Homicide rates")[1].split("## Caveats")[0]
    assert "**This is descriptive, not causal.**" in section
    assert "| 2022-04 to 2025-03 |" in section and "City of London" in section
    assert (fresh_build.outputs / "homicide_rate_vru_and_other_areas.png").read_bytes()[:4] == b"\x89PNG"


def test_homicide_chart_alt_text_states_the_figures_it_shows(fresh_build):
    """The alt text says what the chart shows, with the numbers of outcome_comparison: each group's mean
    without flagged values in the first and the last period of the newest homicide edition."""
    import csv
    import io
    import re

    card = (fresh_build.outputs / "README.md").read_text()
    alt = re.search(r"!\[([^\]]+)\]\(homicide_rate_vru_and_other_areas\.png\)", card)[1]
    rows = list(csv.DictReader(io.StringIO((fresh_build.outputs / "data" / "outcome_comparison.csv").read_text())))
    rates = [r for r in rows if r["measure"] == "homicide_rate_per_million" and r["variant"] == "excluding_flagged"]
    newest = max(r["edition"] for r in rates if r["edition"].startswith("ons__homicide_offences_2"))
    rates = [r for r in rates if r["edition"] == newest]
    first, last = min(r["period_first_year"] for r in rates), max(r["period_first_year"] for r in rates)
    for group, words in (("vru_from_2019-20", "VRU from 2019-20"), ("no_vru", "without a VRU")):
        means = {r["period_first_year"]: f"{float(r['mean_value']):.2f}" for r in rates if r["area_group"] == group}
        before, after = means[first], means[last]
        assert f"{words} {before} and {after}" in alt, (group, alt)
    assert "Descriptive" in alt and "chart" not in alt.lower()


def test_the_package_is_citable_as_this_version(fresh_build):
    """CITATION.cff (Citation File Format 1.2.0) beside the card cites the version in datapackage.json, as a
    dataset whose author is the project (no invented people), under the package's own open licences."""
    import json

    import yaml

    cff = yaml.safe_load((fresh_build.outputs / "CITATION.cff").read_text(encoding="utf-8"))
    descriptor = json.loads((fresh_build.outputs / "datapackage.json").read_text())
    assert (cff["cff-version"], cff["type"], cff["title"]) == ("1.2.0", "dataset", descriptor["title"])
    assert cff["version"] == descriptor["version"] and cff["date-released"] == descriptor["created"][:10]
    assert [set(author) for author in cff["authors"]] == [{"name"}]
    assert set(cff["license"]) <= {lic["name"] for lic in descriptor["licenses"]}
    # The schema cffconvert validates with (Citation File Format 1.2.0, copied from cffconvert 2.0.0, whose own
    # jsonschema<4 pin conflicts with frictionless): the same check as `cffconvert --validate`.
    import jsonschema

    schema = json.loads((Path(__file__).parent / "schemas" / "citation-file-format-1.2.0.schema.json").read_text())
    jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker()).validate(cff)
    assert cff["identifiers"][0]["value"] == descriptor["id"]


def test_the_descriptor_and_json_ld_carry_the_same_citation_metadata(fresh_build):
    import json

    descriptor = json.loads((fresh_build.outputs / "datapackage.json").read_text())
    assert descriptor["$schema"] == "https://datapackage.org/profiles/2.0/datapackage.json"
    assert descriptor["id"].startswith("urn:uuid:") and descriptor["contributors"][0]["roles"] == [
        "creator",
        "publisher",
    ]
    assert "homepage" not in descriptor  # no address that would not resolve
    ld = json.loads((fresh_build.outputs / "dataset.jsonld").read_text(encoding="utf-8"))
    assert (ld["@context"], ld["@type"], ld["@id"]) == ("https://schema.org/", "Dataset", descriptor["id"])
    assert (ld["name"], ld["version"]) == (descriptor["title"], descriptor["version"])
    assert ld["datePublished"] == descriptor["created"][:10]
    downloads = {d["contentUrl"]: d for d in ld["distribution"]}
    for resource in descriptor["resources"]:
        download = downloads[resource["path"]]
        assert download["sha256"] == resource["hash"].removeprefix("sha256:")
        assert download["license"] == resource["licenses"][0]["path"]
        assert (fresh_build.outputs / resource["path"]).stat().st_size == resource["bytes"]
    for field in (f for r in descriptor["resources"] for f in r["schema"]["fields"]):
        if "enum" in field.get("constraints", {}):
            assert field["categories"] == field["constraints"]["enum"], field["name"]


def test_the_card_speaks_to_someone_holding_only_the_download(fresh_build):
    card = (fresh_build.outputs / "README.md").read_text(encoding="utf-8")
    for repository_only in ("make ", "do not edit", "Committed", "pipeline/", "schemas/", ".venv"):
        assert repository_only not in card, repository_only
    for download in ("SHA256SUMS", "raw/sources.yaml", "serious_violence.xlsx", "dataset.jsonld"):
        assert download in card, download


def test_the_committed_card_and_dictionary_are_what_docs_renders_from_the_published_tables(fresh_build):
    """The card's every sentence, table and figure, the dictionary, the citation and the JSON-LD, rendered by
    pipeline/publish/report.py and docs.py from this session's build of the committed raw/ (whose tables equal the
    committed ones, test_build.py) for the committed version: byte for byte what outputs/ holds. A change to the
    wording or the numbers the card states fails here, without a rebuild."""
    from dagster_duckdb import DuckDBResource

    from pipeline.publish import report
    from pipeline.release import versions

    committed = PROJECT_DIR / "outputs"
    descriptor = json.loads((committed / "datapackage.json").read_text(encoding="utf-8"))
    release = versions.Release(descriptor["version"], descriptor["created"][:10], [])
    row_counts = {name: count_rows((committed / "data" / f"{name}.csv").read_bytes()) for name in PUBLISHED_TABLES}
    warehouse = DuckDBResource(
        database=str(fresh_build.root / "warehouse.duckdb"), connection_config={"access_mode": "READ_ONLY"}
    )
    changelog = (committed / "CHANGELOG.md").read_text(encoding="utf-8")
    files = report.report_files(warehouse, descriptor, release, row_counts, changelog)
    for name in ("README.md", "DATA_DICTIONARY.md", "CITATION.cff", "dataset.jsonld"):
        assert files[name] == (committed / name).read_bytes(), name
