"""What the served stack tells its operators beyond a failed run, through the same webhook (SV_FAILURE_WEBHOOK_URL),
and what keeps the UI's lineage current.

supervisord runs this module as an event listener (`[eventlistener:alerts]` in the configuration serve.py writes;
the protocol is supervisord's own, http://supervisord.org/events.html): supervisord sends it an event when a
program of the stack exits or cannot be started (PROCESS_STATE_EXITED, PROCESS_STATE_FATAL), and this posts it.
A program stopped by `supervisorctl` or `make serve-stop` is STOPPED, not EXITED: nothing is posted.

The same listener receives supervisord's TICK_5 event, and asks the code server to reload (the mutation the UI's
"Reload" button sends, run through the `dagster-graphql` CLI, since the shared webserver is read-only) when
- raw/sources.yaml (which declares one raw asset per file) has changed since the code location was loaded: the
  webserver and the daemon see the new server's id and load the new asset graph, so the UI's lineage is current;
- the code server has lost its run-cleanup thread. Dagster's code server (`dagster api grpc`) checks on its runs'
  processes in that thread, opening the database each time; when the database is down as a run's process ends,
  the thread dies with the error. From then on a run whose process died stays among its executions, and the first
  attempt to cancel it (run monitoring's, at the run's maximum run time) hangs on that dead process while holding
  the lock every launch needs: every later launch times out after 60 s, while the server still answers its health
  check. A reload replaces that server process with a new one (runs still going on the old one finish there).
The code server starts the new server process and lets runs in flight finish on the old one.

Every message says what happened and when; none carries a setting's value (no password, no URL).
"""

import datetime
import hashlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

WEBHOOK_ENV = "SV_FAILURE_WEBHOOK_URL"


def now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def post(body: dict, timeout: float = 10) -> str | None:
    """Posts `body` as JSON to the webhook; None when it was posted or no webhook is set, else why not."""
    url = os.environ.get(WEBHOOK_ENV)
    if not url:
        return None
    data = json.dumps(body, sort_keys=True).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout):
            return None
    except (urllib.error.URLError, OSError) as error:
        return f"posting to {WEBHOOK_ENV} failed: {error}"


def process_alert(event: str, fields: dict[str, str], stack: str) -> dict | None:
    """The message for a supervisord process-state event; None for an event that is no one's concern."""
    name = fields.get("processname", "?")
    if event == "PROCESS_STATE_EXITED":
        what = f"{name} (pid {fields.get('pid', '?')}) of the served stack exited; supervisord is restarting it"
    elif event == "PROCESS_STATE_FATAL":
        what = f"{name} of the served stack could not be started and is given up (FATAL): see its log"
    else:
        return None
    return {
        "alert": "process_exited" if event == "PROCESS_STATE_EXITED" else "process_fatal",
        "text": what,
        "process": name,
        "state": event.removeprefix("PROCESS_STATE_"),
        "from_state": fields.get("from_state"),
        "pid": int(fields["pid"]) if fields.get("pid", "").isdigit() else None,
        "expected": fields.get("expected") == "1",
        "at": now(),
        "host": socket.gethostname(),
        "log": str(Path(stack) / f"{name}.log") if stack else None,
    }


def manifest_digest() -> str | None:
    manifest = Path(os.environ.get("SV_RAW_DIR", Path(__file__).parents[2] / "raw")) / "sources.yaml"
    try:
        return hashlib.sha256(manifest.read_bytes()).hexdigest()
    except OSError:
        return None


# What the code server's log says when its server process starts, and when its run-cleanup thread dies.
CODE_SERVER_STARTED = "Started Dagster code server"
CLEANUP_DIED = "Exception in thread grpc-server-cleanup"


def code_server_lost_cleanup(log: Path) -> bool:
    """Whether the code server's newest server process has lost its run-cleanup thread (see the module's doc)."""
    try:
        with log.open("rb") as handle:
            handle.seek(max(0, log.stat().st_size - 1_000_000))
            text = handle.read().decode(errors="replace")
    except OSError:
        return False
    return CLEANUP_DIED in text.rsplit(CODE_SERVER_STARTED, 1)[-1]


RELOAD = """mutation { reloadRepositoryLocation(repositoryLocationName: "%s") { __typename
  ... on WorkspaceLocationEntry { loadStatus } ... on PythonError { message } } }"""


