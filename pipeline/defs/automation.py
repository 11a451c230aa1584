"""When the package is rebuilt, and who hears when a run fails.

A weekly schedule and a sensor that reacts to changes in raw/ are off until switched on: in the UI (Automation,
toggle) or with `dagster schedule start weekly_publish` / `dagster sensor start raw_files_changed` while the
daemon runs. A deployment may change their pace: SV_PUBLISH_CRON (default Mondays 06:00 UK time) and
SV_SENSOR_INTERVAL_SECONDS (default 60). The failure sensor is on wherever a daemon runs and posts a failed publish
or fetch (acquisition.py) to SV_FAILURE_WEBHOOK_URL when that is set, a run failed by run monitoring at its maximum
run time (a stuck run) included; so is the freshness deadline's schedule, which posts a package not republished in
time. (A process of the served stack that dies is posted by supervisord's event listener,
pipeline/operations/alerts.py.)
"""

import datetime
import hashlib
import json
import os
import urllib.error
import urllib.request

import dagster as dg

from pipeline.defs import acquisition
from pipeline.defs.package import WEEKLY
from pipeline.defs.resources import ProjectPaths

publish_job = dg.define_asset_job(
    "publish_package",
    # Everything but the fetch (acquisition.py): a publish reads raw/ as it is and opens no network connection.
    selection=dg.AssetSelection.all() - dg.AssetSelection.groups(acquisition.GROUP),
    description="Materialise every asset, run every check, and publish outputs/ if all pass.",
    # Run monitoring (deploy/dagster.postgres.yaml) fails a run still going after this long: one whose worker died
    # with the code server would otherwise stay STARTED and hold the one-run queue forever. A publish takes ~1 min.
    tags={"dagster/max_runtime": os.environ.get("SV_MAX_RUNTIME_SECONDS", "1800")},
)

weekly_publish = dg.ScheduleDefinition(
    name="weekly_publish",
    job=publish_job,
    cron_schedule=os.environ.get("SV_PUBLISH_CRON", "0 6 * * 1"),  # Mondays 06:00 UK time
    execution_timezone="Europe/London",
    description="Rebuild and republish the data package every Monday morning (SV_PUBLISH_CRON changes when).",
)


def raw_digest(paths: ProjectPaths) -> str:
    """One sha256 over every file in raw/ (manifest included), by content, not modification time."""
    digest = hashlib.sha256()
    for path in sorted(p for p in paths.raw.rglob("*") if p.is_file()):
        digest.update(path.relative_to(paths.raw).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


@dg.sensor(
    job=publish_job,
    minimum_interval_seconds=int(os.environ.get("SV_SENSOR_INTERVAL_SECONDS", "60")),
    description="Starts the publish job when the content of any file in raw/ or the manifest changes "
    "(the first evaluation after switching on publishes once, to match outputs/ to raw/).",
)
def raw_files_changed(context: dg.SensorEvaluationContext, paths: ProjectPaths):
    digest = raw_digest(paths)
    if context.cursor == digest:
        return dg.SkipReason("raw/ unchanged since the last run this sensor started")
    context.update_cursor(digest)
    return dg.RunRequest(run_key=f"raw-{digest[:16]}", tags={"raw_digest": digest})


WEBHOOK_ENV = "SV_FAILURE_WEBHOOK_URL"


def without_class(error) -> str:
    """The error's own words, without the qualified class name Dagster puts before them."""
    cls, _, text = error.message.partition(": ")
    return (text if cls.endswith(error.cls_name or "\0") else error.message).strip()


def iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC).isoformat(timespec="seconds")


