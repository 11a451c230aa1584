"""Where a build reads and writes, without importing Dagster (so that a `make data` with nothing to do
answers in a fraction of a second). SV_RAW_DIR, SV_OUTPUTS_DIR and SV_WAREHOUSE let a test or a deployment
point a build at other folders; SV_PUBLISH_URL names where the package is mirrored after each publish."""

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]


def raw_dir() -> Path:
    return Path(os.environ.get("SV_RAW_DIR", PROJECT_DIR / "raw"))


def outputs_dir() -> Path:
    return Path(os.environ.get("SV_OUTPUTS_DIR", PROJECT_DIR / "outputs"))


def default_warehouse() -> str:
    """The warehouse file: local state, rebuilt by every run, never published or committed."""
    path = Path(os.environ.get("SV_WAREHOUSE", PROJECT_DIR / ".state" / "warehouse.duckdb"))
    path.parent.mkdir(parents=True, exist_ok=True)
    return str(path)


def warehouse_memory_limit() -> str:
    """How much memory DuckDB may hold for the warehouse before it spills to disk beside the file (its default is
    80% of the machine's RAM, held as cache). SV_DUCKDB_MEMORY_LIMIT changes it; a million funding rows publish
    in ~1.1 GB peak with the default (bench/benchmark.py)."""
    return os.environ.get("SV_DUCKDB_MEMORY_LIMIT", "768MB")


def publish_url() -> str:
    """An fsspec URL the published package is mirrored to (pipeline/release/mirror.py); blank: outputs/ only."""
    return os.environ.get("SV_PUBLISH_URL", "")


def release_dir() -> Path:
    """Committed release expectations: expected_rows.csv and acknowledged.yaml (pipeline/release/gate.py), and the
    maintainer's release notes, notes.yaml (pipeline/release/versions.py)."""
    return Path(os.environ.get("SV_RELEASE_DIR", PROJECT_DIR / "release"))


@contextmanager
def exclusive_lock(path: Path, timeout_seconds: float, on_wait=None) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created if needed); wait for another holder up to the timeout."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        deadline = time.monotonic() + timeout_seconds
        waited = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{path}: still locked by another run after {timeout_seconds:.0f} s") from None
                if not waited and on_wait:
                    on_wait()
                waited = True
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
