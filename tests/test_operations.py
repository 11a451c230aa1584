"""Running unattended: the change sensor, two runs at once, and a run killed while publishing."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import frictionless
import pytest

from pipeline.build import JOB_COMMAND
from pipeline.definitions import build_defs
from pipeline.resources import PROJECT_DIR, ProjectPaths
from pipeline.schedules import raw_files_changed
from tests.conftest import snapshot

BIN = Path(sys.executable).parent
BUILD = JOB_COMMAND


def test_sensor_runs_on_content_changes_only(tmp_path):
    shutil.copytree(PROJECT_DIR / "raw", tmp_path / "raw")
    resources = {"paths": ProjectPaths(raw_dir=str(tmp_path / "raw"))}
    first = raw_files_changed(dg.build_sensor_context(resources=resources))
    assert isinstance(first, dg.RunRequest)
    cursor = first.tags["raw_digest"]
    assert isinstance(raw_files_changed(dg.build_sensor_context(cursor=cursor, resources=resources)), dg.SkipReason)
    target = tmp_path / "raw" / "mappings" / "area_names.csv"
    os.utime(target, (0, 0))  # a new modification time alone is not a change
    assert isinstance(raw_files_changed(dg.build_sensor_context(cursor=cursor, resources=resources)), dg.SkipReason)
    target.write_bytes(target.read_bytes() + b"\n")
    changed = raw_files_changed(dg.build_sensor_context(cursor=cursor, resources=resources))
    assert isinstance(changed, dg.RunRequest) and changed.tags["raw_digest"] != cursor
    assert build_defs().resolve_sensor_def("raw_files_changed").job_name == "publish_package"


def test_two_runs_started_together_both_succeed(project):
    env = project.cli_env()
    # As `make data` does: the run-history database exists before any run starts.
    subprocess.run([str(BIN / "dagster"), "instance", "migrate"], env=env, check=True, capture_output=True)
    before = snapshot(project.outputs)
    runs = [
        subprocess.Popen(BUILD, cwd=PROJECT_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(2)
    ]
    logs = [run.communicate(timeout=300)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], "\n".join(log[-2000:] for log in logs)
    assert not any("Could not set lock" in log or "IOException" in log for log in logs)
    assert sum("waiting for another run to release" in log for log in logs) == 1  # one queued behind the other
    assert snapshot(project.outputs) == before  # same inputs, same package


def package_is_whole(outputs: Path) -> bool:
    return frictionless.validate(str(outputs / "datapackage.json")).valid


@pytest.mark.parametrize("moment", ["writing", "before_swap", "after_swap"])
def test_run_killed_while_publishing_loses_nothing_and_the_next_run_recovers(project, moment):
    env = project.cli_env() | {"SV_PAUSE_AT": moment, "SV_PAUSE_MARKER": str(project.root / "paused")}
    before = snapshot(project.outputs)
    # A changed figure, so the killed run was publishing a different package.
    project.replace_raw(
        "funding/home-office-serious-violence-funding-allocations-2023-24.csv", '"£861,445"', '"£861,446"'
    )
    run = subprocess.Popen(
        BUILD, cwd=PROJECT_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 240
    while not (project.root / "paused").exists():
        assert run.poll() is None, "the build ended before reaching the publishing step"
        assert time.monotonic() < deadline, f"the build never reached {moment}"
        time.sleep(0.2)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()

    after_kill = snapshot(project.outputs)
    if moment == "after_swap":  # the new package was already in place, whole
        assert after_kill != before and package_is_whole(project.outputs)
    else:
        assert after_kill == before, "a killed publish changed outputs/"
    assert list(project.root.glob(".outputs.staging-*")), "the killed run left no staging folder to clean up"

    env.pop("SV_PAUSE_AT")
    rerun = subprocess.run(BUILD, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stdout[-2000:]
    assert not list(project.root.glob(".outputs.staging-*")), "the next run did not clean up"
    assert package_is_whole(project.outputs)
    assert "861446" in (project.outputs / "data" / "funding_reports.csv").read_text()
