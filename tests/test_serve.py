"""The production topology end to end (`make serve`): PostgreSQL, the code server, the daemon and the webserver,
on loopback, over a copy of raw/ and outputs/. The tests run in order on one stack (xdist group "serve").

Needs Debian's `postgresql` package (.ci/run installs it); without it the tests are skipped on a workstation and
fail in CI.
"""

import datetime
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import frictionless
import pytest

from pipeline.defs.resources import PROJECT_DIR
from pipeline.operations import processes, serve
from tests.conftest import Project, snapshot
from tests.test_operations import Receiver

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("serve")]

BIN = Path(sys.executable).parent
RUNS = """query Runs($filter: RunsFilter) { runsOrError(filter: $filter) { ... on Runs { results {
  runId status startTime endTime tags { key value } } } } }"""
# The newest homicide edition; one digit of Cleveland's 2022-25 rate changes (a revision far inside tolerance).
HOMICIDE = "outcomes/ons-els-homicide-offences.csv"
FINISHED = ("SUCCESS", "FAILURE", "CANCELED")
MAX_RUNTIME = 240


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServedProject(Project):
    """The copy a served stack reads and publishes into, laid out as a deployment should be: raw/ and release/ stay
    root's, and the service user owns only published/ (the package, its warehouse and the mirror)."""

    def __init__(self, root: Path):
        super().__init__(root)
        self.published = root / "published"
        self.published.mkdir()
        (root / "outputs").rename(self.outputs)

    @property
    def outputs(self) -> Path:
        return self.root / "published" / "outputs"


