"""Each vocabulary has one home, and every use is generated from it: changing the home changes every use.

The SQL is run over the published tables (outputs/data/), so what is compared is what the package holds. Prose
is checked in a copy of the project's code whose vocabulary was edited, so nothing here changes the modules the
other tests import.
"""

import dataclasses
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from pipeline.defs.core.outcomes import rules_frame
from pipeline.defs.resources import PROJECT_DIR
from pipeline.sources.manifest import load_manifest
from pipeline.transform import funding, parsing, plausibility
from pipeline.transform.sqltext import sql_text
from pipeline.transform.warehouse import SQL_DIR
from schemas import plausibility as rules
from schemas import published, raw, vocabulary

DATA = PROJECT_DIR / "outputs" / "data"
RULE = {r.name: r for r in rules.RULES}


def warehouse(*tables: str) -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse whose core.<table> are the published tables."""
    con = duckdb.connect()
    con.execute("CREATE SCHEMA core")
    for table in tables:
        con.execute(f"CREATE TABLE core.{table} AS SELECT * FROM read_csv('{DATA / table}.csv')")
    return con


def in_a_copy(tmp_path: Path, edits: dict[str, tuple[str, str] | list[tuple[str, str]]], code: str) -> dict:
    """Run `code` (which prints JSON) in a copy of the project's code with each file's text edited (old, new),
    or with several such edits."""
    for folder in ("schemas", "pipeline"):
        shutil.copytree(PROJECT_DIR / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(PROJECT_DIR / "raw" / "mappings", tmp_path / "raw" / "mappings")
    for name, pairs in edits.items():
        path = tmp_path / name
        text = path.read_text(encoding="utf-8")
        for old, new in pairs if isinstance(pairs, list) else [pairs]:
            assert old in text, f"{name} no longer says {old!r}"
            text = text.replace(old, new)
        path.write_text(text, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env={"PYTHONPATH": str(tmp_path)}, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# 1. The area_year panel: its columns per stream and per measure, in the declaration and in the SQL.


def panel(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    con.execute(sql_text(SQL_DIR / "core_area_year.sql"))
    return con.execute("SELECT * FROM core.area_year").df()


def test_the_panel_sql_makes_the_declared_columns_and_the_published_rows():
    con = warehouse(
        "police_force_areas", "funding_coverage", "funding_allocations", "area_outcomes", "area_populations"
    )
    made = panel(con)
    assert list(made.columns) == published.AREA_YEAR.column_names
    published_panel = pd.read_csv(DATA / "area_year.csv")
    assert len(made) == len(published_panel)
    assert made["vru_gbp"].notna().sum() == published_panel["vru_gbp"].notna().sum() > 0


def test_a_stream_or_measure_added_to_the_vocabulary_is_a_column_of_the_declaration_and_of_the_sql(monkeypatch):
    monkeypatch.setattr(published, "STREAMS", (*published.STREAMS, "new_stream"))
    monkeypatch.setattr(published, "PANEL_MEASURES", (*published.PANEL_MEASURES, "population"))
    declared = [c.name for c in published.panel_columns()]
    assert {"new_stream_gbp", "new_stream_known", "population", "population_edition"} <= set(declared)
    con = warehouse(
        "police_force_areas", "funding_coverage", "funding_allocations", "area_outcomes", "area_populations"
    )
    made = panel(con)
    assert list(made.columns) == ["area_code", "financial_year", *declared]
    # Populations are ONS figures for mid-years, never a financial year: the new measure's column is all blank.
    assert made["population"].isna().all() and made["new_stream_gbp"].isna().all()


# 2. The years each funding stream ran.


def test_stream_years_decide_the_expected_cells():
    areas = ["E23000001", "E23000013"]
    cells = funding.expected_cells({"E23000001": "2019-20"}, areas)
    for stream, (first, last) in vocabulary.STREAM_YEARS.items():
        years = sorted(cells.loc[cells.stream == stream, "financial_year"].unique())
        assert years[0] == vocabulary.financial_year(first)
        assert years[-1] == vocabulary.financial_year(last or vocabulary.FUNDING_LAST_YEAR)
    assert set(cells.loc[cells.stream.isin(vocabulary.VRU_AREA_STREAMS), "area_code"]) == {"E23000001"}


def test_changing_a_streams_years_changes_the_cells_the_declaration_and_the_card(tmp_path, monkeypatch):
    monkeypatch.setitem(vocabulary.STREAM_YEARS, "hotspot_fund", (2025, None))
    cells = funding.expected_cells({}, ["E23000001"])
    assert sorted(cells.loc[cells.stream == "hotspot_fund", "financial_year"]) == ["2025-26"]

    code = """
import json
from pipeline.publish import docs
from schemas import published
descriptor = json.load(open("outputs/datapackage.json"))
card = docs.dataset_card(descriptor, {n: 0 for n in published.PUBLISHED_TABLES}, *[""] * 5, ("", ""), "2026-01-01", "",
                         dict.fromkeys(docs.CARD_FACTS, ""), "")
print(json.dumps({"stream": published.STREAM.description, "coverage": published.FUNDING_COVERAGE.description,
                  "card": card}))
