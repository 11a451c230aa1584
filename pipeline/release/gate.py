"""What a new version changes, row by row, and the gate that stops a release from losing published data by accident.

At publish time each table's CSV is compared with the one it replaces, by primary key: keys added, keys removed,
and for keys in both, each cell that changed (as printed). The comparison is published beside the changelog,
as RELEASE_DIFF.md (a summary) and release_diff.csv (every change).

The gate (after PUDL's and OWID's release checks): a publish stops, before anything is written, when a
published key would vanish (a table that shrinks or disappears always loses keys: a primary key is unique, so
there is no separate row-count comparison), or a table falls below the row count committed in
release/expected_rows.csv, unless release/acknowledged.yaml names the table and the version being replaced, with
the reason. An acknowledgement applies to that one release only: once the version it names is replaced, it no
longer matches anything.

    python -m pipeline.release.gate diff OLD_OUTPUTS NEW_OUTPUTS [FOLDER]   # the diff of two published packages
    python -m pipeline.release.gate expect                          # write release/expected_rows.csv from outputs/
"""

import csv
import io
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import yaml

from pipeline.release.versions import count_rows
from pipeline.transform.warehouse import quoted

DIFF_MD = "RELEASE_DIFF.md"
DIFF_CSV = "release_diff.csv"
EXPECTED = "expected_rows.csv"
ACKNOWLEDGED = "acknowledged.yaml"
EXAMPLES = 10


@dataclass
class TableDiff:
    table: str
    rows_before: int
    rows_after: int
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[tuple[str, str, str | None, str | None]] = field(default_factory=list)  # key, column, old, new
    columns_added: list[str] = field(default_factory=list)
    columns_removed: list[str] = field(default_factory=list)
    # A table with nothing before it: every row is new, and its keys are not listed one by one.
    is_new_table: bool = False

    @property
    def keys_added(self) -> int:
        return self.rows_after if self.is_new_table else len(self.added)

    @property
    def changed_rows(self) -> int:
        return len({key for key, *_ in self.changed})

    @property
    def unchanged(self) -> bool:
        return not (
            self.added
            or self.removed
            or self.changed
            or self.columns_added
            or self.columns_removed
            or self.is_new_table
        )


def read_text_csv(con: duckdb.DuckDBPyConnection, name: str, data: bytes) -> None:
    """A CSV as printed: every cell as text (an empty cell is NULL), no type guessed."""
    relation = con.read_csv(io.BytesIO(data), header=True, all_varchar=True, sep=",", quotechar='"', escapechar='"')
    con.register(name, relation)


def key_text(columns: list[str], alias: str = "") -> str:
    """The key as one readable string, `area_code=E23000001; stream=vru` (a SQL expression)."""
    prefix = f"{alias}." if alias else ""
    parts = [f"'{c}=' || coalesce({prefix}{quoted(c)}, '')" for c in columns]
    return " || '; ' || ".join(parts)


