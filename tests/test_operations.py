"""Running unattended: the change sensor, two runs at once, and a run killed while publishing."""

import http.server
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import dagster as dg
import frictionless
import pytest

from pipeline.definitions import defs as load_defs
from pipeline.defs.automation import WEBHOOK_ENV, failed_run_webhook, raw_files_changed
from pipeline.defs.resources import PROJECT_DIR, ProjectPaths
from pipeline.operations import alerts
from pipeline.operations.build import JOB_COMMAND
from pipeline.publish import package
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
    assert load_defs().resolve_sensor_def("raw_files_changed").job_name == "publish_package"


@pytest.mark.slow
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


# Killed after the package is validated (the three later moments), a publish is an end-to-end run: test-slow.
@pytest.mark.parametrize(
    "moment",
    ["writing", *(pytest.param(m, marks=pytest.mark.slow) for m in ("before_swap", "between_renames", "after_swap"))],
)
def test_a_publish_killed_at_any_moment_loses_nothing_and_the_next_run_recovers(project, moment):
    """The publish step in a small process (tests/publish_paused.py), killed at each moment of publishing:
    outputs/ is the previous package or the new one, whole, or (between the two renames) the previous one is
    set aside whole and the next run's first step puts it back."""
    before = snapshot(project.outputs)
    marker = project.root / "paused"
    run = subprocess.Popen(
        [sys.executable, "-m", "tests.publish_paused", str(project.outputs), moment, str(marker)],
        cwd=PROJECT_DIR,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert run.poll() is None, "the publish ended before reaching the moment"
        assert time.monotonic() < deadline, f"the publish never reached {moment}"
        time.sleep(0.05)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()

    left = sorted(p.name for p in project.root.glob(".outputs.*"))
    if moment == "between_renames":
        assert not project.outputs.exists() and left == [".outputs.previous-killed-run", ".outputs.staging-killed-run"]
        assert snapshot(project.root / ".outputs.previous-killed-run") == before  # set aside whole
    elif moment == "after_swap":
        assert snapshot(project.outputs) != before and package_is_whole(project.outputs)
        assert left == [".outputs.previous-killed-run"]
    else:
        assert snapshot(project.outputs) == before, "a killed publish changed outputs/"
        assert left == [".outputs.staging-killed-run"]
    kept = snapshot(project.outputs) if project.outputs.exists() else None

    assert package.remove_stale_staging(project.outputs)  # what the next run does first
    assert not list(project.root.glob(".outputs.*"))
    # Whole: the package that was there, byte for byte (the previous one, valid as published, or the new one
    # validated above), rather than validated again.
    assert snapshot(project.outputs) == (before if moment != "after_swap" else kept)


@pytest.mark.slow
def test_the_next_run_puts_back_a_package_left_aside(project):
    """End to end for the hardest moment: a run killed between its two renames, then a full build."""
    before = snapshot(project.outputs)
    project.outputs.rename(project.root / ".outputs.previous-killed-run")
    build = project.build()
    assert build.result.success, build.step_failures()
    assert not list(project.root.glob(".outputs.*"))
    assert snapshot(project.outputs) == before


def test_the_postgres_instance_config_names_a_driver_that_is_installed():
    """deploy/dagster.postgres.yaml resolves to SQLAlchemy's psycopg2 dialect, which is pinned; a plain postgresql://
    address would load psycopg 3, which is not (ModuleNotFoundError when the first run starts). No server is
    needed: the engine is created, not connected."""
    import sqlalchemy
    import yaml
    from dagster_postgres.utils import pg_url_from_config

    config = yaml.safe_load((PROJECT_DIR / "deploy" / "dagster.postgres.yaml").read_text(encoding="utf-8"))
    database = config["storage"]["postgres"]["postgres_db"]
    from_env = {"DAGSTER_PG_HOST": "localhost", "DAGSTER_PG_PORT": 5433, "DAGSTER_PG_PASSWORD": "secret"}
    resolved = {k: (from_env[v["env"]] if isinstance(v, dict) else v) for k, v in database.items()}
    engine = sqlalchemy.create_engine(pg_url_from_config({"postgres_db": resolved}))
    assert (engine.dialect.name, engine.dialect.driver) == ("postgresql", "psycopg2")


class Receiver:
    """A webhook receiver on loopback that keeps what it is sent."""

    def __init__(self):
        received = self.received = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        """Stop serving and close the socket: a post to it is then refused at once (a socket left listening
        would accept the connection and leave the post waiting for its 10 s timeout)."""
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()


def failed_run_context():
    @dg.op
    def read_manifest():
        raise dg.Failure(description="raw/sources.yaml: files entry 4: sha256 does not match the file")

    @dg.job(name="publish_package")
    def job():
        read_manifest()

    instance = dg.DagsterInstance.ephemeral()
    result = job.execute_in_process(instance=instance, raise_on_error=False)
    return dg.build_run_status_sensor_context(
        sensor_name="failed_run_webhook",
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event(),
    ).for_run_failure()


def test_a_failed_run_is_posted_to_the_webhook_with_the_failing_step_and_its_message(receiver, monkeypatch):
    context = failed_run_context()
    monkeypatch.setenv(WEBHOOK_ENV, receiver.url)
    failed_run_webhook(context)
    [message] = receiver.received
    assert message["run_id"] == context.dagster_run.run_id and message["job"] == "publish_package"
    assert message["status"] == "FAILURE" and "published package was not changed" in message["text"]
    assert message["steps"] == ["read_manifest: raw/sources.yaml: files entry 4: sha256 does not match the file"]


def test_without_a_webhook_nothing_is_posted_and_an_unreachable_one_names_the_setting(receiver, monkeypatch):
    context = failed_run_context()
    monkeypatch.delenv(WEBHOOK_ENV, raising=False)
    failed_run_webhook(context)
    assert receiver.received == []
    receiver.close()
    monkeypatch.setenv(WEBHOOK_ENV, receiver.url)
    with pytest.raises(Exception, match=f"posting run {context.dagster_run.run_id}'s failure to {WEBHOOK_ENV} failed"):
        failed_run_webhook(context)


def test_the_package_freshness_deadline_falls_after_the_weekly_publish_it_expects():
    """The package's freshness policy and the weekly schedule are declared apart; they must agree: the deadline
    is on the day the schedule publishes, in the same time zone, later that morning, and the package may be as old
    as the interval between two scheduled publishes. A schedule moved past the deadline, or to another day, would
    have the package reported stale every week."""
    defs = load_defs()
    policy = defs.resolve_assets_def("datapackage").specs_by_key[dg.AssetKey("datapackage")].freshness_policy
    schedule = defs.resolve_schedule_def("weekly_publish")
    minute, hour, _, _, weekday = schedule.cron_schedule.split()
    d_minute, d_hour, _, _, d_weekday = policy.deadline_cron.split()
    assert policy.timezone == schedule.execution_timezone
    assert d_weekday == weekday
    assert (int(d_hour), int(d_minute)) > (int(hour), int(minute))
    assert policy.lower_bound_delta.days >= 7  # one scheduled publish a week


@pytest.mark.slow
def test_a_publish_of_only_what_a_new_file_feeds_equals_a_full_publish(project):
    """With the warehouse of the last publish, a new edition runs its raw asset, the manifest's readers and what
    they feed (SV_CHANGED_FILES, as `make accept` sets it), not the other raw files; a full publish of the same
    raw/ afterwards finds nothing to change."""
    from tests.test_new_editions import add_edition

    env = project.cli_env() | {"FORCE": "1"}
    build = [sys.executable, "-m", "pipeline.operations.build"]
    logs = project.root / "logs"
    assert subprocess.run(build, cwd=PROJECT_DIR, env=env, capture_output=True).returncode == 0
    source = "outcomes/ons-els-homicide-offences-2025-02-11.csv"
    new = "outcomes/ons-els-homicide-offences-subset-test.csv"
    add_edition(project, source, new, "ons__homicide_subset_test", (project.raw / source).read_bytes())
    before = snapshot(project.outputs)

    def materialised(run_env: dict) -> set[str]:
        done = subprocess.run(build, cwd=PROJECT_DIR, env=run_env, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        log = max(logs.glob("make-data-*.log"), key=lambda p: p.stat().st_mtime)
        return set(re.findall(r"ASSET_MATERIALIZATION - Materialized value (\w+)\.", log.read_text(encoding="utf-8")))

    subset = materialised(env | {"SV_CHANGED_FILES": new})
    assert "raw_ons__homicide_subset_test" in subset and "datapackage" in subset
    assert "raw_ons__homicide_offences_2025_02_11" not in subset and "raw_ons__pfa_ye_mar2019" not in subset
    published = snapshot(project.outputs)
    assert published != before and "ons__homicide_subset_test" in published["data/area_outcomes.csv"].decode()
    everything = materialised(env)
    assert subset < everything and len(subset) < 0.6 * len(everything)
    assert snapshot(project.outputs) == published


def test_the_event_listener_posts_a_program_that_exited_and_answers_supervisord(receiver, monkeypatch, tmp_path):
    """supervisord's event listener protocol (pipeline/operations/alerts.py), fed as supervisord feeds it: a program
    that exited is posted, saying what and when; a tick with nothing changed posts nothing; each event is answered."""
    monkeypatch.setenv(WEBHOOK_ENV, receiver.url)
    monkeypatch.setenv("SV_RAW_DIR", str(tmp_path))
    exited = "processname:daemon groupname:daemon from_state:RUNNING expected:0 pid:4242"
    tick = "when:1201063880"
    events = [("PROCESS_STATE_EXITED", exited), ("TICK_5", tick)]
    stdin = io.StringIO("".join(f"ver:3.0 server:supervisor eventname:{e} len:{len(p)}\n{p}" for e, p in events))
    stdout = io.StringIO()
    alerts.listen(alerts.Listener(str(tmp_path), "pipeline.definitions", log=io.StringIO()), stdin, stdout)
    assert stdout.getvalue() == "READY\nRESULT 2\nOK" * 2 + "READY\n"
    [message] = receiver.received
    assert (message["alert"], message["process"], message["pid"]) == ("process_exited", "daemon", 4242)
    assert message["at"].startswith(time.strftime("%Y-%m-%d", time.gmtime()))
    assert receiver.url not in json.dumps(message)


def test_a_code_server_that_lost_its_cleanup_thread_is_told_until_it_starts_again(tmp_path):
    log = tmp_path / "code-server.log"
    log.write_text(f"{alerts.CODE_SERVER_STARTED} for module pipeline.definitions in process 1\n")
    assert not alerts.code_server_lost_cleanup(log)
    with log.open("a") as handle:
        handle.write(f"{alerts.CLEANUP_DIED}:\nTraceback (most recent call last):\n")
    assert alerts.code_server_lost_cleanup(log)
    with log.open("a") as handle:
        handle.write(f"{alerts.CODE_SERVER_STARTED} for module pipeline.definitions in process 2\n")
    assert not alerts.code_server_lost_cleanup(log)
    assert not alerts.code_server_lost_cleanup(tmp_path / "missing.log")
