"""The production topology on one machine, on loopback: `make serve` starts it, `make serve-stop` stops it.

    PostgreSQL  (Debian's server; cluster and data in .state/serve/postgres, run by a user that is not root)
      ↑ runs, events, schedules, sensor cursors (deploy/dagster.postgres.yaml, the instance every deployment uses)
    code server (the code location as its own gRPC process; it launches each run as a child process)
    dagster-daemon (scheduler, sensors, run queue: one run at a time)
    webserver   (UI_PORT; `make audit` adds a read-only one over the same storage)

Every process started is recorded in .state/serve/processes.json with its process group; `stop` stops exactly
those groups and then the PostgreSQL cluster, and nothing else. SV_SERVE_DIR moves the state folder; SV_PG_PORT,
SV_GRPC_PORT and UI_PORT choose the ports.

    python -m pipeline.operations.serve start | stop | status | env | audit
"""

import argparse
import contextlib
import json
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from pipeline.operations.locations import PROJECT_DIR

BIN = Path(sys.executable).parent
INSTANCE_CONFIG = PROJECT_DIR / "deploy" / "dagster.postgres.yaml"
LOCATION = "pipeline.definitions"
# The daemons the deployment needs healthy before it is up (the names GraphQL reports).
NEEDED_DAEMONS = ("SCHEDULER", "SENSOR", "QUEUED_RUN_COORDINATOR")
# PostgreSQL refuses to run as root; Debian's package creates this user.
PG_SYSTEM_USER = "postgres"


class ServeError(Exception):
    """A step of starting or stopping the stack failed; the message says which and where its log is."""


@dataclass(frozen=True)
class Stack:
    state: Path
    pg_port: int
    grpc_port: int
    ui_port: int

    @classmethod
    def from_env(cls) -> "Stack":
        return cls(
            state=Path(os.environ.get("SV_SERVE_DIR", PROJECT_DIR / ".state" / "serve")).resolve(),
            pg_port=int(os.environ.get("SV_PG_PORT", "5433")),
            grpc_port=int(os.environ.get("SV_GRPC_PORT", "4266")),
            ui_port=int(os.environ.get("UI_PORT", "3000")),
        )

    @property
    def postgres(self) -> Path:
        """Owned by the PostgreSQL user: the cluster (data/) and the server's log."""
        return self.state / "postgres"

    @property
    def home(self) -> Path:
        return self.state / "home"

    @property
    def workspace(self) -> Path:
        return self.state / "workspace.yaml"

    @property
    def processes(self) -> Path:
        return self.state / "processes.json"

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.ui_port}"

    def password(self) -> str:
        return (self.state / "pg_password").read_text(encoding="utf-8").strip()

    def env(self) -> dict[str, str]:
        """What every Dagster process of the stack needs: the instance and how to reach its database."""
        return {
            "DAGSTER_HOME": str(self.home),
            "DAGSTER_PG_HOST": "127.0.0.1",
            "DAGSTER_PG_PORT": str(self.pg_port),
            "DAGSTER_PG_PASSWORD": self.password(),
            "VIRTUAL_ENV": str(BIN.parent),
        }

    def running(self) -> dict[str, int]:
        if not self.processes.is_file():
            return {}
        return json.loads(self.processes.read_text(encoding="utf-8"))


# PostgreSQL -------------------------------------------------------------------------------------------------


def pg_bin(program: str) -> str:
    """A server program of the newest PostgreSQL Debian installed (`initdb` and `pg_ctl` are not on PATH)."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    if not versions:
        raise ServeError("PostgreSQL's server is not installed: apt-get install postgresql")
    return str(versions[-1] / program)


def as_pg_user(command: list[str]) -> list[str]:
    """Run as root, a PostgreSQL program is run as Debian's `postgres` user; otherwise as the current user."""
    if os.geteuid() != 0:
        return command
    try:
        pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        raise ServeError(
            f"running as root needs the {PG_SYSTEM_USER!r} user Debian's postgresql package creates"
        ) from None
    return ["runuser", "-u", PG_SYSTEM_USER, "--", *command]


def give_to_pg_user(path: Path) -> None:
    if os.geteuid() == 0:
        user = pwd.getpwnam(PG_SYSTEM_USER)
        os.chown(path, user.pw_uid, user.pw_gid)


def run(command: list[str], what: str, **options) -> None:
    done = subprocess.run(command, capture_output=True, text=True, **options)
    if done.returncode != 0:
        raise ServeError(f"{what} failed (exit {done.returncode}): {(done.stderr or done.stdout).strip()[-1500:]}")


