"""The project's assets by layer, with their checks, resources and executor, for the raw/ folder in hand.

`dg` loads this module with the rest of pipeline/defs/ (the job, schedule and sensors are in automation.py).
Nothing is read at import time. `project_defs(paths)` reads the manifest of `paths.raw` and declares one raw
asset per file it lists in a known layout; Dagster loads it through pipeline/definitions.py, and tests call
`assets_for` or `project_defs` on a copy of the project. A manifest that cannot be read does not stop the code
location from loading: the graph then has only the fixed assets, and the manifest asset fails the run with
the manifest's own message (the file and the entry), never a traceback.
"""

import dataclasses
import hashlib
import inspect

import dagster as dg

from pipeline.defs.core import SQL_DIR, core_tables
from pipeline.defs.out import out_step
from pipeline.defs.package import datapackage
from pipeline.defs.raw import raw_steps
from pipeline.defs.resources import ProjectPaths, build_resources
from pipeline.defs.steps import Step, layer
from pipeline.sources.manifest import Manifest, ManifestError
from pipeline.transform.plausibility import CHECKS_DIR, MACROS
from pipeline.transform.sqltext import sql_text
from schemas import PUBLISHED_TABLES, RAW_TABLES, Table
from schemas.plausibility import RULES
from schemas.raw import layout_tables


def readable_manifest(paths: ProjectPaths) -> Manifest | None:
    try:
        return paths.manifest()
    except ManifestError:
        return None


def code_version(step: Step, tables: dict[str, Table]) -> str:
    """A digest of what computes one asset: its function, the SQL named after it (as it runs, generated parts
    filled in), the SQL of the plausibility rules checked on it and the macros they share, and the table it
    declares. It changes when one of those does, so the UI can say which assets a code change made stale.
    (Helpers the function calls in other modules are not followed.)"""
    name = step.key.to_user_string()
    parts = [inspect.getsource(step.compute)]
    checks = [CHECKS_DIR / f"{r.sql_name}.sql" for r in RULES if r.asset == name]
    sql = [SQL_DIR / f"{name}.sql", *checks, *([MACROS] if checks else [])]
    parts += [sql_text(path) for path in sql if path.is_file()]
    parts.append(repr(tables.get(name)))
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:12]


def assets_for(paths: ProjectPaths) -> list[dg.AssetsDefinition]:
    """Every asset of the pipeline for the raw/ folder of `paths`, one step per layer (pipeline/defs/steps.py),
    each asset with a code version from its code."""
    manifest = readable_manifest(paths)
    tables = {
        **{t.name: t for t in RAW_TABLES.values()},
        **{t.name: t for t in layout_tables(manifest.files.values() if manifest else [])},
        **{f"out_{name}": t for name, t in PUBLISHED_TABLES.items()},
    }

    def versioned(steps: list[Step]) -> list[Step]:
        return [
            dataclasses.replace(s, spec=s.spec.replace_attributes(code_version=code_version(s, tables))) for s in steps
        ]

    return [
        layer("raw_files", versioned(raw_steps(manifest))),
        layer("core_tables", versioned(core_tables(manifest))),
        layer("out_tables", versioned([out_step(table) for table in PUBLISHED_TABLES.values()])),
        layer("datapackage", versioned([datapackage])),
    ]


def project_defs(paths: ProjectPaths | None = None, **resource_options) -> dg.Definitions:
    """The assets, resources and executor (what `dg` loads beside automation.py's job, schedule and sensors)."""
    paths = paths or ProjectPaths()
    return dg.Definitions(
        assets=assets_for(paths),
        resources=build_resources(paths, **resource_options),
        # In-process: steps share one process, so only one ever holds the DuckDB file, and a run is
        # ~3.5x faster on a 2-core machine than with the multiprocess executor, which re-imports per step.
        executor=dg.in_process_executor,
    )


@dg.definitions
def project() -> dg.Definitions:
    return project_defs()
