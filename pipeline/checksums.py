"""Write the sha256 and size of raw files into the manifest, so that nobody computes them by hand.

    python -m pipeline.checksums raw/mappings/report_claim_verdicts.csv [more paths ...]

Each named file must already have an entry in raw/sources.yaml; only its `sha256:` and `bytes:` lines
change, and the rest of the manifest (comments, order, wording) stays exactly as it was. A third-party
file is never edited in place (add a new file instead): this is for the project's own mappings and for
new entries whose checksum lines were written as placeholders.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from pipeline.manifest import MANIFEST_NAME, sha256_of


def update_checksums(raw_dir: Path, paths: list[Path]) -> list[str]:
    """Rewrite the checksum lines of each file's entry; returns the entries that changed."""
    manifest = raw_dir / MANIFEST_NAME
    text = manifest.read_text(encoding="utf-8")
    changed = []
    for path in paths:
        relative = path.resolve().relative_to(raw_dir.resolve()).as_posix()
        entry = re.search(
            rf"(?m)^(?P<indent>\s+)path: ['\"]?{re.escape(relative)}['\"]?\n(?P<body>(?:(?P=indent).*\n)*?)"
            rf"(?P=indent)sha256: \S*\n(?P=indent)bytes: \S*\n",
            text,
        )
        if entry is None:
            raise SystemExit(f"{manifest}: no files entry with path {relative!r} (followed by sha256 and bytes)")
        indent = entry["indent"]
        block = (
            f"{indent}path: {relative}\n{entry['body']}"
            f"{indent}sha256: {sha256_of(path)}\n{indent}bytes: {path.stat().st_size}\n"
        )
        if block != entry[0]:
            changed.append(relative)
        text = text[: entry.start()] + block + text[entry.end() :]
    manifest.write_text(text, encoding="utf-8")
    return changed


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    paths = [Path(p) for p in argv]
    raw_dir = next((p for p in paths[0].resolve().parents if (p / MANIFEST_NAME).is_file()), None)
    if raw_dir is None:
        raise SystemExit(f"{paths[0]}: not inside a folder with {MANIFEST_NAME}")
    for relative in update_checksums(raw_dir, paths):
        print(f"updated {relative}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
