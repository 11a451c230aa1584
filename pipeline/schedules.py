"""The publish job and its schedule."""

import dagster as dg

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
