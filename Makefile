# The two commands a newcomer runs: `make data` builds the package, `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Every run is recorded in the project's own Dagster instance, so the UI can show its history.
export DAGSTER_HOME := $(CURDIR)/dagster_home
UI_PORT ?= 3000
AUDIT_PORT ?= 3001

.PHONY: data fetch accept test test-slow test-slow-beside-a-build release site ui audit serve serve-stop serve-status duckdb bench lint format clean-state

$(STAMP): requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==25.3
	$(BIN)/python -m pip install --quiet -r requirements.lock
	touch $@

# Create the run-history database once, before any run: two runs starting on a fresh instance would
# otherwise both try to create it.
INSTANCE := dagster_home/.initialised
$(INSTANCE): $(STAMP)
	$(BIN)/dagster instance migrate > /dev/null
	touch $@

# Materialise every asset, run every check, publish outputs/ atomically, and validate it with the
# frictionless CLI (both descriptors: the CSVs' and the Parquet files'). Exits non-zero on any failure, leaving the
# previous outputs/ untouched.
# A run is skipped when nothing it reads has changed since the last publish (pipeline/operations/build.py); FORCE=1 runs anyway.
data: $(INSTANCE)
	$(BIN)/python -m pipeline.operations.build
	$(BIN)/frictionless validate outputs/datapackage.json
	$(BIN)/frictionless validate outputs/parquet/datapackage.json

# Every source with a `fetch:` block in raw/sources.yaml, fetched from its publisher (pipeline/sources/fetch.py):
# what is new and passes its checks becomes a candidate in .state/candidates/<id>/ (CANDIDATE.md: the files, the
# package it would publish, its row-level diff and new quality flags); raw/ and outputs/ are not touched.
# SV_FETCH_MIRROR=http://HOST:PORT sends https://HOST/PATH to http://HOST:PORT/HOST/PATH (proxies, archives, tests).
fetch: $(INSTANCE)
	$(BIN)/python -m pipeline.sources.fetch

# Accept a candidate: its new files and manifest entries go into raw/ and the package is published through the
# release gate (`make data`); a publish that fails puts raw/ back as it was.
accept: $(INSTANCE)
	@test -n "$(CANDIDATE)" || { echo "make accept CANDIDATE=<id> (python -m pipeline.sources.candidates list)"; exit 2; }
	$(BIN)/python -m pipeline.sources.candidates accept $(CANDIDATE)
	$(BIN)/frictionless validate outputs/datapackage.json
	$(BIN)/frictionless validate outputs/parquet/datapackage.json

# Two workers: the builds in the tests are CPU-bound and this machine has two cores. `make test` runs every test
# but the few end-to-end ones that cannot be fast (marked slow: the CLIs, frictionless' among them, the browser,
# two runs at once, whole builds per failure layer, a publish killed after validating, the release archive built
# twice, a raw figure carried through to a new version, the served stack on PostgreSQL, R's readr and datasette, the release gate); `make test-slow` runs those.
# CI runs both. Target: `make test` under 120 s on a 2-core machine after `make data`.
test: $(STAMP)
	$(BIN)/pytest -n 2 -m "not slow"

# loadgroup: the tests of the served stack (one PostgreSQL, one daemon) run in order on one worker.
test-slow: $(STAMP)
	$(BIN)/pytest -n 2 --dist loadgroup -m slow

# The version's archive (pipeline/release/archive.py): dist/<name>-<version>.zip with the package, the card, the raw files
# and their manifest, and dist/SHA256SUMS. The same package gives the same bytes; `cd dist && sha256sum -c SHA256SUMS`.
release: data
	$(BIN)/python -m pipeline.release.archive

# The release as a static web site (pipeline/publish/site.py): dist/site/, built from outputs/ alone, opens from
# file:// or any static host (no server, no network). Same outputs/, same bytes.
site: $(STAMP)
	$(BIN)/python -m pipeline.publish.site

# The published tables as one DuckDB database (not committed: DuckDB files are not byte-reproducible).
duckdb: $(STAMP)
	$(BIN)/python -m pipeline.publish.export outputs dist/serious_violence.duckdb

# Dagster UI for data teams, on loopback only; the schedule can be switched on there.
ui: $(INSTANCE)
	VIRTUAL_ENV=$(CURDIR)/$(VENV) $(BIN)/dg dev -h 127.0.0.1 -p $(UI_PORT)

# Auditors: the UI read-only over the recorded runs: those of `make serve` (PostgreSQL) while it runs, else those
# `make data` recorded. Lineage, metadata, checks and history can be browsed; nothing can be launched or edited.
audit: $(INSTANCE)
	$(BIN)/python -m pipeline.operations.serve audit --port $(AUDIT_PORT)

# The production topology on loopback (pipeline/operations/serve.py): PostgreSQL from Debian's `postgresql` package, the
# code location as a gRPC server, dagster-daemon (schedule, sensors, run queue) and the read-only webserver on UI_PORT,
# kept running by supervisord (Debian's `supervisor`). Started by root, the Dagster processes and every run run as the
# system user svdata, from an environment built once from Debian's python3 (needs `python3-venv`; ~2 minutes), or
# `make serve` refuses: it never runs them as root.
# State (cluster, run history, logs) in .state/serve/. `make serve-stop` stops exactly what it started; after a crash
# `make serve` cleans up by itself; `make serve-status` exits 1 when anything is unhealthy (docs/DEPLOYMENT.md).
serve: $(STAMP)
	$(BIN)/python -m pipeline.operations.serve start

serve-stop: $(STAMP)
	$(BIN)/python -m pipeline.operations.serve stop

serve-status: $(STAMP)
	$(BIN)/python -m pipeline.operations.serve status

# Wall clock and peak memory against a floor and the targets (a script, not a timed test), ~7 minutes here.
# ROWS=... changes the scale case; LARGE=0 leaves out the 10,000,000-row point (~3.5 minutes of it).
ROWS ?= 1000000
LARGE ?= 10000000
bench: $(STAMP)
	$(BIN)/python bench/benchmark.py --rows $(ROWS) --large $(LARGE)

# `make test-slow` RUNS times in a row while `FORCE=1 make data` runs again and again beside it, in clones of HEAD
# (about 30 minutes a run here): the served stack's tests must hold on a busy machine.
RUNS ?= 3
test-slow-beside-a-build: $(STAMP)
	bench/slow_beside_a_build.sh $(RUNS)

lint: $(STAMP)
	$(BIN)/ruff check pipeline schemas tests
	$(BIN)/ruff format --check pipeline schemas tests
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format pipeline schemas tests
	$(BIN)/ruff check --fix pipeline schemas tests

# Local state only: the warehouse and recorded runs (never outputs/, never the committed dagster.yaml).
clean-state:
	rm -rf .state
	find dagster_home -mindepth 1 ! -name dagster.yaml -exec rm -rf {} +
