"""Where the pipeline reads and writes: raw/, outputs/ and the DuckDB warehouse."""

from __future__ import annotations

import datetime as dt
import os
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import PrivateAttr

from pipeline.operations import locations
from pipeline.operations.locations import (  # noqa: F401 (imported from here too)
    PROJECT_DIR,
    default_warehouse,
    exclusive_lock,
)
from pipeline.sources.manifest import MANIFEST_NAME, Manifest, load_manifest

# The last manifest read and the file's (folder, mtime, size) when it was read.
_MANIFESTS: dict = {}


# Fields that name a path or URL: the deployment sets them (its environment, or code), never a launch's run config.
# Run config could otherwise point a run at any folder its user may write, and publishing replaces that folder.
LOCKED_FIELDS = ("raw_dir", "outputs_dir", "release_dir", "database", "url")


class RunConfigOverride(ValueError):
    """A launch tried to set a path or URL through run config."""


def refuse_run_config_paths(context: dg.InitResourceContext) -> None:
    """Fails the run, before anything is read or written, when its run config sets a path or URL of a resource."""
    run = getattr(context, "dagster_run", None)
    resources = (run.run_config or {}).get("resources") if run is not None else None
    for key, entry in (resources if isinstance(resources, dict) else {}).items():
        config = entry.get("config") if isinstance(entry, dict) else None
        named = sorted(set(config) & set(LOCKED_FIELDS)) if isinstance(config, dict) else []
        if named:
            raise RunConfigOverride(
                f"run config may not set {', '.join(f'resources.{key}.config.{f}' for f in named)}: paths and URLs "
                "come from the deployment (SV_RAW_DIR, SV_OUTPUTS_DIR, SV_RELEASE_DIR, SV_WAREHOUSE, SV_PUBLISH_URL)"
            )


class NoDurablePublish(RuntimeError):
    """A run on Kubernetes with nowhere durable to publish to."""


def refuse_scratch_publish_on_kubernetes(publish_url: str) -> None:
    """Fails the run, before anything is built, when it runs in a run pod of Dagster's K8sRunLauncher and
    SV_PUBLISH_URL is not set: outputs/ there is the pod's scratch volume, deleted with the pod, so the run would
    succeed and publish nothing that lasts. The launcher sets DAGSTER_RUN_JOB_NAME in the run worker's container
    (dagster_k8s/launcher.py), and Kubernetes sets KUBERNETES_SERVICE_HOST in every pod's."""
    in_run_pod = os.environ.get("KUBERNETES_SERVICE_HOST") and os.environ.get("DAGSTER_RUN_JOB_NAME")
    if in_run_pod and not publish_url:
        raise NoDurablePublish(
            "this run is in a Kubernetes run pod, whose outputs/ is deleted with the pod: set SV_PUBLISH_URL (in the "
            "sv-settings secret, e.g. s3://bucket/serious-violence) to publish somewhere durable; nothing was built"
        )


class ProjectPaths(dg.ConfigurableResource):
    """Folders of one build. Tests point these at temporary copies; the real build uses the project's."""

    # SV_RAW_DIR / SV_OUTPUTS_DIR let a test (or a deployment) run the CLI or UI on other folders.
    raw_dir: str = str(locations.raw_dir())
    outputs_dir: str = str(locations.outputs_dir())
    # What a release must keep, and what it is allowed to lose (pipeline/release/gate.py).
    release_dir: str = str(locations.release_dir())

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        refuse_run_config_paths(context)

    @property
    def raw(self) -> Path:
        return Path(self.raw_dir)

    @property
    def outputs(self) -> Path:
        return Path(self.outputs_dir)

    @property
    def release(self) -> Path:
        return Path(self.release_dir)

    def manifest(self) -> Manifest:
        """The manifest, read once per version of the file (every raw asset of a run asks for it)."""
        path = self.raw / MANIFEST_NAME
        stat = path.stat() if path.is_file() else None
        stamp = (str(self.raw), stat.st_mtime_ns if stat else 0, stat.st_size if stat else 0)
        if _MANIFESTS.get("stamp") != stamp:
            _MANIFESTS.update(stamp=stamp, manifest=load_manifest(self.raw))
        return _MANIFESTS["manifest"]


