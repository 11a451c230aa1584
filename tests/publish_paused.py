"""Publish a package and stop at one moment, so that a test can kill this process exactly there.

    python -m tests.publish_paused <outputs> <moment> <marker>

The package published is the one in <outputs> with a changed changelog (valid, and different). The moment is
`writing` (half the files written to staging), `before_swap` (validated, nothing renamed yet),
`between_renames` (the previous package set aside, the new one not yet in place) or `after_swap` (the new one
in place, the previous one not yet deleted). The process touches <marker>, then sleeps until killed. Fault
injection lives here, in the tests, not in the pipeline.
"""

import json
import os
import shutil
import sys
import time
from pathlib import Path

from pipeline.publish import package


def pause(marker: Path) -> None:
    marker.touch()
    time.sleep(600)


def main(outputs: Path, moment: str, marker: Path) -> None:
    files = {
        p.relative_to(outputs).as_posix(): p.read_bytes()
        for p in sorted(outputs.rglob("*"))
        if p.is_file() and p.name != "datapackage.json"
    }
    files["CHANGELOG.md"] += b"\nA package published by a run that was killed.\n"
    descriptor = json.loads((outputs / "datapackage.json").read_text(encoding="utf-8"))

    write_bytes, rename, rmtree = Path.write_bytes, os.rename, shutil.rmtree
    written = []

    def counting_write(path: Path, data: bytes) -> int:
        written.append(path)
        if moment == "writing" and len(written) == len(files) // 2:
            pause(marker)
        return write_bytes(path, data)

    def renaming(source, target) -> None:
        rename(source, target)
        if moment == "between_renames" and Path(target).name.startswith(f".{outputs.name}.previous-"):
            pause(marker)

    def removing(path, *args, **kwargs) -> None:
        if moment == "after_swap" and Path(path).name.startswith(f".{outputs.name}.previous-"):
            pause(marker)
        rmtree(path, *args, **kwargs)

    def publishing(staging: Path, target: Path) -> None:
        if moment == "before_swap":
            pause(marker)
        original_publish(staging, target)

    original_publish = package.publish
    Path.write_bytes = counting_write
    package.os.rename = renaming
    package.shutil.rmtree = removing
    package.publish = publishing
    package.build_and_publish(outputs, package.staging_dir(outputs, "killed-run"), descriptor, files)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]))
