"""Benchmark: wall clock and peak memory of the pipeline against a floor, printed as a table.

    make bench            (or: .venv/bin/python bench/benchmark.py [--rows 1000000])

Scenarios, each in a fresh temporary copy of raw/ with its own Dagster instance and warehouse (nothing
here touches the real outputs/):

- floor: a plain script that imports the same libraries and reads and writes the same files
  (every raw CSV in, every published CSV out), without Dagster, checks or validation;
- full publish: `dagster job execute` of the whole job into an empty outputs folder;
- no-op re-run: `make data`'s entry point (pipeline.build) again with nothing changed;
- synthetic: the whole job with one funding file replaced by N generated rows in its own layout
  (never published: the package goes to the temporary folder).

Targets (from the issue): full publish <= 1.5 x floor; no-op <= 3 s; 1M rows <= 30 s and <= 1.5 GB peak RSS.
Peak RSS is the largest resident set of the measured process (the in-process executor runs every step
in it). The slowest steps come from the run's own step timings.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

PROJECT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(PROJECT))
from pipeline.build import JOB_COMMAND as JOB  # noqa: E402

SYNTHETIC_FILE = "funding/gap-fill-local-reports.csv"

FLOOR = """
import sys
from pathlib import Path
import dagster, duckdb, frictionless, pandas as pd, pandera.pandas
raw, published, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
for path in sorted(raw.rglob("*.csv")):
    pd.read_csv(path, dtype=str, keep_default_na=False)
(out / "data").mkdir(parents=True)
for path in sorted((published / "data").glob("*.csv")):
    pd.read_csv(path, dtype=str, keep_default_na=False).to_csv(out / "data" / path.name, index=False)
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


def slowest_steps(output: str, n: int = 3) -> str:
    times = []
    # Dagster prints "in 812ms", "in 2.07s" or "in 1m12s".
    pattern = r'Finished execution of step "([^"]+)" in (?:(\d+)m)?([0-9.]+)(ms|s)'
    for step, minutes, value, unit in re.findall(pattern, output):
        times.append((int(minutes or 0) * 60 + float(value) / (1000 if unit == "ms" else 1), step))
    return ", ".join(f"{step} {seconds:.1f}s" for seconds, step in sorted(times, reverse=True)[:n])


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the synthetic funding file")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="sv-bench-") as tmp:
        root = Path(tmp)

        env = workspace(root / "full")
        wall, rss, out = measure(JOB, env)
        results.append(("full publish", wall, rss, slowest_steps(out)))
        full_wall = wall

        floor_out = root / "floor-out"
        wall, rss, _ = measure(
            [sys.executable, "-c", FLOOR, str(root / "full" / "raw"), str(root / "full" / "outputs"), str(floor_out)],
            env,
        )
        results.append(("floor (plain script)", wall, rss, "read every raw CSV, write every published CSV"))
        floor_wall = wall

        measure([sys.executable, "-m", "pipeline.build"], env)  # records the stamp after one run of its own
        wall, rss, _ = measure([sys.executable, "-m", "pipeline.build"], env)
        results.append(("no-op re-run (make data)", wall, rss, "inputs and outputs unchanged: run skipped"))
        noop_wall = wall

        env = workspace(root / "synthetic")
        synthesise(root / "synthetic" / "raw", args.rows)
        wall, rss, out = measure(JOB, env)
        results.append((f"synthetic {args.rows:,} rows", wall, rss, slowest_steps(out)))
        big_wall, big_rss = wall, rss

    print(f"\n{'scenario':28} {'wall s':>8} {'peak RSS MB':>12}  slowest steps / notes")
    for name, wall, rss, notes in results:
        print(f"{name:28} {wall:8.1f} {rss:12.0f}  {notes}")
    print("\ntargets:")
    print(
        f"  full publish <= 1.5 x floor: {full_wall:.1f} s vs {1.5 * floor_wall:.1f} s -> "
        f"{'met' if full_wall <= 1.5 * floor_wall else 'MISSED'} ({full_wall / floor_wall:.1f} x floor)"
    )
    print(f"  no-op re-run <= 3 s: {noop_wall:.1f} s -> {'met' if noop_wall <= 3 else 'MISSED'}")
    print(
        f"  {args.rows:,} rows <= 30 s and <= 1.5 GB: {big_wall:.1f} s, {big_rss:.0f} MB -> "
        f"{'met' if big_wall <= 30 and big_rss <= 1536 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
