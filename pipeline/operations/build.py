"""`make data`: publish the package, or say quickly that nothing needs publishing.

A full run materialises every asset (tens of seconds). When nothing it depends on has changed since the
last successful publish (the files in raw/ and release/, the code in pipeline/ and schemas/, the pinned
requirements) and outputs/ is still exactly what that publish wrote, the run is skipped: the same
inputs would give byte-identical files. FORCE=1 runs anyway. Scheduled and sensor runs always run.

SV_CHANGED_FILES (paths under raw/, comma-separated; set by `make accept` when the warehouse holds the last
publish) runs only what those files and the manifest feed: each file's raw asset and everything downstream of
it, the manifest asset and the assets that read it directly, and everything downstream of those. The other raw
assets' tables are read from the warehouse as the last publish left them.

What a person reads: the first line of each event at INFO and above, and, when the run fails, a summary last:
each failed check and failed step with its file, row or cell, column, value and what to do, and that outputs/ was
left as it was, with the reason last. The whole output, DEBUG events and stack frames included, is kept in
`.state/logs/make-data-<run start>.log`, and every event in the run's record, which the UI shows.
"""

import datetime as dt
import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

from pipeline.operations.locations import PROJECT_DIR, default_warehouse, outputs_dir, raw_dir, release_dir
from pipeline.release.gate import ReleaseFileError, acknowledgements
from pipeline.release.ledger import LEDGER, parse
from pipeline.sources.manifest import ManifestError, load_manifest

INPUTS = ("pipeline", "schemas", "requirements.lock")
# The whole publish job from the command line, with this environment's `dg` (the current Dagster CLI; it finds
# the code location through [tool.dg] in pyproject.toml).
JOB_COMMAND = [str(Path(sys.executable).parent / "dg"), "launch", "--job", "publish_package"]
CHANGED_ENV = "SV_CHANGED_FILES"
# A console event's first line: "<date> <time> <zone> - dagster - <LEVEL> - <job> - <run id> - <step> - <message>".
# The exception's dotted class name in front of a step failure's message ("package.module.Failure: ").
QUALIFIED_CLASS = re.compile(r"^[\w.]+\.\w+: ")
EVENT_LINE = re.compile(r"^\S+ \S+ \S+ - dagster - (?P<level>[A-Z]+) - (?:[^ ]+ - [0-9a-f-]{36} - )?(?P<rest>.*)$")


def cli_env(base: dict | None = None) -> dict:
    """The environment for JOB_COMMAND: `dg` warns unless the project's virtual environment is the active one."""
    return (os.environ if base is None else base) | {"VIRTUAL_ENV": sys.prefix}


def tree_digest(paths: list[Path], root: Path) -> str:
    """sha256 over the relative names and contents of every file under `paths` (caches excluded)."""
    digest = hashlib.sha256()
    files = sorted(
        f for p in paths for f in ([p] if p.is_file() else p.rglob("*")) if f.is_file() and "__pycache__" not in f.parts
    )
    for file in files:
        digest.update(str(file.relative_to(root) if file.is_relative_to(root) else file).encode() + b"\0")
        digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


def stamp_path() -> Path:
    return Path(default_warehouse()).with_name("last_publish.sha256")


def current_stamp(raw: Path, outputs: Path) -> str:
    # release/ too: an edited acknowledgement or version ledger changes what a publish may do.
    inputs = tree_digest([raw, release_dir(), *(PROJECT_DIR / name for name in INPUTS)], PROJECT_DIR)
    published = tree_digest([outputs], outputs) if outputs.exists() else "none"
    return f"{inputs} {published}"


def main() -> int:
    raw, outputs = raw_dir(), outputs_dir()
    try:
        load_manifest(raw)  # a malformed manifest is named here, before Dagster logs it with its stack trace
        acknowledgements(release_dir())  # so is a malformed release/acknowledged.yaml, or version ledger
        parse(release_dir() / LEDGER)
    except (ManifestError, ReleaseFileError) as exc:
        print(f"make data: {exc}", file=sys.stderr)
        return 1
    stamp = stamp_path()
    if not os.environ.get("FORCE") and stamp.is_file() and stamp.read_text().strip() == current_stamp(raw, outputs):
        print(f"nothing changed since the last publish ({stamp}): outputs/ is up to date. FORCE=1 to run anyway.")
        return 0
    changed = [p for p in os.environ.get(CHANGED_ENV, "").split(",") if p]
    command = [*JOB_COMMAND[:2], "--assets", ",".join(rebuild_selection(raw, changed))] if changed else JOB_COMMAND
    log = log_path()
    returncode = run_logged(command, log)
    if returncode == 0:
        record_versions(outputs, release_dir())
        stamp.write_text(current_stamp(raw, outputs) + "\n")
        print(f"published {outputs} (full log: {log})")
        return 0
    stamp.unlink(missing_ok=True)
    print("\n".join(failure_summary(log, outputs)), file=sys.stderr)
    return returncode