"""
    shutil.copytree(PROJECT_DIR / "outputs", tmp_path / "outputs", ignore=shutil.ignore_patterns("data", "parquet"))
    edit = {"schemas/vocabulary.py": ('"hotspot_fund": 2024', '"hotspot_fund": 2025')}
    changed = in_a_copy(tmp_path, edit, code)
    for text in changed.values():
        assert "2025-26" in text and "2024-25" not in text
    # As published (the copy's edit undone), the same prose names 2024-25.
    assert "from 2024-25: Hotspot Response" in published.STREAM.description
    assert "from 2024-25 the Home Office" in (PROJECT_DIR / "outputs" / "README.md").read_text(encoding="utf-8")
    template = (PROJECT_DIR / "pipeline" / "publish" / "templates" / "dataset_card.md").read_text(encoding="utf-8")
    assert "$hotspot_from" in template and "from 2024-25" not in template


# 3. Kinds of source and their authority rank: raw/mappings/source_kinds.csv.


def test_the_source_kinds_the_pipeline_loads_are_the_published_vocabulary():
    loaded = PROJECT_DIR / "raw" / load_manifest(PROJECT_DIR / "raw").file("project__source_kinds").path
    assert loaded.resolve() == vocabulary.SOURCE_KINDS_CSV
    kinds = pd.read_csv(loaded)
    sources = published.SOURCES
    assert sources.column("kind").enum == tuple(kinds["kind"])
    assert sources.column("authority_rank").maximum == kinds["authority_rank"].max()
    published_sources = pd.read_csv(DATA / "sources.csv")
    assert (
        dict(zip(published_sources.kind, published_sources.authority_rank, strict=True)).items()
        <= dict(zip(kinds.kind, kinds.authority_rank, strict=True)).items()
    )
    # The wording of the ranks is prose beside the mapping: it must name every rank the mapping uses.
    ranks = {int(n) for n in re.findall(r"\b(\d) ", sources.column("authority_rank").description)}
    assert ranks == set(kinds["authority_rank"])


def test_a_kind_added_to_the_mapping_is_in_the_published_schema(tmp_path):
    code = """
import json
from schemas import published
print(json.dumps([published.SOURCES.column("kind").enum, published.SOURCES.column("authority_rank").maximum]))
"""
    edit = {"raw/mappings/source_kinds.csv": ("compilation,3,", "blog,5,A blog\ncompilation,3,")}
    kinds, maximum = in_a_copy(tmp_path, edit, code)
    assert kinds == [*published.SOURCE_KINDS[:-1], "blog", "compilation"] and maximum == 5


# 4. Groups of areas in the outcome comparisons.


AREA_GROUP_USES = """
import json
from pipeline.publish import chart, docs
from pipeline.transform.sqltext import sql_text
from pipeline.transform.warehouse import SQL_DIR
from schemas import published
print(json.dumps({
    "enum": published.OUTCOME_CHANGE_BY_GROUP.column("area_group").enum,
    "description": published.OUTCOME_CHANGE_BY_GROUP.column("area_group").description,
    "chart": chart.GROUP_NAMES, "styles": list(chart.GROUP_STYLE), "words": docs.IN_WORDS,
    "sql": [sql_text(SQL_DIR / f"core_outcome_{t}.sql") for t in ("comparison", "change_by_group")],
}))
"""


def test_the_area_groups_published_are_the_vocabulary():
    for table in ("outcome_comparison", "outcome_change_by_group"):
        assert set(pd.read_csv(DATA / f"{table}.csv").area_group) == set(vocabulary.AREA_GROUPS)


def test_renaming_an_area_group_renames_it_in_the_schema_sql_charts_and_card(tmp_path):
    # The group's name and its words, each edited once in the vocabulary (one copy of the code: a copy costs seconds).
    edit = {
        "schemas/vocabulary.py": [
            ('return "no_vru" if', 'return "without_vru" if'),
            ('"areas without a VRU"', '"areas that have no VRU"'),
        ]
    }
    uses = in_a_copy(tmp_path, edit, AREA_GROUP_USES)
    assert uses["enum"][-1] == "without_vru" and uses["description"].endswith("or without_vru.")
    assert "without_vru" in uses["chart"] and "without_vru" in uses["words"] and "without_vru" in uses["styles"]
    assert all("THEN 'without_vru'" in sql and "no_vru" not in sql for sql in uses["sql"])
    assert uses["words"]["without_vru"] == "areas that have no VRU"


# 5. An amount as printed.

EDGE_CASES = ["£1234", "£1,234", "£12,345.6", "£1,2345", "£ 100", "£1.5m", "-£100", "£0.50", "over £100", "100", "£"]


def printed_amounts() -> list[str]:
    """Every cell of the raw funding files that holds a pound sign, and a few edge cases."""
    cells = set(EDGE_CASES)
    for path in sorted((PROJECT_DIR / "raw" / "funding").glob("*.csv")):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        cells |= {v for column in frame for v in frame[column] if "£" in v and len(v) < 40}
    return sorted(cells)


def test_the_raw_schema_and_the_sql_agree_on_every_printed_amount():
    corpus = printed_amounts()
    assert len(corpus) > 100
    columns = [c for t in raw.RAW_TABLES.values() for c in t.columns if c.pattern == vocabulary.GBP_AS_PRINTED]
    assert columns and parsing.PLAIN_POUNDS == vocabulary.GBP_AS_PRINTED
    # As the raw schema checks a cell (pandera, as the raw assets validate), and as funding.py's SQL reads one.
    (matches,) = columns[0].pandera_checks()
    raw_says = matches(pd.Series(corpus, dtype="string")).check_output.tolist()
    sql_says = [
        m
        for (m,) in duckdb.execute(
            "SELECT regexp_full_match(t, $1) FROM unnest($2) AS u(t)", [parsing.PLAIN_POUNDS, corpus]
        ).fetchall()
    ]
    assert raw_says == sql_says
    assert sum(raw_says) > 50 and not all(raw_says)
    said = dict(zip(corpus, raw_says, strict=True))
    assert said["£1,234"] and not said["£1234"] and not said["£1,2345"] and not said["-£100"]


# 6. The outlier method: the robust_* macros.


def test_no_rule_writes_the_outlier_method_itself():
    for path in plausibility.CHECKS_DIR.glob("*.sql"):
        text = path.read_text(encoding="utf-8")
        assert "1.4826" not in text and "median(abs" not in text.replace(" ", ""), path.name


def outlier_flags(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return {name: len(plausibility.flags(con, RULE[name])) for name in ("peer_outlier", "change_outlier")}


def test_changing_the_outlier_method_in_its_home_changes_both_rules(monkeypatch):
    con = warehouse("area_outcomes", "outcome_change_by_area")
    flags = pd.read_csv(DATA / "quality_flags.csv")
    as_published = flags.check_name.value_counts()[["peer_outlier", "change_outlier"]].to_dict()
    assert outlier_flags(con) == as_published
    # A wider robust deviation flags fewer values, in both rules at once.
    monkeypatch.setattr(rules, "ROBUST_SCALE", 3.0)
    wider = outlier_flags(con)
    assert all(wider[name] < as_published[name] for name in wider)


def test_the_outlier_explanation_names_the_method_of_the_sql(tmp_path):
    code = """
