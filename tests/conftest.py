"""Builds run against copies of raw/ and outputs/ in a temporary folder, never the real ones. The test session
opens no connection to another machine (tests/network_guard/sitecustomize.py, installed here for this process)."""

import gc
import hashlib
import importlib.util
import io
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import openpyxl
import pandas as pd
import pytest
import yaml

from pipeline.defs.project import assets_for
from pipeline.defs.resources import PROJECT_DIR, ProjectPaths, build_resources, exclusive_lock
from pipeline.operations.build import cli_env, rebuild_selection
from pipeline.release.archive import files_under
from pipeline.sources import workbooks


def _guard_network() -> None:
    """The hook that refuses a connect to anything but loopback, for the whole session (loaded by path: a
    `sitecustomize` of the interpreter's own may already hold that module name)."""
    spec = importlib.util.spec_from_file_location(
        "network_guard", Path(__file__).parent / "network_guard" / "sitecustomize.py"
    )
    assert spec and spec.loader
    spec.loader.exec_module(importlib.util.module_from_spec(spec))


_guard_network()


def _collect_garbage_less_often() -> None:
    """The objects imported so far (Dagster, pandas, the pipeline) are never garbage: frozen, the collector stops
    walking them; and a test process makes hundreds of thousands of short-lived objects per build, so the youngest
    generation is collected every 100,000 allocations, not 700. `make test` spends a fifth less CPU (user 205 ->
    167 s here); memory is not the limit of a test run."""
    gc.freeze()
    gc.set_threshold(100_000, 50, 50)


_collect_garbage_less_often()


def _read_each_workbook_once() -> None:
    """Within a test process, a workbook with the same bytes, name and options is parsed once: dozens of builds
    read the same nine ONS workbooks, and parsing them is a quarter of a build. The reader is a pure function of
    those; a test that edits a cell changes the bytes, and a failed read is never kept."""
    for name in ("read_workbook", "read_footnotes"):  # the cells, and the notes printed under the tables
        setattr(workbooks, name, _once(getattr(workbooks, name)))


def _once(read):
    cache: dict[tuple[str, str, str], pd.DataFrame] = {}

    def read_once(path: Path, options: dict) -> pd.DataFrame:
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        key = (Path(path).name, digest, json.dumps(options, sort_keys=True))
        if key not in cache:
            cache[key] = read(path, options)
        return cache[key].copy(deep=True)

    return read_once


_read_each_workbook_once()


@dataclass
class Build:
    root: Path
    result: dg.ExecuteInProcessResult

    @property
    def outputs(self) -> Path:
        return self.root / "outputs"

    def failed_checks(self) -> list:
        return [e for e in self.result.get_asset_check_evaluations() if not e.passed]

    def step_failures(self) -> list[str]:
        return [
            e.step_failure_data.error.message for e in self.result.all_events if e.event_type_value == "STEP_FAILURE"
        ]