class PackageMirror(dg.ConfigurableResource):
    """Object storage the published package is copied to after outputs/ (pipeline/release/mirror.py); blank: none."""

    url: str = locations.publish_url()

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        refuse_run_config_paths(context)
        refuse_scratch_publish_on_kubernetes(self.url)


class ReleaseSettings(dg.ConfigurableResource):
    """The date a new version is released under; blank means the day of the run (UTC)."""

    date: str = ""

    def today(self) -> dt.date:
        return dt.date.fromisoformat(self.date) if self.date else dt.datetime.now(dt.UTC).date()


class Warehouse(DuckDBResource):
    """The DuckDB warehouse, held by one run at a time, through one connection for the whole run.

    DuckDB allows one writing process per file. Two runs started together (a schedule and a person,
    or two people) would otherwise collide on its lock; the DuckDB resource's own retries wait up to
    ~100 s in silence and then fail. Instead each run takes an exclusive file lock beside the warehouse
    from its first use of the warehouse to its end (resources live for the run under the in-process executor):
    the second run logs that it is waiting and proceeds when the first finishes. The run queue in dagster.yaml does
    the same for runs the daemon launches; this lock also covers the CLI and tests.

    DuckDBResource.get_connection opens and closes the database file on every call, and closing it writes a
    checkpoint: ~17 ms each, and a publish asks for a connection ~380 times (measured: 4.7 s of a 33 s profiled
    run). Since the run holds the file anyway, the database is opened once, at the run's first `get_connection`,
    and every call is a cursor on it (a connection of its own to the same database, ~0.3 ms); it is checkpointed
    and closed once, when the run ends. Opened at first use, not when the resource starts: Dagster starts the
    resources again after a CLI run, for the run's result, and uses none of them. Outside a run (a test calling
    an asset's helpers on the resource directly) it behaves as DuckDBResource does.
    """

    lock_timeout_seconds: int = 1800
    _run: ExitStack | None = PrivateAttr(default=None)  # the run's resources, while it lasts
    _run_database: duckdb.DuckDBPyConnection | None = PrivateAttr(default=None)
    _log: Any = PrivateAttr(default=None)  # the run's log (DagsterLogManager), to say when it waits for the lock

    @contextmanager
    def yield_for_execution(self, context):
        refuse_run_config_paths(context)
        with super().yield_for_execution(context) as resource, ExitStack() as run:
            resource.hold(run, getattr(context, "log", None))
            try:
                yield resource
            finally:
                resource.hold(None)

    def hold(self, run: ExitStack | None, log=None) -> None:
        """Keep one database for the run `run` (closed with it, its lock released with it), or, with None, let go."""
        self._run, self._run_database, self._log = run, None, log

    def _waiting(self) -> None:
        if self._log:
            self._log.info(f"waiting for another run to release {self.database}")

    @contextmanager
    def get_connection(self):
        if self._run is None:
            with super().get_connection() as connection:
                yield connection
            return
        if self._run_database is None:
            # The lock, like the database, from the run's first use to its end: a resource started again only for
            # the run's result (the CLI does) neither waits for nor holds it.
            self._run.enter_context(
                exclusive_lock(Path(self.database + ".lock"), self.lock_timeout_seconds, self._waiting)
            )
            self._run_database = self._run.enter_context(super().get_connection())
        cursor = self._run_database.cursor()
        try:
            yield cursor
        finally:
            cursor.close()


def build_resources(paths: ProjectPaths | None = None, warehouse: str | None = None, release_date: str = "") -> dict:
    return {
        "paths": paths or ProjectPaths(),
        "release_settings": ReleaseSettings(date=release_date),
        # A URL may carry a credential: the UI shows the variable's name, not its value.
        "package_mirror": PackageMirror(url=dg.EnvVar("SV_PUBLISH_URL"))
        if locations.publish_url()
        else PackageMirror(),
        # DuckDBResource rather than the DuckDB pandas IO manager: the IO manager deletes then inserts
        # by column position without a transaction, which empties or silently reorders a table when
        # its columns change (measured with dagster-duckdb-pandas 0.29.27). Every table here is written with
        # CREATE OR REPLACE TABLE ... AS SELECT instead.
        "duckdb": Warehouse(
            database=warehouse or default_warehouse(),
            connection_config={"memory_limit": locations.warehouse_memory_limit()},
        ),
    }