def init_cluster(stack: Stack) -> None:
    """A cluster with one role, `dagster`, whose password lives in the state folder (mode 600); once only."""
    data = stack.postgres / "data"
    if (data / "PG_VERSION").is_file():
        return
    stack.state.mkdir(parents=True, exist_ok=True)
    password = stack.state / "pg_password"
    password.write_text(secrets.token_urlsafe(24) + "\n", encoding="utf-8")
    password.chmod(0o600)
    stack.postgres.mkdir(mode=0o700, exist_ok=True)
    give_to_pg_user(stack.postgres)
    reachable = subprocess.run(as_pg_user(["test", "-w", str(stack.postgres)]), capture_output=True)
    if reachable.returncode != 0:
        raise ServeError(
            f"the {PG_SYSTEM_USER!r} user cannot reach {stack.postgres}: every folder above it must be "
            "searchable by other users (chmod o+x), or set SV_SERVE_DIR to a folder that is"
        )
    pwfile = stack.postgres / "initial_password"
    pwfile.write_text(stack.password() + "\n", encoding="utf-8")
    pwfile.chmod(0o600)
    give_to_pg_user(pwfile)
    try:
        run(
            as_pg_user(
                [pg_bin("initdb"), "-D", str(data), "-U", "dagster", f"--pwfile={pwfile}", "--auth=scram-sha-256"]
                + ["--encoding=UTF8", "--locale=C"]
            ),
            "initdb",
        )
    finally:
        pwfile.unlink()