def reload_code_location(stack: str, location: str, log) -> subprocess.Popen:
    """Asks the code server to load the code again, in the background (loading takes ~20 s, and events keep
    coming); its answer goes to the listener's log. Never to stdout: that is supervisord's channel."""
    command = [str(Path(sys.executable).parent / "dagster-graphql"), "-w", str(Path(stack) / "workspace.yaml")]
    return subprocess.Popen(
        [*command, "-t", RELOAD % location], stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=stack or None
    )


class Listener:
    """One event at a time, as supervisord sends them."""

    def __init__(self, stack: str, location: str, log=sys.stderr):
        self.stack, self.location, self.log = stack, location, log
        # What the code server loaded: the manifest as it is when the listener starts with it, and again whenever
        # the code server (re)starts or is reloaded.
        self.loaded = manifest_digest()
        self.reloading: subprocess.Popen | None = None
        self.repaired_at = -1e9  # when a reload was last asked for a code server that lost its cleanup thread
        self.retry_at = -1e9  # after a reload that failed, nothing is tried before this
        self.told = False  # whether the code server's failing was posted (once until it is whole again)

    def say(self, line: str) -> None:
        print(f"{now()} {line}", file=self.log, flush=True)

    def handle(self, event: str, fields: dict[str, str]) -> None:
        if event.startswith("TICK_"):
            if self.reloading is not None:
                if self.reloading.poll() is None:
                    return  # looked at again once this reload has ended
                if self.reloading.returncode != 0:
                    # The database still down, say: both reasons are looked at again in 15 s.
                    self.loaded, self.repaired_at, self.retry_at = None, -1e9, time.monotonic() + 15
                self.reloading = None
            if time.monotonic() < self.retry_at:
                return
            reasons = []
            current = manifest_digest()
            if current is not None and current != self.loaded:
                reasons.append("raw/sources.yaml changed since the code location was loaded")
                self.loaded = current
            # Once per minute at most: the new server process says it started once the reload has ended.
            log = Path(self.stack) / "code-server.log"
            if time.monotonic() - self.repaired_at > 60 and code_server_lost_cleanup(log):
                self.repaired_at = time.monotonic()
                reason = "the code server lost its run-cleanup thread (the database was unreachable as a run ended)"
                reasons.append(reason)
                if not self.told:  # once until the code server is whole again
                    self.told = True
                    alert = {
                        "alert": "code_server_failing",
                        "text": f"{reason}: launches would time out; reloading the code location",
                        "process": "code-server",
                        "at": now(),
                        "host": socket.gethostname(),
                        "log": str(log),
                    }
                    if (problem := post(alert)) is not None:
                        self.say(problem)
            elif self.told and not code_server_lost_cleanup(log):
                self.told = False
            if reasons:
                self.say("; ".join(reasons) + ": reloading the code location")
                self.reloading = reload_code_location(self.stack, self.location, self.log)
            return
        if event == "PROCESS_STATE_RUNNING" and fields.get("processname") == "code-server":
            self.loaded = manifest_digest()
            return
        exited = process_alert(event, fields, self.stack)
        if exited is not None:
            self.say(exited["text"])
            if (problem := post(exited)) is not None:
                self.say(problem)


def listen(listener: Listener, stdin=sys.stdin, stdout=sys.stdout) -> None:
    """supervisord's event listener protocol: READY, a header line, a payload of the length it gives, RESULT."""
    while True:
        stdout.write("READY\n")
        stdout.flush()
        line = stdin.readline()
        if not line:
            return  # supervisord has gone
        header = dict(token.split(":", 1) for token in line.split())
        payload = stdin.read(int(header["len"]))
        first = payload.split("\n", 1)[0]
        fields = dict(token.split(":", 1) for token in first.split() if ":" in token)
        try:
            listener.handle(header.get("eventname", ""), fields)
        except Exception as error:  # noqa: BLE001 - an alert that cannot be sent must not stop the next one
            listener.say(f"handling {header.get('eventname')} failed: {error!r}")
        stdout.write("RESULT 2\nOK")
        stdout.flush()


if __name__ == "__main__":
    listen(Listener(os.environ.get("SV_SERVE_STACK", ""), sys.argv[1] if len(sys.argv) > 1 else "pipeline.definitions"))
