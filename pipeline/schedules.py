"""When the package is rebuilt: a weekly schedule, and a sensor that reacts to changes in raw/.

Both are off until switched on: in `make ui` (Automation, toggle) or with
`dagster schedule start weekly_publish` / `dagster sensor start raw_files_changed` while the daemon runs.
"""

import hashlib

import dagster as dg

from pipeline.resources import ProjectPaths

publish_job = dg.define_asset_job(
    "publish_package",
    selection=dg.AssetSelection.all(),
    description="Materialise every asset, run every check, and publish outputs/ if all pass.",
)

weekly_publish = dg.ScheduleDefinition(
    name="weekly_publish",
    job=publish_job,
    cron_schedule="0 6 * * 1",  # Mondays 06:00 UK time
    execution_timezone="Europe/London",
    description="Rebuild and republish the data package every Monday morning.",
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
    minimum_interval_seconds=60,
    description="Starts the publish job when the content of any file in raw/ or the manifest changes "
    "(the first evaluation after switching on publishes once, to match outputs/ to raw/).",
)
def raw_files_changed(context: dg.SensorEvaluationContext, paths: ProjectPaths):
    digest = raw_digest(paths)
    if context.cursor == digest:
        return dg.SkipReason("raw/ unchanged since the last run this sensor started")
    context.update_cursor(digest)
    return dg.RunRequest(run_key=f"raw-{digest[:16]}", tags={"raw_digest": digest})
