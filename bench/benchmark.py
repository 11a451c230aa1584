"""Benchmark: wall clock and peak memory of the pipeline against a floor, printed as a table.

    make bench            (or: .venv/bin/python bench/benchmark.py [--rows 1000000])

Scenarios, each in a fresh temporary copy of raw/ with its own Dagster instance and warehouse (nothing
here touches the real outputs/):

- floor: a plain script that does the work a publish cannot avoid, without orchestration: the same imports,
  every raw CSV read into DuckDB, every workbook opened once and every sheet read, every published CSV and
  Parquet file written, and the package validated with the frictionless library;
- full publish: `dg launch` of the whole job into an empty outputs folder;
- no-op re-run: `make data`'s entry point (pipeline.operations.build) again with nothing changed;
- new edition: one ONS edition added under a new file id, published with SV_CHANGED_FILES (only what it feeds,
  as `make accept` does), then the full job on the same raw/;
- synthetic: the whole job with one funding file replaced by N generated rows in its own layout
  (never published: the package goes to the temporary folder), at 100,000, 300,000, 1,000,000 and 10,000,000
  rows: a growth curve of wall clock and peak memory, and where memory would pass this machine's RAM.

Targets: full publish <= 2 x floor (goal 1.5 x); no-op <= 1 s; 1M rows <= 30 s and <= 1.5 GB peak RSS.
The full publish and the floor run --repeat times, alternately, and their medians are compared.
Peak RSS is the largest resident set of the measured process (the in-process executor runs every step
in it). The slowest steps come from the run's own step timings.
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

PROJECT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(PROJECT))
from pipeline.operations.build import CHANGED_ENV, cli_env  # noqa: E402
from pipeline.operations.build import JOB_COMMAND as JOB  # noqa: E402

SYNTHETIC_FILE = "funding/gap-fill-local-reports.csv"

FLOOR = """
import shutil, sys
from pathlib import Path
import dagster, duckdb, frictionless, openpyxl, pandas as pd, pandera.pandas
raw, published, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
con = duckdb.connect()
for path in sorted(raw.rglob("*.csv")):  # every raw CSV into the database
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    con.register("t", frame); con.execute("SELECT count(*) FROM t").fetchall(); con.unregister("t")
for path in sorted(raw.rglob("*.xlsx")):  # every workbook opened once and every sheet read
    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    for sheet in book.worksheets:
        list(sheet.iter_rows(values_only=True))
    book.close()
(out / "data").mkdir(parents=True)
(out / "parquet").mkdir()
for path in sorted((published / "data").glob("*.csv")):  # every published CSV and Parquet written
    source = f"read_csv('{path}', all_varchar=true)"
    con.execute(f"COPY (SELECT * FROM {source}) TO '{out / 'parquet' / path.stem}.parquet' (FORMAT parquet)")
    shutil.copy(path, out / "data" / path.name)