import json
from pipeline.transform import plausibility
from pipeline.transform.sqltext import sql_text
from schemas.plausibility import RULES
print(json.dumps([sql_text(plausibility.MACROS), [r.explanation for r in RULES if r.name == "peer_outlier"][0]]))
"""
    macros, explanation = in_a_copy(
        tmp_path, {"schemas/plausibility.py": ("ROBUST_SCALE = 1.4826", "ROBUST_SCALE = 3.0")}, code
    )
    assert "AS 3.0 * median(abs(x - centre))" in macros and "x 3.0)" in explanation
    assert "1.4826" not in macros + explanation


# 7. What the package does with a flagged value: the rule's declared Action.


def change_by_group(con: duckdb.DuckDBPyConnection, rule_list) -> pd.DataFrame:
    con.register("rules", rules_frame(rule_list))
    con.execute("CREATE OR REPLACE TABLE core.plausibility_rules AS SELECT * FROM rules")
    con.execute(sql_text(SQL_DIR / "core_outcome_change_by_group.sql"))
    return con.execute(
        "SELECT measure, before_edition, after_edition, area_group, variant, n_areas, n_areas_left_out "
        "FROM core.outcome_change_by_group ORDER BY ALL"
    ).df()


def test_the_declared_action_decides_what_the_comparison_leaves_out_and_what_the_flag_says():
    con = warehouse(
        "quality_flags",
        "outcome_change_by_area",
        "police_force_areas",
        "violence_reduction_units",
        "source_note_values",
        "area_populations",
    )
    as_declared = change_by_group(con, rules.RULES)
    as_published = pd.read_csv(DATA / "outcome_change_by_group.csv")
    key = ["measure", "before_edition", "after_edition", "area_group", "variant"]
    merged = as_declared.merge(as_published, on=key, suffixes=("", "_published"))
    assert len(merged) == len(as_published)
    assert (merged.n_areas_left_out == merged.n_areas_left_out_published).all()

    kept = tuple(
        dataclasses.replace(r, action=rules.Action.KEPT) if r.name == "change_outlier" else r for r in rules.RULES
    )
    changed = change_by_group(con, kept)
    excluding = as_declared.variant == "excluding_flagged"
    assert (changed.n_areas_left_out[excluding] <= as_declared.n_areas_left_out[excluding]).all()
    assert changed.n_areas_left_out[excluding].sum() < as_declared.n_areas_left_out[excluding].sum()
    # The published wording comes from the action.
    flags = pd.read_csv(DATA / "quality_flags.csv")
    for check, action in zip(flags.check_name, flags.action, strict=True):
        assert action == RULE[check].action_text
    assert kept[[r.name for r in kept].index("change_outlier")].action_text.startswith("published as the source")


def test_only_rules_that_stop_the_build_are_errors():
    with pytest.raises(ValueError, match="if and only if"):
        dataclasses.replace(RULE["peer_outlier"], action=rules.Action.STOPS_BUILD)
