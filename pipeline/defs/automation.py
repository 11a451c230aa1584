"""When the package is rebuilt, and who hears when a run fails.

A weekly schedule and a sensor that reacts to changes in raw/ are off until switched on: in the UI (Automation,
toggle) or with `dagster schedule start weekly_publish` / `dagster sensor start raw_files_changed` while the
daemon runs. A deployment may change their pace: SV_PUBLISH_CRON (default Mondays 06:00 UK time) and
SV_SENSOR_INTERVAL_SECONDS (default 60). The failure sensor is on wherever a daemon runs and posts a failed publish
or fetch (acquisition.py) to SV_FAILURE_WEBHOOK_URL when that is set.
"""

import hashlib
import json
import os
import urllib.error
import urllib.request

import dagster as dg

from pipeline.defs import acquisition
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


def failure_message(context: dg.RunFailureSensorContext) -> dict:
    """What a team's chat or pager receives: which run, which step failed with what, and where to look."""
    steps = [
        f"{event.step_key}: {without_class(event.step_failure_data.error)}"
        for event in context.get_step_failure_events()
        if event.step_failure_data.error is not None
    ]
    run = context.dagster_run
    return {
        "text": f"Run {run.run_id} of {run.job_name} failed; the published package was not changed.",
        "run_id": run.run_id,
        "job": run.job_name,
        "status": run.status.value,
        "failure": context.failure_event.message,
        "steps": steps,
        "tags": dict(run.tags),
    }


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
    body = json.dumps(failure_message(context), sort_keys=True).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10):
            pass
    except (urllib.error.URLError, OSError) as error:
        # The sensor's tick shows this error in the UI (Automation, failed_run_webhook); it is not retried.
        raise RuntimeError(
            f"posting run {context.dagster_run.run_id}'s failure to {WEBHOOK_ENV} failed: {error}"
        ) from error
