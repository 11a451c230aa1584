"""One archive per version: `make release` writes dist/<name>-<version>.zip and dist/SHA256SUMS.

The archive holds one folder, <name>-<version>/, with the published package as it is in outputs/ (CSVs,
Parquet, datapackage.json, the card, dictionary, changelog, charts, CITATION.cff), the raw files with their
manifest under raw/ (so every `raw_file` in a table opens, relative to that folder), and a SHA256SUMS of its
own files. The same outputs/ and raw/ give the same bytes: entries in sorted order, each dated with the
release date, the same permissions, the same compression.

    python -m pipeline.archive [outputs] [raw] [dist]
"""

import hashlib
import json
import sys
import zipfile
from pathlib import Path

from pipeline.locations import PROJECT_DIR, outputs_dir, raw_dir

SUMS = "SHA256SUMS"


def files_under(folder: Path, prefix: str = "") -> dict[str, bytes]:
    return {
        prefix + path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def sha256sums(files: dict[str, bytes]) -> bytes:
    """The format `sha256sum -c` reads: digest, two spaces, path."""
    return "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in sorted(files.items())).encode()


def release_name(outputs: Path) -> tuple[str, str, tuple[int, int, int, int, int, int]]:
    descriptor = json.loads((outputs / "datapackage.json").read_text(encoding="utf-8"))
    version, created = descriptor["version"], descriptor["created"]
    year, month, day = (int(part) for part in created[:10].split("-"))
    return f"{descriptor['name']}-{version}", version, (year, month, day, 0, 0, 0)


def build_archive(outputs: Path, raw: Path, dist: Path) -> Path:
    """Write the version's archive and dist/SHA256SUMS (which lists every archive in dist/); return the archive."""
    name, _, stamp = release_name(outputs)
    contents = files_under(outputs) | files_under(raw, "raw/")
    contents[SUMS] = sha256sums(contents)
    dist.mkdir(parents=True, exist_ok=True)
    archive = dist / f"{name}.zip"
    partial = archive.with_suffix(".zip.part")
    with zipfile.ZipFile(partial, "w") as zf:
        for relative, data in sorted(contents.items()):
            entry = zipfile.ZipInfo(f"{name}/{relative}", date_time=stamp)
            entry.external_attr = 0o644 << 16
            entry.create_system = 3  # Unix, whatever system builds it
            zf.writestr(entry, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    partial.replace(archive)
    (dist / SUMS).write_bytes(sha256sums({p.name: p.read_bytes() for p in sorted(dist.glob("*.zip"))}))
    return archive


def main(argv: list[str]) -> int:
    outputs = Path(argv[0]) if argv else outputs_dir()
    raw = Path(argv[1]) if len(argv) > 1 else raw_dir()
    dist = Path(argv[2]) if len(argv) > 2 else PROJECT_DIR / "dist"
    archive = build_archive(outputs, raw, dist)
    print(f"{archive} ({archive.stat().st_size:,} bytes); verify with: cd {dist} && sha256sum -c {SUMS}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