class Served:
    def __init__(self, root: Path):
        self.project = ServedProject(root)
        self.receiver = Receiver()
        state = Path(tempfile.mkdtemp(prefix="sv-serve-"))
        state.chmod(0o755)  # PostgreSQL's own user must reach its cluster inside
        self.stack = serve.Stack(state, pg_port=free_port(), grpc_port=free_port(), ui_port=free_port())
        self.audit_port = free_port()
        self.mirror = self.project.published / "mirror"
        self.env = os.environ | {
            "SV_SERVE_DIR": str(state),
            "SV_PG_PORT": str(self.stack.pg_port),
            "SV_GRPC_PORT": str(self.stack.grpc_port),
            "UI_PORT": str(self.stack.ui_port),
            "SV_RAW_DIR": str(self.project.raw),
            "SV_OUTPUTS_DIR": str(self.project.outputs),
            "SV_WAREHOUSE": str(self.project.published / "warehouse.duckdb"),
            "SV_SENSOR_INTERVAL_SECONDS": "5",
            "SV_PUBLISH_CRON": "* * * * *",  # every minute, so that a test sees the daemon's tick
            "SV_FAILURE_WEBHOOK_URL": self.receiver.url,
            "SV_PUBLISH_URL": f"file://{self.mirror}",
            # Long enough for a publish on a busy 2-core machine, short enough for the test of a dead worker.
            "SV_MAX_RUNTIME_SECONDS": str(MAX_RUNTIME),
            # The package's freshness deadline every minute, a publish counting for one minute before it: the
            # deadline is missed in most minutes, and the test of its alert sees one soon.
            "SV_FRESHNESS_CRON": "* * * * *",
            "SV_FRESHNESS_WINDOW_MINUTES": "1",
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
            try:
                finished = [r for r in self.runs(**tags) if r["status"] in FINISHED]
            except urllib.error.URLError:  # the webserver's first queries after a PostgreSQL restart may fail
                time.sleep(2)
                continue
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
    # Run as root, the stack runs as the service user, which must reach the copy and write where it publishes
    # (pytest's own temporary folders are private to root); raw/ stays root's.
    root = Path(tempfile.mkdtemp(prefix="sv-served-"))
    root.chmod(0o755)
    served = Served(root)
    if (user := serve.service_user()) is not None:
        for path in [served.project.published, *served.project.published.rglob("*")]:
            os.chown(path, user.pw_uid, user.pw_gid)
    # The first start as root builds the service environment (~2 minutes, once per requirements.lock).
    started = served.started = served.serve("start", timeout=900)
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
        assert not [pid for pid in pids if processes.group_alive(pid)], "make serve-stop left a process group behind"
        assert not processes.with_marker(serve.MARKER, str(served.stack.state)), "a process of the stack outlived it"
        assert not (served.stack.postgres / "data" / "postmaster.pid").exists(), "PostgreSQL still running"
        shutil.rmtree(served.stack.state, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)


def package_is_whole(outputs: Path) -> bool:
    return frictionless.validate(str(outputs / "datapackage.json")).valid and not list(
        outputs.parent.glob(".outputs.*")
    )


def test_a_recorded_pid_of_another_process_is_left_alone_and_status_and_stop_answer_plainly(tmp_path):
    """Finding 4: the state file of a stack that crashed names a supervisor whose id the kernel has since given to
    another process (here a `sleep`, recorded with another start time and command line)."""
    stack = serve.Stack(tmp_path / "state", pg_port=free_port(), grpc_port=free_port(), ui_port=free_port())
    stack.state.mkdir()
    (stack.state / "pg_password").write_text("unused\n")
    other = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        actual = processes.Identity.of_started(other.pid, "sleep")
        assert actual is not None
        for recorded in (
            {**actual.record(), "started": actual.started - 1},
            {**actual.record(), "cmdline": [str(BIN / "supervisord"), "-c", str(stack.supervisor_config)]},
        ):
            stack.processes.write_text(json.dumps({"supervisord": recorded}))
            env = os.environ | {"SV_SERVE_DIR": str(stack.state), "UI_PORT": str(stack.ui_port)}
            command = [sys.executable, "-m", "pipeline.operations.serve"]
            status = subprocess.run([*command, "status"], env=env, capture_output=True, text=True, timeout=60)
            assert status.returncode == 1 and "Traceback" not in status.stdout + status.stderr, status
            assert not json.loads(status.stdout)["healthy"]
            stopped = subprocess.run([*command, "stop"], env=env, capture_output=True, text=True, timeout=60)
            assert stopped.returncode == 0 and "Traceback" not in stopped.stdout + stopped.stderr, stopped
            assert other.poll() is None and processes.Identity.of(other.pid) == actual, "serve-stop killed it"
            assert "left alone" in stopped.stdout
    finally:
        other.kill()
        other.wait()


def test_as_root_without_an_environment_the_service_user_can_run_serve_refuses_in_one_line(tmp_path):
    """The stack used to fall back to running as root, with a warning, when the service user could not execute the
    project's Python. Here Debian's Python is one without its venv module (python3-venv not installed)."""
    if serve.service_user() is None:
        pytest.skip("only root starts the stack as another user")
    python = tmp_path / "python3"
    python.write_text('#!/bin/sh\ncase "$*" in *ensurepip*) echo "No module named ensurepip" >&2; exit 1;; esac\n'
                      'exec /usr/bin/python3 "$@"\n')  # fmt: skip
    python.chmod(0o755)
    state = tmp_path / "state"
    env = os.environ | {
        "SV_SERVE_DIR": str(state),
        "SV_SERVICE_PYTHON": str(python),
        "SV_SERVICE_ENV_DIR": str(tmp_path / "service-env"),
        **{name: str(free_port()) for name in ("SV_PG_PORT", "SV_GRPC_PORT", "UI_PORT")},
    }
    command = [sys.executable, "-m", "pipeline.operations.serve", "start"]
    done = subprocess.run(command, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and done.stdout == "", done
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert "refusing to start" in done.stderr and "apt-get install python3-venv" in done.stderr, done.stderr
    assert not (state / "postgres").exists() and not processes.with_marker(serve.MARKER, str(state.resolve()))


def test_the_stack_stores_in_postgres_and_its_daemons_are_healthy(served):
    status = served.serve("status")
    assert status.returncode == 0, status.stdout + status.stderr
    report = json.loads(status.stdout)
    assert report["healthy"] and not report["problems"]
    assert report["storage"] == {
        "run_storage": "PostgresRunStorage",
        "event_log_storage": "PostgresEventLogStorage",
        "schedule_storage": "PostgresScheduleStorage",
    }
    assert all(report["daemons"].values()) and "MONITORING" in report["daemons"], report["daemons"]
    assert report["locations"] == {serve.LOCATION: "LOADED"}
    programs = (*serve.PROGRAMS, serve.LISTENER)
    assert {name: p["state"] for name, p in report["programs"].items()} == dict.fromkeys(programs, "RUNNING")
    running = served.stack.running()
    assert set(running) == {"supervisord", *programs}
    assert all(processes.group_alive(pid) for pid in running.values())
    # Run as root, the programs run as the service user (never as root: there is no such fallback any more).
    user = serve.service_user()
    expected = user or pwd.getpwuid(os.geteuid())
    owners = {name: Path(f"/proc/{running[name]}").stat().st_uid for name in serve.PROGRAMS}
    assert owners == dict.fromkeys(serve.PROGRAMS, expected.pw_uid) and report["user"] == expected.pw_name, owners


def user_ids(pid: int) -> set[int]:
    """A process's real, effective, saved and file-system user ids."""
    line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("Uid:"))
    return {int(uid) for uid in line.split()[1:]}


def group_members(pgid: int) -> list[int]:
    return [
        int(stat.parent.name)
        for stat in Path("/proc").glob("[0-9]*/stat")
        if (fields := processes.stat_fields(int(stat.parent.name))) is not None and int(fields[2]) == pgid
    ]


RUN_WORKER = """query Events($runId: ID!) { runOrError(runId: $runId) { ... on Run { eventConnection { events {
  __typename ... on EngineEvent { message } } } } } }"""


def test_the_programs_and_their_runs_run_as_the_service_user_which_cannot_write_raw_or_the_code(served):
    """Every run used to execute as root: the service user could not execute Python installed under /root, and the
    stack fell back to root with a warning. It now runs from its own environment, and refuses rather than fall back."""
    user = serve.service_user()
    if user is None:
        pytest.skip("started by another user than root, the stack runs as that user")
    assert "runs as root" not in served.started.stdout + served.started.stderr
    running = served.stack.running()
    # supervisord alone stays root's (its configuration, socket and logs are in a folder only root writes).
    assert user_ids(running["supervisord"]) == {0}
    for name in serve.PROGRAMS:  # each program and every process of its group, all four user ids
        assert {u for pid in group_members(running[name]) for u in user_ids(pid)} == {user.pw_uid}, name
    served.launch("unprivileged")
    wait_until_started(served, "unprivileged")
    [started] = [r for r in served.runs(test="unprivileged") if r["status"] == "STARTED"]
    events = serve.graphql(served.stack, RUN_WORKER, {"runId": started["runId"]})
    worker = next(
        int(e["message"].split("pid: ")[1].rstrip(")."))
        for e in events["runOrError"]["eventConnection"]["events"]
        if (e.get("message") or "").startswith("Started process for run (pid: ")
    )
    if processes.Identity.of(worker) is not None:  # a fast run may be gone already; its files say the same below
        assert user_ids(worker) == {user.pw_uid}
    [run] = served.wait_for_runs(1, test="unprivileged")
    assert run["status"] == "SUCCESS", run
    # What the run wrote is the service user's: the package, the warehouse, the run's compute logs.
    written = [
        served.project.outputs,
        served.project.outputs / "datapackage.json",
        served.project.published / "warehouse.duckdb",
    ]
    logs = [p for p in (served.stack.home / "storage").rglob("*") if run["runId"] in str(p)]
    assert logs, "no compute logs for the run"
    assert {p: p.stat().st_uid for p in written + logs} == dict.fromkeys(written + logs, user.pw_uid)
    # ...and it can change nothing else: raw/ (the copy the stack reads, and the project's), the code, the service
    # environment, the state folder with the supervisor's configuration, release/.
    service_env = Path(served.stack.supervisor_config.read_text().split("command=")[1].split()[0]).parents[1]
    for path in (
        served.project.raw, served.project.raw / "sources.yaml", PROJECT_DIR / "raw", PROJECT_DIR / "raw" / "sources.yaml",  # noqa: E501
        PROJECT_DIR, PROJECT_DIR / "pipeline", PROJECT_DIR / "pipeline" / "definitions.py", served.project.release,
        service_env, service_env / "bin" / "python", served.stack.state, served.stack.supervisor_config,
        served.stack.home / "dagster.yaml", served.project.root,
    ):  # fmt: skip
        assert not serve.writable_by(user, path), f"{user.pw_name} can write {path}"
    manifest = (served.project.raw / "sources.yaml").read_bytes()
    as_service = ["runuser", "-u", user.pw_name, "--"]
    tries = [
        ["sh", "-c", f"echo >> {served.project.raw / 'sources.yaml'}"],
        ["touch", str(served.project.raw / "new.csv")],
        ["mv", str(served.project.raw), str(served.project.root / "raw-elsewhere")],
        ["cat", str(served.stack.state / "pg_password")],
    ]
    for attempt in tries:
        done = subprocess.run(as_service + attempt, capture_output=True, text=True)
        assert done.returncode != 0, f"{user.pw_name} could: {' '.join(attempt)}"
    assert (served.project.raw / "sources.yaml").read_bytes() == manifest
    assert not (served.project.raw / "new.csv").exists() and served.project.raw.is_dir()


LAUNCH = f"""mutation {{ launchRun(executionParams: {{selector: {{repositoryLocationName: "{serve.LOCATION}",
  repositoryName: "__repository__", jobName: "publish_package"}}}}) {{ __typename }} }}"""


def test_the_shared_port_refuses_launches_posted_or_sent_as_get(served):
    """Finding 1: anyone who reaches the port could launch runs (as POST, or as GET from a foreign page)."""
    before = len(served.runs())
    url = f"{served.stack.ui_url}/graphql"
    posted = urllib.request.Request(
        url, data=json.dumps({"query": LAUNCH}).encode(), headers={"Content-Type": "application/json"}
    )
    sent_as_get = urllib.request.Request(
        f"{url}?query={urllib.parse.quote(LAUNCH)}", headers={"Origin": "http://elsewhere.test"}
    )
    for request in (posted, sent_as_get):
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                body = response.read().decode()
        except urllib.error.HTTPError as refused:
            assert refused.code in (400, 403, 405), refused
            continue
        assert "UnauthorizedError" in body and "LaunchRunSuccess" not in body, (request.get_method(), body)
    time.sleep(3)
    assert len(served.runs()) == before


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
    mirrored = snapshot(served.mirror / "v" / version)
    assert {n: d for n, d in mirrored.items() if not n.startswith("site/")} == after
    assert "site/index.html" in mirrored  # the version's static site, served from the mirror as it is
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
        while not alerts(served, "run_failed") and time.monotonic() < deadline:
            time.sleep(1)
    finally:
        target.write_bytes(good)
    assert run["status"] == "FAILURE", run
    [message] = [m for m in served.receiver.received if m.get("run_id") == run["runId"]]
    assert message["alert"] == "run_failed" and message["job"] == "publish_package"
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


def wait_for_status(served, healthy: bool, timeout: float) -> tuple[dict, float]:
    """The first `serve-status` report that is (un)healthy, and how long it took; fails after `timeout`."""
    began = time.monotonic()
    while True:
        done = served.serve("status", timeout=120)
        assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
        report = json.loads(done.stdout)
        assert (done.returncode == 0) == report["healthy"], done.stdout
        if report["healthy"] == healthy:
            return report, time.monotonic() - began
        assert time.monotonic() - began < timeout, f"serve-status still says healthy={not healthy}: {done.stdout}"
        time.sleep(1)


def wait_until_started(served, tag: str) -> None:
    deadline = time.monotonic() + 120
    while not [r for r in served.runs(test=tag) if r["status"] == "STARTED"]:
        assert time.monotonic() < deadline, served.runs(test=tag)
        time.sleep(0.5)


def test_a_killed_daemon_is_reported_within_a_minute_and_restarted_by_the_supervisor_mid_run(served):
    """Findings 2 and 3: a dead daemon was reported healthy for 30 minutes and nothing restarted it."""
    before = snapshot(served.project.outputs)
    served.launch("daemon-killed")
    wait_until_started(served, "daemon-killed")
    # A run in flight is not a problem (its worker was once reported gone: the check looked for the wrong command).
    status = served.serve("status", timeout=120)
    assert not [p for p in json.loads(status.stdout)["problems"] if "worker" in p], status.stdout
    daemon = served.stack.running()["daemon"]
    os.killpg(daemon, signal.SIGKILL)
    report, took = wait_for_status(served, healthy=False, timeout=60)
    print(f"killed daemon reported by serve-status after {took:.1f} s: {report['problems']}")
    assert any("daemon" in problem for problem in report["problems"]), report["problems"]
    report, took = wait_for_status(served, healthy=True, timeout=180)
    print(f"healthy again after {took:.1f} s more")
    assert report["programs"]["daemon"]["pid"] != daemon  # restarted by supervisord, not by hand
    [run] = served.wait_for_runs(1, test="daemon-killed")
    # Runs are children of the code server, not of the daemon: the run finishes and says so.
    assert run["status"] == "SUCCESS", run
    assert package_is_whole(served.project.outputs)
    assert snapshot(served.project.outputs) == before  # same inputs, same bytes


RUN_ERRORS = """query Events($runId: ID!) { runOrError(runId: $runId) { ... on Run { eventConnection { events {
  __typename ... on MessageEvent { message } ... on ErrorEvent { error { message } } } } } } }"""


def run_messages(served, run_id: str) -> str:
    events = serve.graphql(served.stack, RUN_ERRORS, {"runId": run_id})["runOrError"]["eventConnection"]["events"]
    return json.dumps(events)


def test_a_launch_that_points_a_path_elsewhere_fails_before_touching_it(served):
    """Finding 1: run config could point outputs_dir at any folder, which publishing then replaced."""
    victim = Path(tempfile.mkdtemp(prefix="sv-victim-"))
    (victim / "keep.txt").write_text("not the package's\n")
    before = snapshot(served.project.outputs)
    config = {"resources": {"paths": {"config": {"outputs_dir": str(victim)}}}}
    try:
        served.dagster("job", "launch", "-j", "publish_package", "--tags", json.dumps({"test": "override"}),
                       "--config-json", json.dumps(config))  # fmt: skip
        [run] = served.wait_for_runs(1, test="override")
        assert run["status"] == "FAILURE", run
        assert "run config may not set resources.paths.config.outputs_dir" in run_messages(served, run["runId"])
        assert [p.name for p in victim.iterdir()] == ["keep.txt"]
        assert snapshot(served.project.outputs) == before
    finally:
        shutil.rmtree(victim)


def test_the_code_server_killed_mid_run_ends_in_a_failed_run_and_the_next_run_succeeds(served):
    """Finding 2: a run whose worker died with the code server stayed STARTED and held the queue forever."""
    served.launch("code-server-killed")
    wait_until_started(served, "code-server-killed")
    code_server = served.stack.running()["code-server"]
    os.killpg(code_server, signal.SIGKILL)  # its group: the server and the run it started
    report, took = wait_for_status(served, healthy=False, timeout=60)
    print(f"killed code server reported by serve-status after {took:.1f} s: {report['problems']}")
    # The next run is queued behind the dead one and must go through without anyone stepping in. (The CLI
    # launching it loads the code from the code server, which supervisord is restarting.)
    serve.wait_until("the code server", lambda: serve.code_server_up(served.stack), 120, served.stack.state)
    served.launch("after-code-server-killed")
    [dead] = served.wait_for_runs(1, timeout=MAX_RUNTIME + 240, test="code-server-killed")
    assert dead["status"] == "FAILURE", dead
    print(f"the dead run was marked failed {dead['endTime'] - dead['startTime']:.0f} s after it started")
    # ... and posted as a stuck run (the failure sensor sees run monitoring's failure like any other).
    [posted] = wait_for_alerts(served, "stuck_run", 1, timeout=120, run_id=dead["runId"])
    assert "maximum run time" in posted["text"] and posted["at"] and posted["started_at"], posted
    assert_no_secret(served, posted)
    [after] = served.wait_for_runs(1, timeout=300, test="after-code-server-killed")
    assert after["status"] == "SUCCESS", after
    assert package_is_whole(served.project.outputs)
    wait_for_status(served, healthy=True, timeout=180)


def test_after_a_crash_serve_recovers_by_itself(served):
    """Finding 4: after a crash `make serve` refused (stale state) and serve-status printed a traceback."""
    running = served.stack.running()
    for pid in running.values():  # the supervisor and its programs die at once, as in a power cut or an OOM kill
        os.killpg(pid, signal.SIGKILL)
    report, _ = wait_for_status(served, healthy=False, timeout=30)
    assert "stale state" in report["problems"][0], report
    started = served.serve("start")
    assert started.returncode == 0, started.stdout + started.stderr
    assert "recovered" in started.stdout, started.stdout
    wait_for_status(served, healthy=True, timeout=120)
    assert not set(served.stack.running().values()) & set(running.values())


def alerts(served, kind: str, **fields) -> list[dict]:
    return [
        m for m in served.receiver.received
        if m.get("alert") == kind and all(m.get(k) == v for k, v in fields.items())
    ]  # fmt: skip


def wait_for_alerts(served, kind: str, count: int, timeout: float, **fields) -> list[dict]:
    deadline = time.monotonic() + timeout
    while len(found := alerts(served, kind, **fields)) < count:
        kinds = [m.get("alert") for m in served.receiver.received]
        assert time.monotonic() < deadline, f"no {kind} alert {fields} after {timeout} s; received: {kinds}"
        time.sleep(1)
    return found


def assert_no_secret(served, message: dict) -> None:
    """An alert says what and when; it carries no setting's value: not the database password, not the webhook's
    own address, not the mirror's URL."""
    text = json.dumps(message)
    for secret in (served.stack.password(), served.receiver.url, served.env["SV_PUBLISH_URL"]):
        assert secret not in text, f"an alert carries a secret: {text}"


def test_a_process_that_dies_is_posted_to_the_webhook_and_restarted(served):
    """Finding 3: only a run that reached FAILURE was reported; a dead process told no one."""
    webserver = served.stack.running()["webserver"]
    killed_at = time.time()
    os.killpg(webserver, signal.SIGKILL)
    began = time.monotonic()
    [posted] = wait_for_alerts(served, "process_exited", 1, timeout=60, process="webserver")
    print(f"dead webserver posted after {time.monotonic() - began:.1f} s: {posted['text']}")
    assert posted["pid"] == webserver and posted["state"] == "EXITED", posted
    at = datetime.datetime.fromisoformat(posted["at"]).timestamp()
    assert killed_at - 2 <= at <= time.time() + 2, posted
    assert_no_secret(served, posted)
    report, took = wait_for_status(served, healthy=True, timeout=120)
    assert report["programs"]["webserver"]["pid"] != webserver
    # Stopping a program on purpose (as serve-stop does) is not posted.
    before = len(alerts(served, "process_exited"))
    assert serve.supervisorctl(served.stack, "restart", "webserver").returncode == 0
    wait_for_status(served, healthy=True, timeout=120)
    time.sleep(3)
    assert len(alerts(served, "process_exited")) == before, served.receiver.received[-1]


def test_a_missed_freshness_deadline_is_posted_to_the_webhook(served):
    """Finding 3: the package's freshness policy failing was shown in the UI only. (The deadline here is every
    minute with a one-minute window: see Served.)"""
    began = time.time()
    posted = wait_for_alerts(served, "missed_freshness_deadline", 1, timeout=180)[-1]
    while datetime.datetime.fromisoformat(posted["deadline"]).timestamp() < began:  # one posted before this test
        count = len(alerts(served, "missed_freshness_deadline"))
        posted = wait_for_alerts(served, "missed_freshness_deadline", count + 1, timeout=180)[-1]
    deadline = datetime.datetime.fromisoformat(posted["deadline"]).timestamp()
    print(f"missed deadline {posted['deadline']} posted at {posted['at']}: {posted['text']}")
    assert (
        posted["asset"] == "datapackage"
        and deadline - datetime.datetime.fromisoformat(posted["window_start"]).timestamp() == 60
    ), posted
    last = posted["last_published"]
    assert last is None or datetime.datetime.fromisoformat(last).timestamp() < deadline - 60, posted
    assert_no_secret(served, posted)


def test_postgres_stopped_and_started_mid_run_ends_the_run_and_the_next_run_succeeds(served):
    """Finding 2: a run in flight during a PostgreSQL outage stayed STARTED; after the blip the code server was
    said to fail every launch (a 60 s timeout) while its health check passed."""
    served.launch("postgres-blip")
    wait_until_started(served, "postgres-blip")
    time.sleep(5)  # into the run's steps, writing events
    serve.stop_postgres(served.stack)
    # Longer than a publish: the run's worker tries to write its events while the database is down and dies, and
    # the code server's cleanup thread, opening the database as that process ends, dies too.
    time.sleep(90)
    serve.start_postgres(served.stack)
    restarted = time.monotonic()
    # The code server is told failing and reloaded (the listener's first reload, while the database was down,
    # failed; it tries again a minute later).
    [failing, *_] = wait_for_alerts(served, "code_server_failing", 1, timeout=120)
    assert_no_secret(served, failing)
    serve.wait_until(
        "the code server reloaded",
        lambda: not serve.alerts.code_server_lost_cleanup(served.stack.state / "code-server.log"),
        180,
        served.stack.state / "alerts.log",
    )
    print(f"code server reloaded {time.monotonic() - restarted:.0f} s after PostgreSQL was back")
    [blipped] = served.wait_for_runs(1, timeout=MAX_RUNTIME + 240, test="postgres-blip")
    took = time.monotonic() - restarted
    print(f"the run in flight ended {blipped['status']} {took:.0f} s after PostgreSQL was back")
    # Before, the monitoring's attempt to cancel that dead run left the code server holding its launch lock: this
    # launch timed out after 60 s and the run failed ("Caught an error dequeuing run").
    served.launch("after-postgres-blip")
    [after] = served.wait_for_runs(1, timeout=300, test="after-postgres-blip")
    assert after["status"] == "SUCCESS", (after, run_messages(served, after["runId"])[-3000:])
    assert package_is_whole(served.project.outputs)
    wait_for_status(served, healthy=True, timeout=180)


LINEAGE = """query Node($path: [String!]!) { assetNodeOrError(assetKey: {path: $path}) { __typename
  ... on AssetNode { dependencyKeys { path } dependedByKeys { path } } } }"""


def test_a_new_raw_file_shows_in_the_ui_with_its_lineage_without_a_reload_by_hand(served):
    """Finding 5: a new raw file (declared in raw/sources.yaml) showed in the UI only after the code location was
    reloaded by hand: an auditor following the new figure back found an orphan asset."""
    from tests.test_new_editions import add_edition

    source = "outcomes/ons-els-homicide-offences-2025-02-11.csv"
    manifest = (served.project.raw / "sources.yaml").read_bytes()
    key = ["raw_ons__homicide_offences_lineage_test"]
    added_at = time.monotonic()
    add_edition(served.project, source, "outcomes/ons-els-homicide-offences-lineage-test.csv",
                "ons__homicide_offences_lineage_test", (served.project.raw / source).read_bytes(),
                edition_date="2026-06-01")  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                node = serve.graphql(served.stack, LINEAGE, {"path": key})["assetNodeOrError"]
            except (urllib.error.URLError, serve.ServeError):
                node = {}
            if node.get("__typename") == "AssetNode":
                break
            assert time.monotonic() < deadline, f"the new raw file is not in the UI's asset graph: {node}"
            time.sleep(2)
        print(f"new raw file in the UI's asset graph {time.monotonic() - added_at:.0f} s after it was added")
        assert node["dependencyKeys"] == [{"path": ["raw_manifest__sources"]}], node
        downstream = {"/".join(k["path"]) for k in node["dependedByKeys"]}
        assert downstream and all(name.startswith("core_") for name in downstream), node
    finally:
        (served.project.raw / "sources.yaml").write_bytes(manifest)
        (served.project.raw / "outcomes/ons-els-homicide-offences-lineage-test.csv").unlink(missing_ok=True)
    # Taken out again, it leaves the graph the same way.
    deadline = time.monotonic() + 180
    while serve.graphql(served.stack, LINEAGE, {"path": key})["assetNodeOrError"]["__typename"] == "AssetNode":
        assert time.monotonic() < deadline, "the removed raw file is still in the UI's asset graph"
        time.sleep(2)
