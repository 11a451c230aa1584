"""Where the pipeline reads and writes: raw/, outputs/ and the DuckDB warehouse."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipeline.manifest import Manifest, load_manifest

PROJECT_DIR = Path(__file__).resolve().parents[1]


class ProjectPaths(dg.ConfigurableResource):
    """Folders of one build. Tests point these at temporary copies; the real build uses the project's."""

    # SV_RAW_DIR / SV_OUTPUTS_DIR let a test (or a deployment) run the CLI or UI on other folders.
    raw_dir: str = os.environ.get("SV_RAW_DIR", str(PROJECT_DIR / "raw"))
    outputs_dir: str = os.environ.get("SV_OUTPUTS_DIR", str(PROJECT_DIR / "outputs"))

    @property
    def raw(self) -> Path:
        return Path(self.raw_dir)

    @property
    def outputs(self) -> Path:
        return Path(self.outputs_dir)

    def manifest(self) -> Manifest:
        return load_manifest(self.raw)


class ReleaseSettings(dg.ConfigurableResource):
    """The date a new version is released under; blank means the day of the run (UTC)."""

    date: str = ""

    def today(self) -> dt.date:
        return dt.date.fromisoformat(self.date) if self.date else dt.datetime.now(dt.UTC).date()


def default_warehouse() -> str:
    """The warehouse file: local state, rebuilt by every run, never published or committed."""
    path = Path(os.environ.get("SV_WAREHOUSE", PROJECT_DIR / ".state" / "warehouse.duckdb"))
    path.parent.mkdir(parents=True, exist_ok=True)
    return str(path)


def build_resources(paths: ProjectPaths | None = None, warehouse: str | None = None, release_date: str = "") -> dict:
    return {
        "paths": paths or ProjectPaths(),
        "release_settings": ReleaseSettings(date=release_date),
        # DuckDBResource rather than the DuckDB pandas IO manager: the IO manager deletes then inserts
        # by column position without a transaction, which empties or silently reorders a table when
        # its columns change (measured, see STACK_NOTES.md). Every table here is written with
        # CREATE OR REPLACE TABLE ... AS SELECT instead.
        "duckdb": DuckDBResource(database=warehouse or default_warehouse()),
    }
