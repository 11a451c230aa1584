"""The production topology end to end (`make serve`): PostgreSQL, the code server, the daemon and the webserver,
on loopback, over a copy of raw/ and outputs/. The tests run in order on one stack (xdist group "serve").

Needs Debian's `postgresql` package (.ci/run installs it); without it the tests are skipped on a workstation and
fail in CI.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import frictionless
import pytest

from pipeline.defs.resources import PROJECT_DIR
from pipeline.operations import serve
from tests.conftest import Project, snapshot
from tests.test_operations import Receiver

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("serve")]

BIN = Path(sys.executable).parent
RUNS = """query Runs($filter: RunsFilter) { runsOrError(filter: $filter) { ... on Runs { results {
  runId status startTime endTime tags { key value } } } } }"""
# The newest homicide edition; one digit of Cleveland's 2022-25 rate changes (a revision far inside tolerance).
HOMICIDE = "outcomes/ons-els-homicide-offences.csv"
FINISHED = ("SUCCESS", "FAILURE", "CANCELED")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    def __init__(self, root: Path):
        self.project = Project(root)
        self.receiver = Receiver()
        state = Path(tempfile.mkdtemp(prefix="sv-serve-"))
        state.chmod(0o755)  # PostgreSQL's own user must reach its cluster inside
        self.stack = serve.Stack(state, pg_port=free_port(), grpc_port=free_port(), ui_port=free_port())
        self.audit_port = free_port()
        self.mirror = root / "mirror"
        self.env = os.environ | {
            "SV_SERVE_DIR": str(state),
            "SV_PG_PORT": str(self.stack.pg_port),
            "SV_GRPC_PORT": str(self.stack.grpc_port),
            "UI_PORT": str(self.stack.ui_port),
            "SV_RAW_DIR": str(self.project.raw),
            "SV_OUTPUTS_DIR": str(self.project.outputs),
            "SV_WAREHOUSE": str(root / "warehouse.duckdb"),
            "SV_SENSOR_INTERVAL_SECONDS": "5",
            "SV_PUBLISH_CRON": "* * * * *",  # every minute, so that a test sees the daemon's tick
            "SV_FAILURE_WEBHOOK_URL": self.receiver.url,
            "SV_PUBLISH_URL": f"file://{self.mirror}",
        }

    def serve(self, action: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "pipeline.operations.serve", action],
            cwd=PROJECT_DIR,
            env=self.env,
            capture_output=True,
            text=True, timeout=timeout,
        )  # fmt: skip

    def dagster(self, *args: str) -> None:
        command = [str(BIN / "dagster"), *args, "-w", str(self.stack.workspace)]
        done = subprocess.run(command, env=self.env | self.stack.env(), capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr

    def launch(self, tag: str) -> None:
        self.dagster("job", "launch", "-j", "publish_package", "--tags", json.dumps({"test": tag}))

    def runs(self, url: str | None = None, **tags: str) -> list[dict]:
        flt = {"tags": [{"key": k, "value": v} for k, v in tags.items()]}
        return serve.graphql(self.stack, RUNS, {"filter": flt}, url=url)["runsOrError"]["results"]

    def wait_for_runs(self, count: int, timeout: float = 300, **tags: str) -> list[dict]:
        """The finished runs with these tags, oldest first, once `count` of them have finished; fails with the
        daemon's log if not. Only finished runs are returned: a run still queued has no start time yet (sorting
        on it raised TypeError under load), and a schedule ticking every minute may queue a second run while the
        first finishes. A run cancelled before it started has no start time either: its end time orders it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            finished = [r for r in self.runs(**tags) if r["status"] in FINISHED]
            if len(finished) >= count:
                return sorted(finished, key=lambda r: (r["startTime"] or r["endTime"] or 0.0, r["runId"]))
            time.sleep(2)
        log = (self.stack.state / "daemon.log").read_text(errors="replace")[-3000:]
        raise AssertionError(f"no {count} finished runs tagged {tags} after {timeout} s: {self.runs(**tags)}\n{log}")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    if not Path("/usr/lib/postgresql").is_dir():
        reason = "PostgreSQL's server is not installed (apt-get install postgresql)"
        pytest.fail(reason) if os.environ.get("CI") else pytest.skip(reason)
    served = Served(tmp_path_factory.mktemp("served"))
    started = served.serve("start")
    assert started.returncode == 0, started.stdout + started.stderr
    auditor = subprocess.Popen(
        [sys.executable, "-m", "pipeline.operations.serve", "audit", "--port", str(served.audit_port)], cwd=PROJECT_DIR,
        env=served.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    served.audit_url = f"http://127.0.0.1:{served.audit_port}"
    try:
        yield served
    finally:
        os.killpg(auditor.pid, signal.SIGTERM)
        auditor.wait(timeout=30)
        pids = list(served.stack.running().values())
        stopped = served.serve("stop")
        served.receiver.close()
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        assert not [pid for pid in pids if serve.group_alive(pid)], "make serve-stop left a process group behind"
        assert not (served.stack.postgres / "data" / "postmaster.pid").exists(), "PostgreSQL still running"
        shutil.rmtree(served.stack.state, ignore_errors=True)


def package_is_whole(outputs: Path) -> bool:
    return frictionless.validate(str(outputs / "datapackage.json")).valid and not list(
        outputs.parent.glob(".outputs.*")
    )


def test_the_stack_stores_in_postgres_and_its_daemons_are_healthy(served):
    status = served.serve("status")
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["storage"] == {
        "run_storage": "PostgresRunStorage",
        "event_log_storage": "PostgresEventLogStorage",
        "schedule_storage": "PostgresScheduleStorage",
    }
    assert all(report["daemons"][name] for name in serve.NEEDED_DAEMONS), report["daemons"]
    assert report["locations"] == {serve.LOCATION: "LOADED"}
    assert set(report["processes"]) == {"code-server", "daemon", "webserver"}
    assert all(serve.group_alive(pid) for pid in report["processes"].values())


def test_a_changed_raw_file_fires_the_sensor_and_the_package_is_republished_and_mirrored(served):
    served.dagster("sensor", "start", "raw_files_changed")
    try:
        # The first evaluation after switching on publishes once, matching outputs/ to raw/.
        [first] = served.wait_for_runs(1)
        assert first["status"] == "SUCCESS", first
        before = snapshot(served.project.outputs)

        changed_at = time.monotonic()
        served.project.replace_raw(HOMICIDE, "15.780053111150186", "15.780053111150187")
        digest = serve_digest(served)
        [run] = served.wait_for_runs(1, raw_digest=digest)
        elapsed = time.monotonic() - changed_at
    finally:
        served.dagster("sensor", "stop", "raw_files_changed")
    assert run["status"] == "SUCCESS", run
    print(f"file change to published package through the sensor: {elapsed:.0f} s")
    after = snapshot(served.project.outputs)
    assert b"15.780053111150187" in after["data/area_outcomes.csv"]
    assert b"15.780053111150187" not in before["data/area_outcomes.csv"]
    assert package_is_whole(served.project.outputs)
    # The mirror holds the version outputs/ now has, and latest.json names it.
    version = json.loads(after["datapackage.json"])["version"]
    pointer = json.loads((served.mirror / "latest.json").read_text())
    assert pointer["version"] == version
    assert snapshot(served.mirror / "v" / version) == after
    # The auditor's read-only webserver reads the same run from PostgreSQL.
    [seen] = served.runs(url=served.audit_url, raw_digest=digest)
    assert (seen["runId"], seen["status"]) == (run["runId"], "SUCCESS")


def serve_digest(served) -> str:
    from pipeline.defs.automation import raw_digest
    from pipeline.defs.resources import ProjectPaths

    return raw_digest(ProjectPaths(raw_dir=str(served.project.raw)))


def test_a_failed_run_is_posted_to_the_webhook_and_outputs_stay_as_they_were(served):
    before = snapshot(served.project.outputs)
    target = served.project.raw / HOMICIDE
    good = target.read_bytes()
    target.write_bytes(good[:-100])  # a damaged file the manifest's sha256 no longer matches
    try:
        served.launch("fails")
        [run] = served.wait_for_runs(1, test="fails")
        deadline = time.monotonic() + 60
        while not served.receiver.received and time.monotonic() < deadline:
            time.sleep(1)
    finally:
        target.write_bytes(good)
    assert run["status"] == "FAILURE", run
    [message] = served.receiver.received
    assert message["run_id"] == run["runId"] and message["job"] == "publish_package"
    assert any("ons-els-homicide-offences.csv" in step for step in message["steps"]), message["steps"]
    assert snapshot(served.project.outputs) == before


def test_a_schedule_tick_evaluated_by_the_daemon_launches_a_run(served):
    schedule = {"dagster/schedule_name": "weekly_publish"}
    served.dagster("schedule", "start", "weekly_publish")
    try:
        run = served.wait_for_runs(1, timeout=240, **schedule)[0]
    finally:
        served.dagster("schedule", "stop", "weekly_publish")
    assert run["status"] == "SUCCESS", run
    # A tick every minute may have queued another run meanwhile: let it finish so the next test's runs do not
    # wait behind it.
    served.wait_for_runs(len(served.runs(**schedule)), timeout=240, **schedule)
    assert package_is_whole(served.project.outputs)


def test_two_runs_submitted_at_once_both_succeed_one_after_the_other_through_the_queue(served):
    launches = [
        subprocess.Popen(
            [
                str(BIN / "dagster"),
                "job",
                "launch",
                "-j",
                "publish_package",
                "--tags",
                json.dumps({"test": "queue"}),
                "-w",
                str(served.stack.workspace),
            ],
            env=served.env | served.stack.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        for _ in range(2)
    ]
    assert [launch.wait(timeout=120) for launch in launches] == [0, 0]
    first, second = served.wait_for_runs(2, test="queue")
    assert (first["status"], second["status"]) == ("SUCCESS", "SUCCESS")
    assert first["endTime"] <= second["startTime"], "the queue let two runs overlap"
    assert package_is_whole(served.project.outputs)


def test_killing_the_daemon_mid_run_leaves_a_whole_package_and_a_clear_run_status(served):
    before = snapshot(served.project.outputs)
    served.launch("daemon-killed")
    deadline = time.monotonic() + 120
    while not [r for r in served.runs(test="daemon-killed") if r["status"] == "STARTED"]:
        assert time.monotonic() < deadline, served.runs(test="daemon-killed")
        time.sleep(0.5)
    daemon = served.stack.running()["daemon"]
    os.killpg(daemon, signal.SIGKILL)
    time.sleep(1)
    assert not serve.group_alive(daemon)
    serve.spawn(served.stack, "daemon", serve.dagster_processes(served.stack)["daemon"])
    [run] = served.wait_for_runs(1, test="daemon-killed")
    # Runs are children of the code server, not of the daemon: the run finishes and says so.
    assert run["status"] == "SUCCESS", run
    assert package_is_whole(served.project.outputs)
    assert snapshot(served.project.outputs) == before  # same inputs, same bytes
    serve.wait_until("the daemons", lambda: serve.daemons_healthy(served.stack), 180, served.stack.state / "daemon.log")
