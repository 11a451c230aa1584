"""`make data` and `make test` never open a network connection: every connection to another machine is refused
(tests/conftest.py for the test session, tests/network_guard/sitecustomize.py for a build's processes)."""

import os
import socket
import subprocess
import sys

import pytest

from pipeline.defs.resources import PROJECT_DIR
from tests.conftest import snapshot

GUARD = PROJECT_DIR / "tests" / "network_guard"


def test_the_test_session_refuses_a_remote_connection():
    with socket.socket() as sock, pytest.raises(ConnectionRefusedError, match="builds and tests stay offline"):
        sock.connect(("192.0.2.1", 80))  # TEST-NET-1: never routed; refused before any packet is sent


def test_the_guard_refuses_in_a_child_process_and_logs_it(tmp_path):
    log = tmp_path / "network.log"
    code = "import socket; s = socket.socket(); s.connect(('192.0.2.1', 80))"
    env = os.environ | {"PYTHONPATH": f"{GUARD}{os.pathsep}{PROJECT_DIR}", "SV_NETWORK_LOG": str(log)}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode != 0 and "builds and tests stay offline" in result.stderr
    assert "192.0.2.1" in log.read_text()


@pytest.mark.slow
def test_make_data_opens_no_network_connection(project):
    """A whole publish (build, Dagster CLI and run worker, frictionless) under the guard: it succeeds, logs no
    attempt, and publishes the same package."""
    log = project.root / "network.log"
    before = snapshot(project.outputs)
    env = project.cli_env() | {
        "PYTHONPATH": f"{GUARD}{os.pathsep}{PROJECT_DIR}",
        "SV_NETWORK_LOG": str(log),
        "FORCE": "1",
    }
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.operations.build"], cwd=PROJECT_DIR, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert not log.exists(), log.read_text()
    assert snapshot(project.outputs) == before
