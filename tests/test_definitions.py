"""The Definitions load with every asset, check, job and schedule the pipeline promises."""

import dagster as dg
import pytest

from pipeline.definitions import defs as load_defs
from pipeline.defs.project import project_defs
from pipeline.defs.resources import ProjectPaths
from schemas import PUBLISHED_TABLES, RAW_TABLES
from schemas.plausibility import RULES
from schemas.raw import layout_tables

# Loaded as `dg` and the UI load the code location: everything in pipeline/defs/.
defs = load_defs()
LAYOUT_TABLES = layout_tables(ProjectPaths().manifest().files.values())


def asset_keys() -> set[str]:
    return {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}


def check_keys() -> set[tuple[str, str]]:
    return {(k.asset_key.to_user_string(), k.name) for k in defs.resolve_asset_graph().asset_check_keys}


def test_every_layer_has_its_assets():
    expected = (
        {"raw_manifest__sources", "datapackage"}
        | set(RAW_TABLES)
        | {t.name for t in LAYOUT_TABLES}
        | {f"core_{t}" for t in PUBLISHED_TABLES}
        | {f"out_{t}" for t in PUBLISHED_TABLES}
        | {"fetched_candidate"}
    )
    assert asset_keys() == expected


def test_assets_are_grouped_by_layer():
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        name = key.to_user_string()
        group = graph.get(key).group_name
        expected = {"datapackage": "package", "fetched_candidate": "acquisition"}.get(name, name.split("_", 1)[0])
        assert group == expected, name