def rebuild_selection(raw: Path, changed: list[str]) -> list[str]:
    """The asset keys a publish runs when only the files `changed` (paths under raw/) and the manifest are new."""
    import dagster as dg

    from pipeline.defs.project import assets_for
    from pipeline.defs.raw import GROUP as RAW_GROUP
    from pipeline.defs.resources import ProjectPaths
    from pipeline.transform.warehouse import MANIFEST_ASSET
    from schemas import RAW_TABLES
    from schemas.raw import layout_tables

    manifest = load_manifest(raw)
    ids = {f.file_id for f in manifest.files.values() if f.path in changed}
    tables = [*RAW_TABLES.values(), *layout_tables(manifest.files.values())]
    files = dg.AssetSelection.assets(*(t.name for t in tables if t.file_id in ids))
    listing = dg.AssetSelection.assets(MANIFEST_ASSET)
    # Every raw asset depends on the manifest (its sha256 is checked there); only the other readers follow it.
    readers = listing.downstream(depth=1, include_self=False) - dg.AssetSelection.groups(RAW_GROUP)
    selection = files.downstream() | listing | readers.downstream()
    return sorted(key.to_user_string() for key in selection.resolve(assets_for(ProjectPaths(raw_dir=str(raw)))))


def record_versions(outputs: Path, release: Path) -> None:
    """The committed ledger (release/versions.csv) follows the published copy, which holds every row it held plus
    the new release's: `git diff release/` shows the row to commit. Only `make data` writes release/; a build
    elsewhere (a test's, a scheduled one) keeps its rows in its package's copy, which the next build reads too."""
    published = outputs / LEDGER
    if published.is_file() and (
        not (release / LEDGER).is_file() or (release / LEDGER).read_bytes() != published.read_bytes()
    ):
        (release / LEDGER).write_bytes(published.read_bytes())


def log_path() -> Path:
    folder = Path(default_warehouse()).parent / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"make-data-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}.log"


def run_logged(command: list[str], log: Path) -> int:
    """Run `command`, every line of its output into `log`; on the console, the first line of each event at INFO
    and above (Dagster writes each step's and asset's progress at DEBUG: those stay in the log)."""
    with (
        log.open("w", encoding="utf-8") as full,
        subprocess.Popen(
            command, cwd=PROJECT_DIR, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        ) as job,
    ):
        assert job.stdout is not None
        for line in job.stdout:
            full.write(line)
            event = EVENT_LINE.match(line.rstrip("\n"))
            # A step skipped because an earlier one failed lists every output it waited for: the step is enough.
            if event and event["level"] != "DEBUG" and "Dependencies for step" not in line:
                print(f"{event['level'].lower()}: {event['rest']}"[:300], flush=True)
        return job.wait()


def failure_summary(log: Path, outputs: Path) -> list[str]:
    """Why the newest run failed, read from its record: each failed blocking check and each failed step, with the
    messages the pipeline wrote for them (file, row or cell, column, value, what to do)."""
    reasons = []
    try:
        import dagster as dg  # only when a run failed: a no-op `make data` stays fast

        with dg.DagsterInstance.get() as instance:
            runs = instance.get_runs(limit=1)
            events = instance.all_logs(runs[0].run_id) if runs else []
        for entry in events:
            event = entry.dagster_event
            if event is None:
                continue
            if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
                check = event.asset_check_evaluation_data
                if not check.passed:
                    reasons.append(
                        f"check {check.asset_key.to_user_string()}.{check.check_name} failed: {check.description}"
                    )
            elif event.event_type == dg.DagsterEventType.STEP_FAILURE:
                error = event.step_failure_data.error
                message = QUALIFIED_CLASS.sub("", error.message.strip()) if error else "no message"
                reasons.append(f"step {event.step_key} failed: {' '.join(message.split())}")
    except Exception as exc:  # the summary must not hide the failure it summarises
        reasons.append(f"(the run's record could not be read: {exc})")
    # The reason last: it is what a person reads first after a failure.
    lines = ["", f"make data failed. Nothing was published: {outputs} is as it was. Full log: {log}", "Why:"]
    # Failed steps first, failed checks (file, row, column, value) last.
    ordered = sorted(dict.fromkeys(reasons), key=lambda reason: reason.startswith("check "))
    lines += [f"- {reason}"[:2000] for reason in ordered] or ["- see the full log"]
    return lines


if __name__ == "__main__":
    sys.exit(main())