shutil.copy(published / "datapackage.json", out / "datapackage.json")
report = frictionless.validate(str(out / "datapackage.json"))  # the same package validation as a publish
assert report.valid, report.flatten(["rowNumber", "fieldName", "type"])[:5]
"""


def measure(command: list[str], env: dict, cwd: Path = PROJECT) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MB of the child process, and its output."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{output[-3000:]}")
    return wall, usage.ru_maxrss / 1024, output


def step_times(output: str) -> list[tuple[float, str]]:
    """(seconds, step) of every step of a run, from its own log."""
    times = []
    # Dagster prints "in 812ms", "in 2.07s" or "in 1m12s".
    pattern = r'Finished execution of step "([^"]+)" in (?:(\d+)m)?([0-9.]+)(ms|s)'
    for step, minutes, value, unit in re.findall(pattern, output):
        times.append((int(minutes or 0) * 60 + float(value) / (1000 if unit == "ms" else 1), step))
    return times


def slowest_steps(output: str, n: int = 3) -> str:
    return ", ".join(f"{step} {seconds:.1f}s" for seconds, step in sorted(step_times(output), reverse=True)[:n])


def workspace(root: Path) -> dict:
    home = root / "home"
    home.mkdir(parents=True)
    shutil.copy(PROJECT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    shutil.copytree(PROJECT / "raw", root / "raw")
    env = os.environ | {
        "DAGSTER_HOME": str(home),
        "SV_RAW_DIR": str(root / "raw"),
        "SV_OUTPUTS_DIR": str(root / "outputs"),
        "SV_WAREHOUSE": str(root / "state" / "warehouse.duckdb"),
        # The release gate's expected row counts are the real package's; a synthetic funding file replaces real
        # rows, so the benchmark publishes with no expectations (the gate's diff still runs).
        "SV_RELEASE_DIR": str(root / "release"),
    }
    subprocess.run([str(BIN / "dagster"), "instance", "migrate"], env=env, check=True, capture_output=True)
    return env


def synthesise(raw: Path, rows: int) -> None:
    """Replace one multi-source funding file with `rows` generated rows in its layout, and fix the manifest."""
    areas = ["Kent", "Essex", "Sussex", "Lancashire", "Merseyside", "West Midlands", "Thames Valley", "Northumbria"]
    years = ["2019/20", "2020/21", "2021/22", "2022/23", "2023/24"]
    lines = ["area_as_published,stream,financial_year,amount_as_published,notes,source_id"]
    lines += [
        f'{areas[i % 8]},VRU,{years[i % 5]},"£{1000 + i:,}",synthetic row {i},S{6 + i % 90:02d}' for i in range(rows)
    ]
    data = ("\n".join(lines) + "\n").encode()
    (raw / SYNTHETIC_FILE).write_bytes(data)
    manifest_path = raw / "sources.yaml"
    manifest = yaml.safe_load(manifest_path.read_text())
    for entry in manifest["files"]:
        if entry["path"] == SYNTHETIC_FILE:
            import hashlib

            entry["sha256"], entry["bytes"] = hashlib.sha256(data).hexdigest(), len(data)
    manifest_path.write_text(yaml.safe_dump(manifest, sort_keys=False))


def add_edition(raw: Path) -> str:
    """A copy of one ONS edition under a new file id and source (a version the publisher added); its path."""
    source, new = "outcomes/ons-els-homicide-offences-2025-02-11.csv", "outcomes/ons-els-homicide-offences-bench.csv"
    data = (raw / source).read_bytes()
    (raw / new).write_bytes(data)
    manifest_path = raw / "sources.yaml"
    manifest = yaml.safe_load(manifest_path.read_text())
    entry = next(f for f in manifest["files"] if f["path"] == source)
    series = next(s for s in manifest["sources"] if s["source_id"] == entry["source_id"])
    manifest["sources"].append(series | {"source_id": "BENCH_EDITION"})
    added = {"file_id": "ons__homicide_bench", "path": new, "source_id": "BENCH_EDITION", "edition_date": "2026-06-01"}
    manifest["files"].append(entry | added)
    manifest_path.write_text(yaml.safe_dump(manifest, sort_keys=False))
    return new


def materialised(logs: Path) -> int:
    """Assets materialised by the newest make data run (its full log)."""
    log = max(logs.glob("make-data-*.log"), key=lambda p: p.stat().st_mtime)
    return len(set(re.findall(r"ASSET_MATERIALIZATION - Materialized value (\w+)\.", log.read_text())))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the synthetic funding file")
    parser.add_argument("--repeat", type=int, default=3, help="paired runs of the full publish and the floor")
    parser.add_argument(
        "--growth",
        type=int,
        nargs="*",
        default=[100_000, 300_000],
        help="further synthetic sizes for the growth curve (with --rows, at least three points)",
    )
    parser.add_argument(
        "--large",
        type=int,
        default=10_000_000,
        help="the large synthetic case, measured as a point of the growth curve (0 to leave it out: ~3.5 min here)",
    )
    parser.add_argument("--project-to", type=int, default=50_000_000, help="rows the growth curve is projected to")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="sv-bench-") as tmp:
        root = Path(tmp)
        fulls, floors = [], []
        for n in range(args.repeat):
            env = workspace(root / f"full{n}")
            fulls.append(measure([*JOB], cli_env(env)))
            floor_out = root / f"floor-out{n}"
            published = root / f"full{n}" / "outputs"
            floors.append(measure([sys.executable, "-c", FLOOR, str(root / f"full{n}" / "raw"), str(published),
                                   str(floor_out)], env))  # fmt: skip
        full_wall, full_rss = statistics.median(w for w, _, _ in fulls), max(r for _, r, _ in fulls)
        floor_wall, floor_rss = statistics.median(w for w, _, _ in floors), max(r for _, r, _ in floors)
        results.append((f"full publish (median of {args.repeat})", full_wall, full_rss, slowest_steps(fulls[-1][2])))
        results.append(
            (f"floor (median of {args.repeat})", floor_wall, floor_rss, "the unavoidable reads, writes and validation")
        )

        measure(
            [sys.executable, "-m", "pipeline.operations.build"], cli_env(env)
        )  # records the stamp after one run of its own
        wall, rss, _ = measure([sys.executable, "-m", "pipeline.operations.build"], cli_env(env))
        results.append(("no-op re-run (make data)", wall, rss, "inputs and outputs unchanged: run skipped"))
        noop_wall = wall

        # One source gains a version (an ONS edition under a new file id): make data with SV_CHANGED_FILES, as
        # `make accept` runs it when the warehouse holds the last publish, then the full job on the same raw/.
        new_file = add_edition(Path(env["SV_RAW_DIR"]))
        subset_wall, rss, _ = measure(
            [sys.executable, "-m", "pipeline.operations.build"], cli_env(env | {"FORCE": "1", CHANGED_ENV: new_file})
        )
        subset_assets = materialised(Path(env["SV_WAREHOUSE"]).parent / "logs")
        again_wall, _, _ = measure([sys.executable, "-m", "pipeline.operations.build"], cli_env(env | {"FORCE": "1"}))
        all_assets = materialised(Path(env["SV_WAREHOUSE"]).parent / "logs")
        results.append(
            ("new edition: what it feeds", subset_wall, rss, f"{subset_assets} of {all_assets} assets materialised")
        )
        results.append(("new edition: full publish", again_wall, 0.0, f"{all_assets} assets (make data, FORCE=1)"))

        curve, big_wall, big_rss = [], 0.0, 0.0
        for size in sorted({*args.growth, args.rows, args.large} - {0}):
            env = workspace(root / f"synthetic{size}")
            synthesise(root / f"synthetic{size}" / "raw", size)
            wall, rss, out = measure(JOB, cli_env(env))
            results.append((f"synthetic {size:,} rows", wall, rss, slowest_steps(out)))
            curve.append((size, wall, rss))
            if size == args.rows:
                big_wall, big_rss = wall, rss
            shutil.rmtree(root / f"synthetic{size}")  # 10,000,000 rows leave ~3.5 GB of files

    print(f"\n{'scenario':32} {'wall s':>8} {'peak RSS MB':>12}  slowest steps / notes")
    for name, wall, rss, notes in results:
        print(f"{name:32} {wall:8.1f} {rss:12.0f}  {notes}")
    ratio = full_wall / floor_wall
    print("\ntargets:")
    print(
        f"  full publish <= 2 x floor (goal 1.5 x): {full_wall:.1f} s vs {floor_wall:.1f} s -> {ratio:.1f} x "
        f"{'met' if ratio <= 2 else 'MISSED'}{' (goal met)' if ratio <= 1.5 else ''}"
    )
    in_steps = statistics.median(sum(t for t, _ in step_times(out)) for _, _, out in fulls)
    print(
        f"    of which inside the steps {in_steps:.1f} s (their work and the events they record); the other "
        f"{full_wall - in_steps:.1f} s is Dagster outside any step (loading the definitions, creating the run with "
        "its planned events, shutting down)"
    )
    print(f"  no-op re-run <= 1 s: {noop_wall:.1f} s -> {'met' if noop_wall <= 1 else 'MISSED'}")
    print(
        f"  a new edition rebuilds only what it feeds: {subset_assets} of {all_assets} assets, {subset_wall:.1f} s "
        f"against {again_wall:.1f} s for the full publish of the same raw/"
    )
    if args.rows:
        print(
            f"  {args.rows:,} rows <= 30 s and <= 1.5 GB: {big_wall:.1f} s, {big_rss:.0f} MB -> "
            f"{'met' if big_wall <= 30 and big_rss <= 1536 else 'MISSED'}"
        )
    if len(curve) >= 2:
        print(growth(curve, args.project_to))


def growth(curve: list[tuple[int, float, float]], target: int) -> str:
    """Seconds and MB per million rows from a least-squares line through the measured sizes, the projection
    to `target` rows, and the size at which peak memory would pass this machine's RAM."""
    lines = ["\ngrowth (synthetic funding rows -> wall s, peak RSS MB):"]
    lines += [f"  {rows:>12,} rows: {wall:8.1f} s {rss:10.0f} MB" for rows, wall, rss in curve]
    rows = [p[0] for p in curve]
    fits = [statistics.linear_regression(rows, [p[column] for p in curve]) for column in (1, 2)]
    (time_slope, time_base), (mem_slope, mem_base) = fits
    ram_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
    lines.append(f"  per million rows: {time_slope * 1e6:.1f} s and {mem_slope * 1e6:.0f} MB (linear fit)")
    lines.append(
        f"  projected to {target:,} rows: {time_base + time_slope * target:.0f} s, "
        f"{mem_base + mem_slope * target:.0f} MB (not run)"
    )
    if mem_slope > 0:
        lines.append(
            f"  peak memory passes this machine's {ram_mb:.0f} MB at about {(ram_mb - mem_base) / mem_slope:,.0f} rows"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
