"""`make data`: publish the package, or say quickly that nothing needs publishing.

A full run materialises every asset (tens of seconds). When nothing it depends on has changed since the
last successful publish (the files in raw/, the code in pipeline/ and schemas/, the pinned
requirements) and outputs/ is still exactly what that publish wrote, the run is skipped: the same
inputs would give byte-identical files. FORCE=1 runs anyway. Scheduled and sensor runs always run.
"""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from pipeline.operations.locations import PROJECT_DIR, default_warehouse, outputs_dir, raw_dir
from pipeline.sources.manifest import ManifestError, load_manifest

INPUTS = ("pipeline", "schemas", "requirements.lock")
# The whole publish job from the command line, with this environment's `dg` (the current Dagster CLI; it finds
# the code location through [tool.dg] in pyproject.toml).
JOB_COMMAND = [str(Path(sys.executable).parent / "dg"), "launch", "--job", "publish_package"]


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
    inputs = tree_digest([raw, *(PROJECT_DIR / name for name in INPUTS)], PROJECT_DIR)
    published = tree_digest([outputs], outputs) if outputs.exists() else "none"
    return f"{inputs} {published}"


def main() -> int:
    raw, outputs = raw_dir(), outputs_dir()
    try:
        load_manifest(raw)  # a malformed manifest is named here, before Dagster logs it with its stack trace
    except ManifestError as exc:
        print(f"make data: {exc}", file=sys.stderr)
        return 1
    stamp = stamp_path()
    if not os.environ.get("FORCE") and stamp.is_file() and stamp.read_text().strip() == current_stamp(raw, outputs):
        print(f"nothing changed since the last publish ({stamp}): outputs/ is up to date. FORCE=1 to run anyway.")
        return 0
    result = subprocess.run(JOB_COMMAND, cwd=PROJECT_DIR, env=cli_env())
    if result.returncode == 0:
        stamp.write_text(current_stamp(raw, outputs) + "\n")
    else:
        stamp.unlink(missing_ok=True)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