def start_postgres(stack: Stack) -> None:
    # Loopback TCP only; no Unix socket, so nothing outside the state folder is written.
    options = f"-c listen_addresses=127.0.0.1 -p {stack.pg_port} -c unix_socket_directories=''"
    data, log = stack.postgres / "data", stack.postgres / "server.log"
    run(as_pg_user([pg_bin("pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start"]), "pg_ctl start")
    create_database(stack)


def create_database(stack: Stack) -> None:
    import psycopg2

    connection = psycopg2.connect(
        host="127.0.0.1", port=stack.pg_port, user="dagster", password=stack.password(), dbname="postgres"
    )
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = 'dagster'")
        if cursor.fetchone() is None:
            cursor.execute("CREATE DATABASE dagster OWNER dagster")
    connection.close()


def stop_postgres(stack: Stack) -> None:
    data = stack.postgres / "data"
    if (data / "postmaster.pid").exists():
        run(as_pg_user([pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]), "pg_ctl stop")


# Dagster ----------------------------------------------------------------------------------------------------


def write_instance(stack: Stack) -> None:
    stack.home.mkdir(parents=True, exist_ok=True)
    shutil.copy(INSTANCE_CONFIG, stack.home / "dagster.yaml")
    stack.workspace.write_text(
        "# Written by pipeline/operations/serve.py: the webserver and daemon load the code location from its server.\n"
        "load_from:\n"
        "  - grpc_server:\n"
        "      host: 127.0.0.1\n"
        f"      port: {stack.grpc_port}\n"
        f"      location_name: {LOCATION}\n",
        encoding="utf-8",
    )


def dagster_processes(stack: Stack) -> dict[str, list[str]]:
    """In start order. The code server comes first: the daemon and the webserver load the code from it."""
    workspace = ["-w", str(stack.workspace)]
    return {
        "code-server": [str(BIN / "dagster"), "code-server", "start", "-m", LOCATION, "-h", "127.0.0.1"]
        + ["-p", str(stack.grpc_port), "--location-name", LOCATION],
        "daemon": [str(BIN / "dagster-daemon"), "run", *workspace],
        "webserver": [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(stack.ui_port), *workspace],
    }


def spawn(stack: Stack, name: str, command: list[str]) -> int:
    """A process in its own session (so that stopping its group stops the children it starts, such as runs),
    logging to .state/serve/<name>.log. Its pid is recorded before anything waits on it."""
    log = (stack.state / f"{name}.log").open("ab")
    process = subprocess.Popen(
        command, cwd=PROJECT_DIR, env=os.environ | stack.env(), stdin=subprocess.DEVNULL, stdout=log,
        stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    log.close()
    record = stack.running() | {name: process.pid}
    stack.processes.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return process.pid


def graphql(stack: Stack, query: str, variables: dict | None = None, *, url: str | None = None) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        f"{url or stack.ui_url}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = json.load(response)
    if answer.get("errors"):
        raise ServeError(f"GraphQL: {answer['errors'][0].get('message')}")
    return answer["data"]


HEALTH = """{ instance { info daemonHealth { allDaemonStatuses { daemonType healthy required } } }
  workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"""


def health(stack: Stack, url: str | None = None) -> dict:
    """What the webserver says: the instance's storage, each daemon's health, the code location's status."""
    data = graphql(stack, HEALTH, url=url)
    instance = data["instance"]
    info = dict(line.split(": ", 1) for line in (instance["info"] or "").splitlines() if line.endswith("Storage"))
    return {
        "storage": {kind: info.get(kind) for kind in ("run_storage", "event_log_storage", "schedule_storage")},
        "daemons": {d["daemonType"]: d["healthy"] for d in instance["daemonHealth"]["allDaemonStatuses"]},
        "locations": {e["name"]: e["loadStatus"] for e in data["workspaceOrError"]["locationEntries"]},
    }


def wait_until(what: str, ready, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if ready():
                return
        except (OSError, urllib.error.URLError, ServeError):
            pass
        time.sleep(1)
    raise ServeError(f"{what} not ready after {timeout:.0f} s; see {log}")


def code_server_up(stack: Stack) -> bool:
    probe = [str(BIN / "dagster"), "api", "grpc-health-check", "-h", "127.0.0.1", "-p", str(stack.grpc_port)]
    return subprocess.run(probe, capture_output=True).returncode == 0


def daemons_healthy(stack: Stack) -> bool:
    daemons = health(stack)["daemons"]
    return all(daemons.get(name) for name in NEEDED_DAEMONS)


def start(stack: Stack) -> None:
    if stack.running():
        raise ServeError(f"the stack is already running ({stack.processes}); `make serve-stop` first")
    stack.state.mkdir(parents=True, exist_ok=True)
    init_cluster(stack)
    start_postgres(stack)
    try:
        write_instance(stack)
        # The schema is created once, before three processes could race to create it.
        run([str(BIN / "dagster"), "instance", "migrate"], "dagster instance migrate", env=os.environ | stack.env())
        commands = dagster_processes(stack)
        spawn(stack, "code-server", commands["code-server"])
        wait_until("the code server", lambda: code_server_up(stack), 120, stack.state / "code-server.log")
        spawn(stack, "daemon", commands["daemon"])
        spawn(stack, "webserver", commands["webserver"])
        wait_until("the webserver", lambda: bool(health(stack)), 120, stack.state / "webserver.log")
        wait_until("the daemons", lambda: daemons_healthy(stack), 180, stack.state / "daemon.log")
    except BaseException:
        stop(stack)
        raise


def group_alive(pgid: int) -> bool:
    """Whether a process of the group still runs. Zombies do not count: a process whose parent exited waits
    for init to reap it, and a signal to its group still succeeds meanwhile."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def stop_group(pid: int, grace: float = 20) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not group_alive(pid):
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def stop(stack: Stack) -> None:
    """The recorded process groups (webserver and daemon first, the code server and its runs last), then
    PostgreSQL. The state (cluster, run history) stays for the next start."""
    for name, pid in reversed(list(stack.running().items())):
        stop_group(pid)
        record = stack.running()
        record.pop(name, None)
        stack.processes.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    stack.processes.unlink(missing_ok=True)
    if (stack.postgres / "data").is_dir():
        stop_postgres(stack)


def audit(stack: Stack, port: int) -> None:
    """The auditor's read-only UI: over the served stack's storage when it runs, else over dagster_home/."""
    webserver = [str(BIN / "dagster-webserver"), "--read-only", "-h", "127.0.0.1", "-p", str(port)]
    if stack.running():
        os.execve(webserver[0], [*webserver, "-w", str(stack.workspace)], os.environ | stack.env())
    os.execv(webserver[0], [*webserver, "-w", str(PROJECT_DIR / "workspace.yaml")])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.operations.serve", description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["start", "stop", "status", "env", "audit"])
    parser.add_argument("--port", type=int, default=3001, help="audit: the read-only webserver's port")
    args = parser.parse_args(argv)
    stack = Stack.from_env()
    try:
        if args.action == "start":
            start(stack)
            print(f"serving: UI {stack.ui_url}, code server 127.0.0.1:{stack.grpc_port}, "
                  f"PostgreSQL 127.0.0.1:{stack.pg_port}; state in {stack.state}")  # fmt: skip
            print(json.dumps(health(stack), indent=2))
        elif args.action == "stop":
            stop(stack)
            print("stopped")
        elif args.action == "status":
            if not stack.running():
                print("not running")
                return 1
            print(json.dumps({"processes": stack.running(), **health(stack)}, indent=2))
        elif args.action == "env":
            for key, value in stack.env().items():
                print(f"export {key}={value}")
        else:
            audit(stack, args.port)
    except ServeError as error:
        print(f"serve {args.action}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