def diff_table(
    name: str, key: list[str], before: bytes | None, after: bytes, numbers: frozenset[str] = frozenset()
) -> TableDiff:
    """`numbers`: columns compared as numbers, so that a change of how a value prints (1200000 → 1200000.00) is
    not a change of the value; every other cell is compared as printed."""
    if before is None:  # a new table: its rows are counted, not read (a million-row table costs seconds to read)
        return TableDiff(name, 0, count_rows(after), is_new_table=True)
    con = duckdb.connect()
    read_text_csv(con, "new", after)
    rows_after = con.execute("SELECT count(*) FROM new").fetchall()[0][0]
    read_text_csv(con, "old", before)
    rows_before = con.execute("SELECT count(*) FROM old").fetchall()[0][0]
    old_columns = [d[0] for d in con.execute("SELECT * FROM old LIMIT 0").description]
    new_columns = [d[0] for d in con.execute("SELECT * FROM new LIMIT 0").description]
    on = " AND ".join(f"a.{quoted(c)} = b.{quoted(c)}" for c in key)

    def keys_only_in(left: str, right: str) -> list[str]:
        query = (
            f"SELECT {key_text(key, 'a')} AS k FROM {left} a "
            f"WHERE NOT EXISTS (SELECT 1 FROM {right} b WHERE {on}) ORDER BY k"
        )
        return [r[0] for r in con.execute(query).fetchall()]

    common = [c for c in new_columns if c in old_columns and c not in key]

    def compared(alias: str, column: str) -> str:
        cell = f"{alias}.{quoted(column)}"
        return f"TRY_CAST({cell} AS DECIMAL(38, 10))" if column in numbers else cell

    changed: list = []
    if common:
        cells = " UNION ALL ".join(
            f"SELECT {key_text(key, 'b')} AS k, '{c}' AS col, a.{quoted(c)} AS before, b.{quoted(c)} AS after "
            f"FROM old a JOIN new b ON {on} WHERE {compared('a', c)} IS DISTINCT FROM {compared('b', c)}"
            for c in common
        )
        changed = [tuple(r) for r in con.execute(f"SELECT * FROM ({cells}) ORDER BY k, col").fetchall()]
    return TableDiff(
        name,
        rows_before,
        rows_after,
        added=keys_only_in("new", "old"),
        removed=keys_only_in("old", "new"),
        changed=changed,
        columns_added=[c for c in new_columns if c not in old_columns],
        columns_removed=[c for c in old_columns if c not in new_columns],
    )


def diff_packages(
    previous_files: dict[str, bytes],
    files: dict[str, bytes],
    keys: dict[str, list[str]],
    numbers: dict[str, frozenset[str]] | None = None,
) -> list[TableDiff]:
    """Every table of the new package against the one it replaces, and tables that would disappear."""
    numbers = numbers or {}
    diffs = [
        diff_table(
            name, key, previous_files.get(f"data/{name}.csv"), files[f"data/{name}.csv"], numbers.get(name, frozenset())
        )
        for name, key in keys.items()
    ]
    for path, data in sorted(previous_files.items()):
        name = Path(path).stem
        if name not in keys and data:
            gone = TableDiff(name, count_rows(data), 0)
            gone.removed = ["(the whole table)"]
            diffs.append(gone)
    return diffs


# The report ---------------------------------------------------------------------------------------------------


