#!/usr/bin/env bash
# `make test-slow` N times in a row while another build runs beside it: the served stack's tests must not depend on
# a quiet machine. Two clones of HEAD in a temporary folder share this project's .venv: in one, `FORCE=1 make data`
# runs again and again; in the other, `make data` once and then `make test-slow` N times. Prints one line per run and
# per build beside it, and exits non-zero when a run failed (its log is kept and named).
#
#     make test-slow-beside-a-build            (RUNS=3)
#     bench/slow_beside_a_build.sh 3
set -uo pipefail
runs=${1:-3}
project=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d -t slow-beside-a-build.XXXXXX)
# mktemp's folder is private to root; the served stack's tests run it as svdata, which must reach the clone's files.
chmod 755 "$work"
for clone in tests beside; do
  git clone --quiet "$project" "$work/$clone"
  ln -s "$project/.venv" "$work/$clone/.venv"
  # The clone's lock file is as old as the project's, so make sees the shared environment as up to date.
  touch -r "$project/requirements.lock" "$work/$clone/requirements.lock"
done
echo "commit $(git -C "$work/tests" rev-parse --short HEAD); logs in $work"
(cd "$work/tests" && make data >"$work/make-data.log" 2>&1) || { echo "make data failed: $work/make-data.log"; exit 1; }

(
  cd "$work/beside" || exit 1
  build=0
  while [ ! -e "$work/stop" ]; do
    build=$((build + 1)); began=$(date +%s)
    FORCE=1 make data >"$work/beside-$build.log" 2>&1
    echo "  build beside #$build: exit $? in $(($(date +%s) - began)) s"
  done
) &
beside=$!

failed=0
for run in $(seq 1 "$runs"); do
  began=$(date +%s)
  (cd "$work/tests" && make test-slow >"$work/test-slow-$run.log" 2>&1)
  code=$?
  echo "make test-slow #$run: exit $code in $(($(date +%s) - began)) s, load $(cut -d' ' -f1-3 /proc/loadavg):" \
    "$(grep -E '^=+ .*(passed|failed|error)' "$work/test-slow-$run.log" | tail -n 1)"
  [ "$code" -eq 0 ] || failed=1
done
touch "$work/stop"
wait "$beside"
[ "$failed" -eq 0 ] && echo "all $runs runs passed" || echo "a run failed: its log is $work/test-slow-<run>.log"
exit "$failed"