def test_schema_and_foreign_key_checks_are_blocking():
    checks = check_keys()
    for name in [*RAW_TABLES, *(t.name for t in LAYOUT_TABLES)]:
        assert (name, "matches_schema") in checks
    for name, table in PUBLISHED_TABLES.items():
        assert (f"out_{name}", "matches_schema") in checks
        assert ((f"out_{name}", "foreign_keys_resolve") in checks) == bool(table.foreign_keys)
    assert ("core_funding_reports", "figures_read") in checks
    assert ("core_national_totals", "totals_reconcile") in checks
    assert ("datapackage", "frictionless_valid") in checks
    graph = defs.resolve_asset_graph()
    blocking = {
        (k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys if graph.get_check_spec(k).blocking
    }
    warnings = {(rule.asset, rule.name) for rule in RULES if rule.severity == "warn"}
    # The package's own checks stop the publish from inside its step (nothing is downstream to block).
    assert ("datapackage", "no_published_data_lost") in checks
    assert blocking == checks - warnings - {
        ("datapackage", "frictionless_valid"),
        ("datapackage", "no_published_data_lost"),
        ("core_national_totals", "totals_reconcile"),
        ("fetched_candidate", "no_candidate_awaits_review"),  # a warning: a candidate waits for a person
    }


def test_every_plausibility_rule_is_an_asset_check_with_its_sql():
    """Each declared rule runs as a check on the asset that makes its data; errors block, warnings do not."""
    from pipeline.transform.plausibility import CHECKS_DIR

    checks = check_keys()
    for rule in RULES:
        assert (rule.asset, rule.name) in checks, rule.name
        assert (CHECKS_DIR / f"{rule.sql_name}.sql").is_file(), rule.name
    assert {r.severity for r in RULES} == {"warn", "error"}


def test_a_tick_of_the_weekly_schedule_runs_the_job_that_publishes_every_asset():
    """Dagster evaluates a tick (a Monday 06:00 in London, as documented) into one run request for the publish job,
    and that job materialises every asset and runs every check, the package last."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    schedule = defs.resolve_schedule_def("weekly_publish")
    monday = dt.datetime(2026, 11, 30, 6, 0, tzinfo=ZoneInfo("Europe/London"))
    with dg.build_schedule_context(scheduled_execution_time=monday) as context:
        ticked = schedule.evaluate_tick(context)
    assert [request.job_name or schedule.job_name for request in ticked.run_requests or []] == ["publish_package"]
    from pipeline.defs.automation import publish_job

    assert publish_job.name == "publish_package"
    selected = publish_job.selection.resolve(defs.resolve_asset_graph())
    # Every asset but the fetch: a publish opens no network connection.
    assert {k.to_user_string() for k in selected} == asset_keys() - {"fetched_candidate"}
    assert dg.AssetKey("datapackage") in selected
    assert isinstance(defs.executor, dg.ExecutorDefinition) and defs.executor.name == "in_process"


def test_a_tick_of_the_weekly_fetch_runs_only_the_fetch():
    import datetime as dt
    from zoneinfo import ZoneInfo

    schedule = defs.resolve_schedule_def("weekly_fetch")
    monday = dt.datetime(2026, 11, 30, 5, 0, tzinfo=ZoneInfo("Europe/London"))
    with dg.build_schedule_context(scheduled_execution_time=monday) as context:
        ticked = schedule.evaluate_tick(context)
    assert [request.job_name or schedule.job_name for request in ticked.run_requests or []] == ["fetch_sources"]
    selected = defs.resolve_job_def("fetch_sources").asset_layer.selected_asset_keys
    assert {k.to_user_string() for k in selected} == {"fetched_candidate"}


def test_every_asset_has_a_description_and_owner():
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.description and len(node.description) > 40, key
        assert node.owners == ["team:data"], key


def test_column_lineage_comes_from_the_declarations():
    from pipeline.defs.out import column_lineage, lineage_markdown

    table = PUBLISHED_TABLES["funding_reports"]
    lineage = column_lineage(table)
    assert set(lineage.deps_by_column) == set(table.column_names)
    amount = {(d.asset_key.to_user_string(), d.column_name) for d in lineage.deps_by_column["amount_gbp"]}
    assert amount == {("core_funding_reports", "amount_gbp"), ("core_funding_reports", "amount_as_published")}
    markdown = lineage_markdown(lineage)
    assert all(f"| `{name}` |" in markdown for name in table.column_names)


def test_code_versions_follow_the_code_that_computes_each_asset(tmp_path, monkeypatch):
    """Every asset's code version is a digest of its own function, SQL and declaration: editing one SQL file
    changes the version of the asset it computes and of no other."""
    import shutil

    from pipeline.defs import project
    from pipeline.defs.core import SQL_DIR

    def versions() -> dict[str, str]:
        graph = project_defs().resolve_asset_graph()
        return {key.to_user_string(): graph.get(key).code_version for key in graph.get_all_asset_keys()}

    before = versions()
    assert all(len(v) == 12 for v in before.values()) and len(set(before.values())) == len(before)
    shutil.copytree(SQL_DIR, tmp_path / "sql")
    query = tmp_path / "sql" / "core_outcome_comparison.sql"
    query.write_text(query.read_text() + "\n-- a comment is a change of code too\n")
    monkeypatch.setattr(project, "SQL_DIR", tmp_path / "sql")
    after = versions()
    assert {name for name in before if before[name] != after[name]} == {"core_outcome_comparison"}


def test_sql_assets_depend_on_exactly_what_their_sql_reads():
    from pipeline.defs.core import sql_deps

    assert sql_deps("core_outcome_comparison") == [
        "core_area_outcomes",
        "core_area_populations",
        "core_police_force_areas",
        "core_quality_flags",
        "core_source_note_values",
        "core_source_notes",
        "core_violence_reduction_units",
    ]
    # A macro or helper table another asset makes: core.cited_source and raw.manifest_sources.
    assert "core_sources" in sql_deps("core_violence_reduction_units")
    assert sql_deps("core_sources") == ["raw_manifest__sources", "raw_project__source_kinds"]


def test_no_private_dagster_module_is_imported():
    """Only Dagster's public API: a module whose path has a part starting with `_` (dagster._core, ...) is
    private and may change in any release. (ruff's SLF rule refuses private attributes in `make lint`.)"""
    import ast

    from pipeline.defs.resources import PROJECT_DIR

    private = []
    for path in sorted(PROJECT_DIR.glob("*/**/*.py")):
        # Installed environments, not the project's code: .venv, and .state/service-env (`make serve` as root).
        if {".venv", ".state"} & set(path.relative_to(PROJECT_DIR).parts):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            names += [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            for name in names:
                root, *parts = name.split(".")
                if root.startswith("dagster") and any(p.startswith("_") for p in parts):
                    private.append(f"{path.relative_to(PROJECT_DIR)}: {name}")
    assert private == []


@pytest.mark.slow
def test_dg_check_defs_passes():
    """`dg check defs` loads pipeline/defs/ as the UI and `dg launch` do, and validates every definition."""
    import subprocess

    from pipeline.defs.resources import PROJECT_DIR
    from pipeline.operations.build import cli_env

    dg_cli = PROJECT_DIR / ".venv" / "bin" / "dg"
    result = subprocess.run([dg_cli, "check", "defs"], cwd=PROJECT_DIR, env=cli_env(), capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All definitions loaded successfully" in result.stdout + result.stderr