def diff_csv(diffs: list[TableDiff]) -> bytes:
    """Every change, one per line: table, key, change (added, removed, changed, column added/removed), cell."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["table", "key", "change", "column", "before", "after"])
    for d in diffs:
        writer.writerows([d.table, "", "column added", c, "", ""] for c in d.columns_added)
        writer.writerows([d.table, "", "column removed", c, "", ""] for c in d.columns_removed)
        if d.is_new_table:
            writer.writerow([d.table, "(every row)", "added", "", "", f"{d.rows_after} rows"])
        writer.writerows([d.table, k, "added", "", "", ""] for k in d.added)
        writer.writerows([d.table, k, "removed", "", "", ""] for k in d.removed)
        writer.writerows([d.table, k, "changed", c, old or "", new or ""] for k, c, old, new in d.changed)
    return out.getvalue().encode("utf-8")


def diff_markdown(diffs: list[TableDiff], version: str, previous_version: str | None) -> bytes:
    against = f"version {previous_version}" if previous_version else "nothing (the first release)"
    lines = [
        f"# What version {version} changes, row by row",
        "",
        f"Each table against {against}, by primary key; numbers compared as numbers, other cells as printed. "
        f"Every change is in [{DIFF_CSV}]({DIFF_CSV}) (table, key, change, column, before, after). Written when a "
        "version is released; rebuilding the same version leaves it as it is.",
        "",
        "| table | rows before | rows after | keys added | keys removed | rows changed | cells changed | columns |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for d in diffs:
        columns = ", ".join([*(f"+{c}" for c in d.columns_added), *(f"−{c}" for c in d.columns_removed)]) or ""
        lines.append(
            f"| `{d.table}` | {d.rows_before} | {d.rows_after} | {d.keys_added} | {len(d.removed)} "
            f"| {d.changed_rows} | {len(d.changed)} | {columns} |"
        )
    for d in diffs:
        if d.unchanged:
            continue
        lines += ["", f"## `{d.table}`", ""]
        if d.is_new_table:
            lines.append(f"- a new table: all {d.rows_after} rows added")
        lines += [f"- added: {k}" for k in d.added[:EXAMPLES]]
        lines += [f"- removed: {k}" for k in d.removed[:EXAMPLES]]
        lines += [f"- changed: {k}: `{c}` {old!r} → {new!r}" for k, c, old, new in d.changed[:EXAMPLES]]
        shown = min(len(d.added), EXAMPLES) + min(len(d.removed), EXAMPLES) + min(len(d.changed), EXAMPLES)
        total = len(d.added) + len(d.removed) + len(d.changed)
        if total > shown:
            lines.append(f"- … {total - shown} more in {DIFF_CSV}")
    return ("\n".join(lines) + "\n").encode("utf-8")


# The gate -----------------------------------------------------------------------------------------------------


class ReleaseBlocked(RuntimeError):
    def __init__(self, problems: list[str]):
        super().__init__("release gate: " + " | ".join(problems))
        self.problems = problems


def expected_rows(release_dir: Path) -> dict[str, int]:
    path = release_dir / EXPECTED
    if not path.is_file():
        return {}
    with path.open(encoding="utf-8", newline="") as handle:
        return {row["table"]: int(row["min_rows"]) for row in csv.DictReader(handle)}


class ReleaseFileError(ValueError):
    """A committed release file (acknowledged.yaml, the version ledger) is malformed; the message names the file,
    the entry and the value."""


ACK_FIELDS = ("replaces", "table", "reason")


def acknowledgements(release_dir: Path) -> list[dict[str, str]]:
    """Every entry of release/acknowledged.yaml, checked on every build: a malformed file is found the day it is
    written, not the day a release needs it."""
    path = release_dir / ACKNOWLEDGED
    if not path.is_file():
        return []
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ReleaseFileError(f"{path}: not readable YAML: {exc}") from None
    if doc is None:
        return []
    if not isinstance(doc, dict) or set(doc) != {"acknowledged"} or not isinstance(doc["acknowledged"] or [], list):
        raise ReleaseFileError(f"{path}: expected one top-level list 'acknowledged', got {doc!r:.200}")
    entries = []
    for n, entry in enumerate(doc["acknowledged"] or [], start=1):
        where = f"{path}: acknowledged entry {n}"
        if not isinstance(entry, dict):
            raise ReleaseFileError(f"{where}: expected a mapping with {', '.join(ACK_FIELDS)}, got {entry!r}")
        missing = [f for f in ACK_FIELDS if not isinstance(entry.get(f), str) or not entry[f].strip()]
        unknown = sorted(str(k) for k in entry if k not in ACK_FIELDS)
        if missing or unknown:
            what = [f"{f} is {entry.get(f)!r}, not a text" for f in missing] + [f"unknown field(s) {unknown}"] * bool(
                unknown
            )
            raise ReleaseFileError(
                f"{where}: {'; '.join(what)}. Each entry is {{replaces: '<version>', table: <table>, reason: <why>}}"
            )
        # A first release (nothing published yet) is acknowledged as `replaces: none`.
        if entry["replaces"] != "none" and not re.fullmatch(r"\d{4}\.\d{1,2}\.\d{1,2}(\.\d+)?", entry["replaces"]):
            raise ReleaseFileError(
                f"{where} (table {entry['table']}): replaces {entry['replaces']!r} is not a version "
                "(YYYY.MM.DD or YYYY.MM.DD.N, quoted) or 'none'"
            )
        entries.append({f: entry[f] for f in ACK_FIELDS})
    return entries


def acknowledged(release_dir: Path, replaces: str | None) -> dict[str, str]:
    """The tables acknowledged for the release that replaces `replaces`, with the reason given."""
    return {e["table"]: e["reason"] for e in acknowledgements(release_dir) if e["replaces"] == (replaces or "none")}


def problems(diffs: list[TableDiff], expected: dict[str, int]) -> dict[str, str]:
    """What the gate stops on, by table."""
    found: dict[str, list[str]] = {}
    for d in diffs:
        if d.removed:
            shown = "; ".join(f"({k})" for k in d.removed[:3]) + (" …" if len(d.removed) > 3 else "")
            found.setdefault(d.table, []).append(f"{len(d.removed)} published key(s) would vanish: {shown}")
        if d.table in expected and d.rows_after < expected[d.table]:
            found.setdefault(d.table, []).append(
                f"has {d.rows_after} rows, fewer than the {expected[d.table]} in release/{EXPECTED}"
            )
    return {table: ", ".join(parts) for table, parts in found.items()}


def check(diffs: list[TableDiff], release_dir: Path, replaces: str | None, version: str) -> dict[str, str]:
    """Raises ReleaseBlocked naming each table, its keys and the acknowledgement that would let it through;
    returns the acknowledged problems (table → what and why) otherwise."""
    found = problems(diffs, expected_rows(release_dir))
    allowed = acknowledged(release_dir, replaces)
    blocked = [
        f"{table} {what}. If intended, add to release/{ACKNOWLEDGED}: "
        f"{{replaces: '{replaces or 'none'}', table: {table}, reason: <why>}}"
        for table, what in sorted(found.items())
        if table not in allowed
    ]
    if blocked:
        raise ReleaseBlocked([*blocked, f"version {version} was not published; outputs/ is unchanged"])
    return {table: f"{what} (acknowledged: {allowed[table]})" for table, what in sorted(found.items())}


# The command line ---------------------------------------------------------------------------------------------


def number_columns(tables: dict) -> dict[str, frozenset[str]]:
    return {name: frozenset(c.name for c in t.columns if c.type in ("number", "integer")) for name, t in tables.items()}


def package_csvs(outputs: Path) -> dict[str, bytes]:
    return {f"data/{p.name}": p.read_bytes() for p in sorted((outputs / "data").glob("*.csv"))}


def main(argv: list[str]) -> int:
    from pipeline.operations.locations import outputs_dir
    from schemas import PUBLISHED_TABLES

    keys = {name: list(table.primary_key) for name, table in PUBLISHED_TABLES.items()}
    numbers = number_columns(PUBLISHED_TABLES)
    if argv[:1] == ["diff"] and len(argv) in (3, 4):
        old, new = Path(argv[1]), Path(argv[2])
        diffs = diff_packages(package_csvs(old), package_csvs(new), keys, numbers)
        versions = [json.loads((p / "datapackage.json").read_text(encoding="utf-8"))["version"] for p in (old, new)]
        report = diff_markdown(diffs, versions[1], versions[0])
        if len(argv) == 4:  # written into a folder, as a publish writes them
            (Path(argv[3]) / DIFF_MD).write_bytes(report)
            (Path(argv[3]) / DIFF_CSV).write_bytes(diff_csv(diffs))
        else:
            sys.stdout.write(report.decode("utf-8"))
        return 0
    if argv == ["expect"]:
        from pipeline.operations.locations import release_dir

        outputs = outputs_dir()
        rows = {name: count_rows((outputs / "data" / f"{name}.csv").read_bytes()) for name in keys}
        path = release_dir() / EXPECTED
        path.write_text("table,min_rows\n" + "".join(f"{n},{c}\n" for n, c in rows.items()), encoding="utf-8")
        print(f"wrote {path}")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
