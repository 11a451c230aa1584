"""Acquisition in the served stack: the fetch as an asset, on a schedule, a failed fetch reported.

`fetched_candidate` runs what `make fetch` runs (pipeline/sources/fetch.py) for every source the manifest gives a
`fetch:` block: it is the only asset that opens a network connection, only to the hosts each block declares. It is
not part of the publish job, and nothing it brings in is published until a person accepts the candidate
(`make accept CANDIDATE=<id>`, pipeline/sources/candidates.py). Its materialisation shows the candidate's report
(what was fetched, the tables that would change, the new quality flags, the row-level diff); its check fails while
a candidate waits for review. A source that fails fails the run, with the source, the address and the fault, and
the failure sensor (automation.py) posts it to SV_FAILURE_WEBHOOK_URL. The weekly schedule is off until switched
on (`dagster schedule start weekly_fetch`); SV_FETCH_CRON changes its time.
"""

import json
import os

import dagster as dg

from pipeline.defs.resources import ProjectPaths
from pipeline.sources import candidates
from pipeline.sources.fetch import Settings, fetch_all
from pipeline.sources.manifest import ManifestError

GROUP = "acquisition"
ASSET = "fetched_candidate"


def waiting(folder) -> list[str]:
    """Candidates whose package built and that nobody has accepted yet (a refused one is deleted)."""
    found = []
    for path in sorted(folder.glob(f"*/{candidates.DESCRIPTION}")):
        description = json.loads(path.read_text(encoding="utf-8"))
        if description["build"] == "passed" and description["new_files"] and not description.get("accepted"):
            found.append(path.parent.name)
    return found


@dg.asset(
    name=ASSET,
    group_name=GROUP,
    kinds={"http"},
    owners=["team:data"],
    check_specs=[
        dg.AssetCheckSpec(
            "no_candidate_awaits_review",
            asset=ASSET,
            description="Fails (as a warning) while a fetched candidate whose package builds has not been accepted "
            "or deleted: `make accept CANDIDATE=<id>` publishes it through the release gate.",
        )
    ],
)
def fetched_candidate(context: dg.AssetExecutionContext, paths: ProjectPaths) -> dg.MaterializeResult:
    """Every declared source fetched from its publisher and checked; what is new becomes one candidate (raw/, the
    manifest and outputs/ are not touched). Only this asset opens network connections."""
    folder = candidates.candidates_dir()
    try:
        outcome = fetch_all(paths.raw, paths.outputs, folder, settings=Settings.from_env())
    except ManifestError as exc:
        raise dg.Failure(description=str(exc)) from None
    made = [str(c / candidates.REPORT) for c in outcome.candidates]
    if outcome.failures:
        lines = [str(error) for error in outcome.failures]
        lines += [f"candidate made from the other sources: {path}" for path in made]
        lines.append(f"{len(outcome.failures)} source(s) failed; raw/, the manifest and outputs/ are as they were")
        raise dg.Failure(description="\n".join(lines))
    pending = waiting(folder)
    metadata: dict = {
        "unchanged": dg.MetadataValue.json(outcome.unchanged),
        "candidates_awaiting_review": dg.MetadataValue.json(pending),
    }
    if outcome.candidates:
        newest = outcome.candidates[-1]
        metadata["candidate"] = dg.MetadataValue.path(str(newest))
        metadata["report"] = dg.MetadataValue.md((newest / candidates.REPORT).read_text(encoding="utf-8"))
        metadata["accept_with"] = f"make accept CANDIDATE={newest.name}"
    return dg.MaterializeResult(
        metadata=metadata,
        check_results=[
            dg.AssetCheckResult(
                check_name="no_candidate_awaits_review",
                passed=not pending,
                severity=dg.AssetCheckSeverity.WARN,
                description=f"awaiting review: {', '.join(pending)}" if pending else "no candidate waits",
            )
        ],
    )


fetch_job = dg.define_asset_job(
    "fetch_sources",
    selection=dg.AssetSelection.groups(GROUP),
    description="Fetch every declared source from its publisher into a candidate for review; publishes nothing.",
    tags={"dagster/max_runtime": os.environ.get("SV_MAX_RUNTIME_SECONDS", "1800")},
)

weekly_fetch = dg.ScheduleDefinition(
    name="weekly_fetch",
    job=fetch_job,
    cron_schedule=os.environ.get("SV_FETCH_CRON", "0 5 * * 1"),  # Mondays 05:00 UK time, before the publish
    execution_timezone="Europe/London",
    description="Fetch every declared source each Monday morning (SV_FETCH_CRON changes when); a new version "
    "waits as a candidate until accepted.",
)
