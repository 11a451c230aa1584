"""Everything Dagster loads: assets by layer, checks, the publish job, its schedule and resources.

Nothing is read at import time. `build_defs(paths)` reads the manifest of `paths.raw` and declares one raw
asset per file it lists in a known layout; Dagster's tools call `defs()` when they load the code location,
and tests call `build_defs` on a copy of the project. A manifest that cannot be read does not stop the code
location from loading: the graph then has only the fixed assets, and the manifest asset fails the run with
the manifest's own message (the file and the entry), never a traceback.
"""

import hashlib
import inspect

import dagster as dg

from pipeline.defs.core import SQL_DIR, core_assets
from pipeline.defs.out import OUT_ASSETS
from pipeline.defs.package import datapackage
from pipeline.defs.raw import raw_assets
from pipeline.defs.steps import compute_function
from pipeline.manifest import Manifest, ManifestError
from pipeline.plausibility import CHECKS_DIR
from pipeline.resources import ProjectPaths, build_resources
from pipeline.schedules import failed_run_webhook, publish_job, raw_files_changed, weekly_publish
from schemas import PUBLISHED_TABLES, RAW_TABLES, Table
from schemas.plausibility import RULES
from schemas.raw import layout_tables


def readable_manifest(paths: ProjectPaths) -> Manifest | None:
    try:
        return paths.manifest()
    except ManifestError:
        return None


def code_version(asset: dg.AssetsDefinition, name: str, tables: dict[str, Table]) -> str:
    """A digest of what computes one asset: its step's function, the SQL named after it, the SQL of the
    plausibility rules checked on it, and the table it declares. It changes when one of those does, so the UI
    can say which assets a code change made stale. (Helpers the function calls in other modules are not
    followed.)"""
    parts = [inspect.getsource(compute_function(asset, name))]
    sql = [SQL_DIR / f"{name}.sql", *(CHECKS_DIR / f"{r.sql_name}.sql" for r in RULES if r.asset == name)]
    parts += [path.read_text(encoding="utf-8") for path in sql if path.is_file()]
    parts.append(repr(tables.get(name)))
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:12]


def assets_for(paths: ProjectPaths) -> list[dg.AssetsDefinition]:
    """Every asset of the pipeline for the raw/ folder of `paths`, each with a code version from its code."""
    manifest = readable_manifest(paths)
    assets = [*raw_assets(manifest), *core_assets(manifest), *OUT_ASSETS, datapackage]
    tables = {
        **{t.name: t for t in RAW_TABLES.values()},
        **{t.name: t for t in layout_tables(manifest.files.values() if manifest else [])},
        **{f"out_{name}": t for name, t in PUBLISHED_TABLES.items()},
    }
    versioned = []
    for asset in assets:

        def with_version(spec: dg.AssetSpec, asset: dg.AssetsDefinition = asset) -> dg.AssetSpec:
            return spec.replace_attributes(code_version=code_version(asset, spec.key.to_user_string(), tables))

        versioned.append(asset.map_asset_specs(with_version))
    return versioned


def build_defs(paths: ProjectPaths | None = None, **resource_options) -> dg.Definitions:
    paths = paths or ProjectPaths()
    return dg.Definitions(
        assets=assets_for(paths),
        jobs=[publish_job],
        schedules=[weekly_publish],
        sensors=[raw_files_changed, failed_run_webhook],
        resources=build_resources(paths, **resource_options),
        # In-process: steps share one process, so only one ever holds the DuckDB file, and a run is
        # ~3.5x faster on a 2-core machine than with the multiprocess executor, which re-imports per step.
        executor=dg.in_process_executor,
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_defs()