def failure_message(context: dg.RunFailureSensorContext) -> dict:
    """What a team's chat or pager receives: which run, which step failed with what, and where to look. A run
    failed at or after its maximum run time (dagster/max_runtime) is a stuck run: its worker died or hung, and run
    monitoring ended it so that the queue moves on."""
    steps = [
        f"{event.step_key}: {without_class(event.step_failure_data.error)}"
        for event in context.get_step_failure_events()
        if event.step_failure_data.error is not None
    ]
    run = context.dagster_run
    record = context.instance.get_run_record_by_id(run.run_id)
    started = record.start_time if record else None
    failed = record.end_time if record and record.end_time else datetime.datetime.now(datetime.UTC).timestamp()
    limit = float(run.tags.get("dagster/max_runtime", "inf"))
    stuck = started is not None and failed - started >= limit
    if started is not None and stuck:
        text = (
            f"Run {run.run_id} of {run.job_name} was stuck: still not finished {failed - started:.0f} s after it "
            f"started (its maximum run time is {limit:.0f} s), so run monitoring failed it; the published package "
            "was not changed."
        )
    else:
        text = f"Run {run.run_id} of {run.job_name} failed; the published package was not changed."
    return {
        "alert": "stuck_run" if stuck else "run_failed",
        "text": text,
        "run_id": run.run_id,
        "job": run.job_name,
        "status": run.status.value,
        "failure": context.failure_event.message,
        "steps": steps,
        "tags": dict(run.tags),
        "started_at": iso(started),
        "at": iso(failed),
    }


def post(body: dict, what: str) -> None:
    """Posts `body` to the webhook; an error names `what` could not be posted (the tick shows it in the UI,
    Automation; it is not retried)."""
    url = os.environ[WEBHOOK_ENV]
    request = urllib.request.Request(
        url, data=json.dumps(body, sort_keys=True).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10):
            pass
    except (urllib.error.URLError, OSError) as error:
        raise RuntimeError(f"posting {what} to {WEBHOOK_ENV} failed: {error}") from error


@dg.run_failure_sensor(
    name="failed_run_webhook",
    monitored_jobs=[publish_job, acquisition.fetch_job],
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=f"Posts a JSON message to the URL in {WEBHOOK_ENV} (a chat or pager webhook) when a publish or "
    "fetch run fails; does nothing when it is unset.",
)
def failed_run_webhook(context: dg.RunFailureSensorContext):
    url = os.environ.get(WEBHOOK_ENV)
    if not url:
        context.log.info(f"{WEBHOOK_ENV} is not set: no one to tell about run {context.dagster_run.run_id}")
        return
    post(failure_message(context), f"run {context.dagster_run.run_id}'s failure")


PACKAGE = dg.AssetKey("datapackage")


@dg.schedule(
    name="missed_freshness_deadline",
    job=publish_job,
    cron_schedule=WEEKLY.deadline_cron,
    execution_timezone=WEEKLY.timezone,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description=f"Never starts a run: at the package's freshness deadline, posts to {WEBHOOK_ENV} when the package "
    "was not published within the freshness policy's window before it (the UI shows the same policy failing).",
)
def missed_freshness_deadline(context: dg.ScheduleEvaluationContext):
    deadline = context.scheduled_execution_time
    window_start = deadline - WEEKLY.lower_bound_delta
    latest = context.instance.get_latest_materialization_event(PACKAGE)
    if latest is not None and latest.timestamp >= window_start.timestamp():
        return dg.SkipReason(f"the package was published at {iso(latest.timestamp)}, in time")
    last = iso(latest.timestamp) if latest is not None else None
    message = {
        "alert": "missed_freshness_deadline",
        "text": f"The data package was not published between {window_start.isoformat(timespec='seconds')} and "
        f"its deadline {deadline.isoformat(timespec='seconds')}; last published "
        f"{last or 'never (in this instance)'}.",
        "asset": PACKAGE.to_user_string(),
        "deadline": deadline.isoformat(timespec="seconds"),
        "window_start": window_start.isoformat(timespec="seconds"),
        "last_published": last,
        "at": iso(datetime.datetime.now(datetime.UTC).timestamp()),
    }
    if os.environ.get(WEBHOOK_ENV):
        post(message, "the missed freshness deadline")
    return dg.SkipReason(message["text"])
