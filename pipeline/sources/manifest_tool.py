"""The manifest tool: add a file or a source to raw/sources.yaml, re-hash files, check it all.

    python -m pipeline.sources.manifest_tool add raw/<path> --like <file_id> --file-id <new id> [--title ...]
        [--source-id ...] [--edition-date YYYY-MM-DD] [--transcribed-from ...]
    python -m pipeline.sources.manifest_tool add-source --source-id ... --title ... --publisher ... --url ...
        --licence ... --kind ... [--date-published YYYY-MM-DD]
    python -m pipeline.sources.manifest_tool rehash [raw/<path> ...]
    python -m pipeline.sources.manifest_tool check

`add` writes a files entry for a new file: its sha256, size and retrieval date (today) computed here, and
how it is read (funding_layout, table_layout, layout_columns, table_options) copied from the entry of a file
in the same layout (`--like`), so a new edition or funding file needs no other edit. `rehash` rewrites the
checksum lines of the project's own files (file ids starting `project__`, the mappings in raw/mappings/);
with no path it re-hashes every one whose content changed. A third-party file is never re-hashed: a
publisher's file is not edited in place, a new version is a new file. `check` reads the manifest and
verifies every listed file. Every command ends by reading the manifest back: a malformed entry is refused
with the entry and field named.

The project's mappings stay in raw/ under the manifest's checksums, beside the sources they map: a run is
then reproducible from the manifest alone, and the tool makes their checksums one command, not hand work.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
from pathlib import Path

import yaml

from pipeline.defs.resources import PROJECT_DIR
from pipeline.sources.manifest import MANIFEST_NAME, ManifestError, load_manifest, sha256_of, verify_file

PROJECT_FILE = "project__"  # file ids of what this project writes itself (mappings, rules)
LAYOUT_FIELDS = ("funding_layout", "table_layout", "layout_columns", "table_options")


def _entry_block(entry: dict) -> str:
    """A files or sources entry as the manifest writes them: '  - file_id: ...' then four-space fields."""
    text = yaml.safe_dump([entry], sort_keys=False, allow_unicode=True, width=110, default_flow_style=False)
    return "".join(f"  {line}\n" for line in text.splitlines())


def _without_empty(value):
    return {k: v for k, v in value.items() if v not in ({}, [], None, "")} if isinstance(value, dict) else value


def _relative(raw_dir: Path, path: Path) -> str:
    try:
        return path.resolve().relative_to(raw_dir.resolve()).as_posix()
    except ValueError:
        raise ManifestError(f"{path}: not inside {raw_dir}") from None


def add_file(
    raw_dir: Path, path: Path, like: str | None, file_id: str, layout: dict | None = None, **fields: str | None
) -> dict:
    """Append a files entry for `path`, read like the file `like`; returns the entry written. `layout` replaces
    parts of the copied layout (a fetched edition's own sheet names and period); `version` and `fetched_from`
    record where a fetched file came from."""
    manifest = load_manifest(raw_dir)
    relative = _relative(raw_dir, path)
    if not path.is_file():
        raise ManifestError(f"{path}: no such file")
    if any(f.path == relative for f in manifest.files.values()):
        raise ManifestError(f"{manifest.path}: {relative} already has an entry (rehash it instead)")
    model = manifest.file(like) if like else None  # no model: a file no layout reads (yet)
    layout = _with_period(manifest.path, model, fields.get("period"), layout)
    entry = {
        "file_id": file_id,
        "path": relative,
        "source_id": fields.get("source_id") or (model.source_id if model else None) or None,
        "title": fields.get("title") or (model.title if model else None),
        "date_retrieved": dt.datetime.now(dt.UTC).date().isoformat(),
        "transcribed_from": fields.get("transcribed_from") or f"added with the manifest tool, read like {like}",
        "verified": fields.get("verified") or "not re-checked",
        # The model's layout as its entry writes it (without the empty parts the manifest's models fill in).
        **{name: _without_empty(getattr(model, name)) for name in LAYOUT_FIELDS if model and getattr(model, name)},
        **(layout or {}),
        "edition_date": fields.get("edition_date") or None,
        "version": fields.get("version") or None,
        "fetched_from": fields.get("fetched_from") or None,
        "sha256": sha256_of(path),
        "bytes": path.stat().st_size,
    }
    entry = {k: v for k, v in entry.items() if v is not None}
    _write_checked(manifest.path, manifest.path.read_text(encoding="utf-8").rstrip("\n") + "\n" + _entry_block(entry))
    return entry


def _with_period(manifest_path: Path, model, period: str | None, layout: dict | None) -> dict | None:
    """The new edition's own period in every place the model's entry words one (the file's and each sheet's): a
    model's period copied unchanged would label every cell of the new edition with the old edition's period."""
    options = (layout or {}).get("table_options") or (model.table_options if model else {})
    worded = bool(options.get("period_as_published")) or any(
        s.get("period_as_published") for s in options.get("sheets") or []
    )
    if not worded:
        return layout
    if layout and "table_options" in layout and not period:
        return layout  # a fetched edition's own period, read from its file
    if not period:
        raise ManifestError(
            f"{manifest_path}: {model.file_id} words its period ({options.get('period_as_published')!r}): give the new "
            "edition's own with --period, as its workbook prints it ('year ending March 2026')"
        )
    options = json.loads(json.dumps(options))  # a copy: the model's entry is not changed
    if options.get("period_as_published"):
        options["period_as_published"] = period
    for sheet in options.get("sheets") or []:
        if sheet.get("period_as_published"):
            sheet["period_as_published"] = period
    return {**(layout or {}), "table_options": _without_empty(options)}


def add_source(raw_dir: Path, **fields: str | None) -> dict:
    """Insert a sources entry at the end of the sources list; returns the entry written."""
    manifest_path = raw_dir / MANIFEST_NAME
    text = manifest_path.read_text(encoding="utf-8")
    entry = {k: v for k, v in fields.items() if v}
    at = re.search(r"(?m)^files:", text)
    if at is None:
        raise ManifestError(f"{manifest_path}: no top-level 'files:' list")
    _write_checked(manifest_path, text[: at.start()].rstrip("\n") + "\n" + _entry_block(entry) + text[at.start() :])
    return entry


def rehash(raw_dir: Path, paths: list[Path]) -> list[str]:
    """Rewrite the checksum lines of the project's own files; returns the paths whose lines changed."""
    manifest = load_manifest(raw_dir)
    by_path = {f.path: f for f in manifest.files.values()}
    if paths:
        chosen = []
        for path in paths:
            relative = _relative(raw_dir, path)
            if relative not in by_path:
                raise ManifestError(f"{manifest.path}: no files entry for {relative} (add it first)")
            if not by_path[relative].file_id.startswith(PROJECT_FILE):
                raise ManifestError(
                    f"{manifest.path}: {relative} is a publisher's file ({by_path[relative].file_id}): it is not "
                    "edited in place; add the new version as a new file"
                )
            chosen.append(by_path[relative])
    else:
        chosen = [f for f in manifest.files.values() if f.file_id.startswith(PROJECT_FILE)]
    text = manifest.path.read_text(encoding="utf-8")
    changed = []
    for entry in chosen:
        path = raw_dir / entry.path
        sha, size = sha256_of(path), path.stat().st_size
        if (sha, size) == (entry.sha256, entry.bytes):
            continue
        block = re.search(
            rf"(?m)^(?P<indent>\s+)path: ['\"]?{re.escape(entry.path)}['\"]?\n(?P<body>(?:(?P=indent).*\n)*?)"
            rf"(?P=indent)sha256: \S*\n(?P=indent)bytes: \S*\n",
            text,
        )
        if block is None:
            raise ManifestError(f"{manifest.path}: the entry of {entry.path} has no sha256 and bytes lines after path")
        indent = block["indent"]
        text = (
            text[: block.start()]
            + f"{indent}path: {entry.path}\n{block['body']}{indent}sha256: {sha}\n{indent}bytes: {size}\n"
            + text[block.end() :]
        )
        changed.append(entry.path)
    _write_checked(manifest.path, text)
    return changed


def check(raw_dir: Path) -> int:
    """Read the manifest and verify every file it lists; returns the number of files checked."""
    manifest = load_manifest(raw_dir)
    unlisted = manifest.unlisted_files()
    if unlisted:
        raise ManifestError(f"{manifest.path}: file(s) in raw/ not listed in the manifest: {', '.join(unlisted)}")
    for file_id in manifest.files:
        verify_file(manifest, file_id)
    return len(manifest.files)


def _write_checked(path: Path, text: str) -> None:
    """Write the manifest only if it reads back: a refused edit leaves the file as it was."""
    before = path.read_text(encoding="utf-8")
    path.write_text(text, encoding="utf-8")
    try:
        load_manifest(path.parent)
    except ManifestError:
        path.write_text(before, encoding="utf-8")
        raise


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.sources.manifest_tool", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--raw", type=Path, default=PROJECT_DIR / "raw", help="the raw/ folder (default: the project's)"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="add a files entry for a new file")
    add.add_argument("path", type=Path)
    add.add_argument("--like", required=True, help="file id of a file in the same layout")
    add.add_argument("--file-id", required=True)
    for option in ("--title", "--source-id", "--edition-date", "--transcribed-from"):
        add.add_argument(option)
    add.add_argument("--period", help="the edition's period as its tables print it, where the model words one")
    source = commands.add_parser("add-source", help="add a sources entry")
    for option in ("--source-id", "--title", "--publisher", "--url", "--licence", "--kind"):
        source.add_argument(option, required=True)
    source.add_argument("--date-published")
    again = commands.add_parser("rehash", help="rewrite the checksums of the project's own files")
    again.add_argument("paths", type=Path, nargs="*")
    commands.add_parser("check", help="read the manifest and verify every file")
    args = parser.parse_args(argv)
    try:
        if args.command == "add":
            entry = add_file(
                args.raw,
                args.path,
                args.like,
                args.file_id,
                title=args.title,
                source_id=args.source_id,
                edition_date=args.edition_date,
                transcribed_from=args.transcribed_from,
                period=args.period,
            )
            print(f"added {entry['file_id']}: {entry['path']} ({entry['bytes']} bytes)")
        elif args.command == "add-source":
            fields = {k: getattr(args, k) for k in ("source_id", "title", "publisher", "url", "licence", "kind")}
            entry = add_source(args.raw, **fields, date_published=args.date_published)
            print(f"added source {entry['source_id']}")
        elif args.command == "rehash":
            for relative in rehash(args.raw, args.paths):
                print(f"re-hashed {relative}")
        else:
            print(f"{check(args.raw)} files match the manifest")
    except ManifestError as exc:
        print(f"manifest_tool: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