class Project:
    """A temporary copy of the project's raw/ and published outputs/."""

    def __init__(self, root: Path):
        self.root = root
        shutil.copytree(PROJECT_DIR / "raw", root / "raw")
        shutil.copytree(PROJECT_DIR / "outputs", root / "outputs")
        shutil.copytree(PROJECT_DIR / "release", root / "release")

    @property
    def raw(self) -> Path:
        return self.root / "raw"

    @property
    def outputs(self) -> Path:
        return self.root / "outputs"

    @property
    def release(self) -> Path:
        return self.root / "release"

    def build(
        self, release_date: str = "", *, only: str | tuple[str, ...] | None = None, after: "FreshBuild | None" = None
    ) -> Build:
        """A build of this copy: every asset, or (`only`) some assets and everything they read, which meets the
        same failure in that asset, or makes those tables, in a fraction of the time. `after` starts from the
        warehouse of the session's fresh build of the committed raw/ and runs only what this copy's changed raw
        files and manifest feed, as `make accept` does (test_operations shows that equals a full publish)."""
        paths = ProjectPaths(raw_dir=str(self.raw), outputs_dir=str(self.outputs), release_dir=str(self.release))
        warehouse = self.root / "warehouse.duckdb"
        resources = build_resources(paths, str(warehouse), release_date)
        targets = (only,) if isinstance(only, str) else only
        selection = dg.AssetSelection.assets(*targets).upstream() if targets else None
        if after is not None:
            for suffix in ("", ".wal"):  # a write-ahead log not yet checkpointed is part of the database
                if (after.root / f"warehouse.duckdb{suffix}").is_file():
                    shutil.copy(after.root / f"warehouse.duckdb{suffix}", f"{warehouse}{suffix}")
            changed = dg.AssetSelection.assets(*rebuild_selection(self.raw, self.changed_raw_files()))
            selection = changed if selection is None else selection & changed
        result = dg.materialize(assets_for(paths), selection=selection, resources=resources, raise_on_error=False)
        return Build(self.root, result)

    def changed_raw_files(self) -> list[str]:
        """Paths under raw/ whose bytes differ from the committed raw/ (or that it lacks)."""
        committed = PROJECT_DIR / "raw"
        return sorted(
            str(path.relative_to(self.raw))
            for path in self.raw.rglob("*")
            if path.is_file()
            and not ((committed / path.relative_to(self.raw)).is_file()
                     and (committed / path.relative_to(self.raw)).read_bytes() == path.read_bytes())
        )  # fmt: skip

    def cli_env(self) -> dict:
        """Environment for a CLI build of this copy, with its own Dagster instance and warehouse."""
        home = self.root / "home"
        home.mkdir(exist_ok=True)
        shutil.copy(PROJECT_DIR / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
        return cli_env() | {
            "DAGSTER_HOME": str(home),
            "SV_RAW_DIR": str(self.raw),
            "SV_OUTPUTS_DIR": str(self.outputs),
            "SV_RELEASE_DIR": str(self.release),
            "SV_WAREHOUSE": str(self.root / "warehouse.duckdb"),
        }

    def replace_raw(self, relative: str, old: str, new: str, *, update_manifest: bool = True) -> None:
        """Edit a raw file's text; by default the manifest follows so that only the content is wrong."""
        path = self.raw / relative
        data = path.read_bytes()
        assert old.encode() in data, f"{old!r} not in {relative}"
        self.write_raw(relative, data.replace(old.encode(), new.encode(), 1), update_manifest=update_manifest)

    def write_raw(self, relative: str, data: bytes, *, update_manifest: bool = True) -> None:
        (self.raw / relative).write_bytes(data)
        if update_manifest:
            manifest = self.manifest()
            for entry in manifest["files"]:
                if entry["path"] == relative:
                    entry["sha256"] = hashlib.sha256(data).hexdigest()
                    entry["bytes"] = len(data)
            self.write_manifest(manifest)

    def edit_workbook(self, relative: str, sheet: str, area_code: str, heading: str, value: object) -> bytes:
        """A raw workbook with one cell changed (the area's row, the column whose heading starts with `heading`),
        written back with its manifest entry following; the workbook's bytes are returned."""
        self.write_raw(relative, edited_workbook(self.raw / relative, sheet, area_code, heading, value))
        return (self.raw / relative).read_bytes()

    def manifest(self) -> dict:
        return yaml.load((self.raw / "sources.yaml").read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)

    def write_manifest(self, manifest: dict) -> None:
        # libyaml's reader and writer: the manifest is 200 KB, and dozens of tests edit it.
        text = yaml.dump(manifest, Dumper=yaml.CSafeDumper, sort_keys=False)
        (self.raw / "sources.yaml").write_text(text, encoding="utf-8")


def edited_workbook(path: Path, sheet: str, area_code: str, heading: str, value: object) -> bytes:
    """The workbook's bytes with one cell changed. The ONS workbooks hold values, not formulas, so a save
    through openpyxl keeps every other cell as it was."""
    book = openpyxl.load_workbook(path)
    table = book[next(name for name in book.sheetnames if name.strip() == sheet)]
    headings = [" ".join(str(c.value).split()) if c.value is not None else "" for c in table[5]]
    column = next(i for i, text in enumerate(headings) if text.startswith(heading))
    row = next(r for r in table.iter_rows() if r[0].value == area_code)
    row[column].value = value
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under a folder, by relative path, with its bytes."""
    return files_under(folder)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The session's fresh build (about 16 s on one core) is started by the first test, and every other test that
    reads it runs after the tests that do not: pytest-xdist hands the first worker the first test and the other
    worker the next chunk, so one worker builds while the other runs the independent tests, instead of both
    waiting for the build at the start. The order within each part is pytest's."""
    needs = [item for item in items if "fresh_build" in getattr(item, "fixturenames", ())]
    if needs:
        first = needs[0]
        items.sort(key=lambda item: (item is not first, "fresh_build" in getattr(item, "fixturenames", ())))


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path)


@dataclass(frozen=True)
class FreshBuild:
    """The session's one full build of the committed raw/ over a copy of the committed outputs/ and release/, on
    another day (REBUILD_DATE), shared by every test worker: its folder (outputs/, warehouse.duckdb) and what the
    run reported. A build into an empty folder is a slow test (test_build.py)."""

    root: Path
    success: bool
    failures: tuple[str, ...]
    checks: tuple[tuple[str, bool], ...]  # (check name, passed) of every asset check evaluated

    @property
    def outputs(self) -> Path:
        return self.root / "outputs"

    def step_failures(self) -> list[str]:
        return list(self.failures)


# A day no release has: a rebuild of unchanged inputs on it must keep the committed version and change no file.
REBUILD_DATE = "2031-01-02"


def _once_per_session(tmp_path_factory: pytest.TempPathFactory, worker_id: str, name: str, make) -> tuple[Path, str]:
    """A folder made once per test session and shared by every worker: the first to ask runs `make(folder)` under a
    lock and records the text it returns; the others wait for it and read that record."""
    base = tmp_path_factory.getbasetemp()
    base = base if worker_id == "master" else base.parent
    folder, record = base / name, base / f"{name}.done"
    with exclusive_lock(base / f"{name}.lock", timeout_seconds=900):
        if not record.is_file():
            shutil.rmtree(folder, ignore_errors=True)
            record.write_text(make(folder), encoding="utf-8")
    return folder, record.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def fresh_build(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> FreshBuild:
    """Built once per session; the other workers read the run's summary."""

    def build(root: Path) -> str:
        result = Project(root).build(release_date=REBUILD_DATE)
        return json.dumps({
            "success": result.result.success,
            "failures": result.step_failures(),
            "checks": [(e.check_name, e.passed) for e in result.result.get_asset_check_evaluations()],
        })  # fmt: skip

    root, summary = _once_per_session(tmp_path_factory, worker_id, "fresh", build)
    record = json.loads(summary)
    return FreshBuild(
        root, record["success"], tuple(record["failures"]), tuple((name, ok) for name, ok in record["checks"])
    )


@pytest.fixture(scope="session")
def release_archive(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """The release archive of the committed package, built once per session (its workbook and site take about
    15 s) for the tests that open it."""
    from pipeline.release.archive import build_archive

    dist, name = _once_per_session(
        tmp_path_factory, worker_id, "archive",
        lambda dist: build_archive(PROJECT_DIR / "outputs", PROJECT_DIR / "raw", dist).name,
    )  # fmt: skip
    return dist / name
