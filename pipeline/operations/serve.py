"""The production topology on one machine, on loopback: `make serve` starts it, `make serve-stop` stops it.

    PostgreSQL  (Debian's server; cluster and data in .state/serve/postgres, run by its own `postgres` user)
      ↑ runs, events, schedules, sensor cursors (deploy/dagster.postgres.yaml, the instance every deployment uses)
    supervisord (Debian's `supervisor`): starts and restarts the three Dagster processes
      code server (the code location as its own gRPC process; it launches each run as a child process)
      dagster-daemon (scheduler, sensors, run queue: one run at a time; run monitoring)
      webserver   (UI_PORT, read-only: runs are launched by the schedule, the sensors and the CLI)

Run as root, the three Dagster processes and every run run as the system user `svdata` (created if missing), from
an environment it can execute and not change (pipeline/operations/service_env.py), and may write only where a run
must (`service_writes`); supervisord stays root's, as do its configuration and logs. The supervisor is recorded in
.state/serve/processes.json with its process id, start time and command line, and is signalled only while all three
match; every process of the stack carries SV_SERVE_STACK=<state folder> in its environment, which is how what is left
of a crashed stack is found. SV_SERVE_DIR moves the state folder; SV_PG_PORT, SV_GRPC_PORT and UI_PORT choose the ports.

    python -m pipeline.operations.serve start | stop | status | env | audit
"""

import argparse
import json
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from pipeline.operations import alerts, processes, service_env
from pipeline.operations.locations import PROJECT_DIR
from pipeline.operations.processes import Identity

BIN = Path(sys.executable).parent
INSTANCE_CONFIG = PROJECT_DIR / "deploy" / "dagster.postgres.yaml"
LOCATION = "pipeline.definitions"
PROGRAMS = ("code-server", "daemon", "webserver")
# supervisord's event listener (pipeline/operations/alerts.py): posts a program that exited to the failure webhook,
# and reloads the code location when raw/sources.yaml changes.
LISTENER = "alerts"
# PostgreSQL refuses to run as root; Debian's package creates this user.
PG_SYSTEM_USER = "postgres"
# The user the stack and its runs run as when started by root (useradd --system).
SERVICE_USER = "svdata"
# Set in the environment of every process the stack starts (runs included), to the state folder.
MARKER = "SV_SERVE_STACK"
# A daemon whose newest heartbeat is older than this is reported dead (it beats every 30 s; Dagster's own
# tolerance is 30 minutes, far too long to notice anything).
HEARTBEAT_TOLERANCE_SECONDS = 75
SUPERVISORD = shutil.which("supervisord") or "/usr/bin/supervisord"
SUPERVISORCTL = shutil.which("supervisorctl") or "/usr/bin/supervisorctl"


class ServeError(Exception):
    """A step of starting or stopping the stack failed; the message says which and where its log is."""


def service_user() -> pwd.struct_passwd | None:
    """The unprivileged user the stack runs as when started by root (created once); None for anyone else."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError:
        pass
    run(["useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER],
        f"useradd {SERVICE_USER}")  # fmt: skip
    return pwd.getpwnam(SERVICE_USER)


def why_not_as(user: pwd.struct_passwd, python: Path | str = sys.executable) -> str | None:
    """Why `user` cannot run the project's code with `python` (None if it can): an interpreter installed under a
    private home, such as /root/.pyenv, is out of its reach."""
    probe = ["runuser", "-u", user.pw_name, "--", str(python), "-c", "import dagster, pipeline.operations.locations"]
    done = subprocess.run(probe, capture_output=True, text=True, cwd=PROJECT_DIR, timeout=120)
    if done.returncode == 0:
        return None
    return f"{user.pw_name!r} cannot run {python} ({(done.stderr.strip().splitlines() or ['?'])[-1]})"


def writable_by(user: pwd.struct_passwd, path: Path) -> bool:
    return subprocess.run(["runuser", "-u", user.pw_name, "--", "test", "-w", str(path)]).returncode == 0


def unprivileged_bin(user: pwd.struct_passwd, notes: list[str]) -> Path:
    """Run as root, the stack runs as `user` from the service environment (pipeline/operations/service_env.py):
    built once per requirements.lock from Debian's Python, executable by `user`, writable by root alone. When that
    cannot be, `make serve` refuses rather than run the stack as root."""
    try:
        folder, took = service_env.ensure()
    except service_env.Unavailable as error:
        raise ServeError(
            f"refusing to start: as root, the stack runs as {user.pw_name!r} from a Python environment of its own, "
            f"and {error}"
        ) from None
    if took is not None:
        notes.append(f"built the service environment {folder} in {took:.0f} s (once per requirements.lock)")
    python = folder / "bin" / "python"
    if (reason := why_not_as(user, python)) is not None:
        raise ServeError(f"refusing to start: {reason}; every folder above {folder} must be "
                         "searchable by other users (chmod o+x), or set SV_SERVICE_ENV_DIR to one that is")  # fmt: skip
    if writable_by(user, folder) or writable_by(user, python):
        raise ServeError(f"refusing to start: {user.pw_name!r} could change its own environment {folder}; "
                         f"chown -R root: {folder} && chmod -R go-w {folder}")  # fmt: skip
    return folder / "bin"


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
    def data(self) -> Path:
        """Where runs publish and keep the warehouse when the stack runs as the service user and no SV_OUTPUTS_DIR
        or SV_WAREHOUSE is set: the service user may write here, not in the work tree."""
        return self.state / "data"

    @property
    def workspace(self) -> Path:
        return self.state / "workspace.yaml"

    @property
    def processes(self) -> Path:
        return self.state / "processes.json"

    @property
    def supervisor_config(self) -> Path:
        return self.state / "supervisord.conf"

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

    def record(self) -> dict:
        if not self.processes.is_file():
            return {}
        try:
            record = json.loads(self.processes.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return record if isinstance(record, dict) else {}

    def supervisor(self) -> Identity | None:
        """The supervisor this stack started, if it still runs (the same process, not just the same id)."""
        identity = Identity.from_record(self.record().get("supervisord"))
        return identity if identity and identity.alive() else None

    def running(self) -> dict[str, int]:
        """The stack's live processes by name (the supervisor and the programs it keeps), or nothing."""
        supervisor = self.supervisor()
        if supervisor is None:
            return {}
        programs = {name: program["pid"] for name, program in supervised(self).items() if program["pid"]}
        return {"supervisord": supervisor.pid} | programs


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


def postgres_running(stack: Stack) -> bool:
    """`pg_ctl status`: this cluster's server runs (it checks the pid in postmaster.pid against the data folder)."""
    data = stack.postgres / "data"
    if not (data / "postmaster.pid").exists():
        return False
    return (
        subprocess.run(as_pg_user([pg_bin("pg_ctl"), "-D", str(data), "status"]), capture_output=True).returncode == 0
    )


def start_postgres(stack: Stack) -> None:
    if not postgres_running(stack):  # left running by a stack that crashed: keep it
        # Loopback TCP only; no Unix socket, so nothing outside the state folder is written.
        options = f"-c listen_addresses=127.0.0.1 -p {stack.pg_port} -c unix_socket_directories=''"
        data, log = stack.postgres / "data", stack.postgres / "server.log"
        command = [pg_bin("pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start"]
        run(as_pg_user(command), f"pg_ctl start (see {log})")
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
    if postgres_running(stack):
        data = stack.postgres / "data"
        run(as_pg_user([pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]), "pg_ctl stop")


# Dagster under supervisord -------------------------------------------------------------------------------------


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


def dagster_processes(stack: Stack, bin_dir: Path = BIN) -> dict[str, list[str]]:
    """In start order. The code server comes first: the daemon and the webserver load the code from it."""
    workspace = ["-w", str(stack.workspace)]
    return {
        "code-server": [str(bin_dir / "dagster"), "code-server", "start", "-m", LOCATION, "-h", "127.0.0.1"]
        + ["-p", str(stack.grpc_port), "--location-name", LOCATION],
        "daemon": [str(bin_dir / "dagster-daemon"), "run", *workspace],
        # Read-only: the port cannot launch, cancel or delete runs or switch automation (launchRun and every other
        # mutation answer UnauthorizedError, GET or POST). Runs come from the schedule, the sensors and the CLI.
        "webserver": [str(bin_dir / "dagster-webserver"), "--read-only", "-h", "127.0.0.1", "-p", str(stack.ui_port)]
        + workspace,
    }


def supervisor_config(stack: Stack, user: pwd.struct_passwd | None = None, bin_dir: Path = BIN) -> str:
    """supervisord's configuration: each Dagster process restarted whenever it exits, its process group (a run is
    a child of the code server) stopped with it, its log rotated at 10 MB. Started by root, supervisord stays root
    (its configuration, socket and logs are root's, in a folder the service user cannot write) and starts each
    program as `user`."""
    lines = [
        "; Written by pipeline/operations/serve.py at each start.",
        "[supervisord]",
        f"logfile={stack.state / 'supervisord.log'}",
        "logfile_maxbytes=10MB",
        f"pidfile={stack.state / 'supervisord.pid'}",
        "nodaemon=true",
        f"childlogdir={stack.state}",
        "[unix_http_server]",
        f"file={stack.state / 'supervisor.sock'}",
        "chmod=0700",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "[supervisorctl]",
        f"serverurl=unix://{stack.state / 'supervisor.sock'}",
    ]
    for priority, (name, command) in enumerate(dagster_processes(stack, bin_dir).items()):
        lines += [
            f"[program:{name}]",
            "command=" + " ".join(command),
            *([f"user={user.pw_name}"] if user is not None else []),
            f"directory={PROJECT_DIR}",
            # The code server first; `start` starts the other two once it answers.
            f"autostart={'true' if name == 'code-server' else 'false'}",
            "autorestart=true",
            f"priority={priority + 1}",
            "startsecs=5",
            "startretries=10",
            "stopasgroup=true",
            "killasgroup=true",
            "stopwaitsecs=20",
            "redirect_stderr=true",
            f"stdout_logfile={stack.state / f'{name}.log'}",
            "stdout_logfile_maxbytes=10MB",
            "stdout_logfile_backups=3",
        ]
    return "\n".join(lines + listener_config(stack, user, bin_dir)) + "\n"


def listener_config(stack: Stack, user: pwd.struct_passwd | None = None, bin_dir: Path = BIN) -> list[str]:
    """The event listener: supervisord's own mechanism for acting when a program exits (no polling of ours), and
    its 5-second tick for noticing a changed manifest. Its stdout is supervisord's channel; it logs to stderr. It
    runs as the programs do: as `user`, from the same environment."""
    return [
        f"[eventlistener:{LISTENER}]",
        f"command={bin_dir / 'python'} -m pipeline.operations.alerts {LOCATION}",
        *([f"user={user.pw_name}"] if user is not None else []),
        f"directory={PROJECT_DIR}",
        "events=PROCESS_STATE_EXITED,PROCESS_STATE_FATAL,PROCESS_STATE_RUNNING,TICK_5",
        "buffer_size=100",
        "autostart=true",
        "autorestart=true",
        "priority=0",
        "stopasgroup=true",
        "killasgroup=true",
        "stdout_logfile=NONE",  # the protocol's READY and RESULT lines, nothing to keep
        f"stderr_logfile={stack.state / f'{LISTENER}.log'}",
        "stderr_logfile_maxbytes=10MB",
        "stderr_logfile_backups=3",
    ]


def supervisorctl(stack: Stack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [SUPERVISORCTL, "-c", str(stack.supervisor_config), *args], capture_output=True, text=True, timeout=60
    )


def supervised(stack: Stack) -> dict[str, dict]:
    """Each program's state as supervisord reports it (RUNNING, STARTING, BACKOFF, EXITED, FATAL...) and its pid."""
    try:
        answer = supervisorctl(stack, "status")
    except (OSError, subprocess.TimeoutExpired):
        return {}
    states = {}
    for line in answer.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in (*PROGRAMS, LISTENER):
            pid = int(parts[3].rstrip(",")) if len(parts) >= 4 and parts[2] == "pid" else None
            states[parts[0]] = {"state": parts[1], "pid": pid}
    return states


def program_env(stack: Stack, user: pwd.struct_passwd | None, bin_dir: Path = BIN) -> dict[str, str]:
    env = os.environ | stack.env() | {MARKER: str(stack.state), "VIRTUAL_ENV": str(bin_dir.parent)}
    if user is not None:
        # HOME (caches: matplotlib's, fontconfig's) where the service user may write.
        env |= {"HOME": str(stack.data), "USER": user.pw_name, "LOGNAME": user.pw_name}
        # The service user cannot write the work tree: unless told otherwise, runs publish into the state folder.
        env.setdefault("SV_OUTPUTS_DIR", str(stack.data / "outputs"))
        env.setdefault("SV_WAREHOUSE", str(stack.data / "warehouse.duckdb"))
    return env


def as_user(user: pwd.struct_passwd | None) -> dict:
    """Popen options that start a process as `user` (nothing when there is no user to switch to)."""
    if user is None:
        return {}
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def service_writes(stack: Stack) -> tuple[Path, ...]:
    """The folders the service user owns: the package it publishes and the warehouse (data/, also its HOME), and
    Dagster's local storage (compute logs). Nothing else: the state folder with its configuration, logs and
    password file stays root's, raw/, the code and the service environment are read only."""
    return (stack.data, stack.home / "storage")


def prepare_for_user(stack: Stack, user: pwd.struct_passwd | None, env: dict[str, str]) -> None:
    """The service user gets exactly `service_writes` (the first start seeds data/outputs from the work tree's
    outputs/ so that versions follow on); the rest of the state folder, but the cluster, is root's (an older stack
    gave it all to the service user). Folders named by SV_OUTPUTS_DIR or SV_WAREHOUSE are not changed: the user
    must be able to write them already."""
    if user is None:
        return
    granted = service_writes(stack)
    for folder in granted:
        folder.mkdir(parents=True, exist_ok=True)
    # Top down, so that a folder is root's before what is in it is looked at (the service user cannot swap an entry
    # of a root's folder for a symbolic link meanwhile), and never into the service user's own folders: only they
    # themselves are given to it, what is in them it wrote itself.
    for walked, subfolders, files in os.walk(stack.state):
        here = Path(walked)
        if here == stack.state:
            os.chown(here, 0, 0)
            here.chmod(here.stat().st_mode & ~0o022)
        for path in (here / name for name in subfolders + files):
            if path in granted:
                os.chown(path, user.pw_uid, user.pw_gid, follow_symlinks=False)
            elif path.is_symlink():  # the stack makes none: one left by an older stack's user is not followed
                path.unlink()
            elif path != stack.postgres:
                os.chown(path, 0, 0, follow_symlinks=False)
                path.chmod(path.stat().st_mode & ~0o022)
        subfolders[:] = [name for name in subfolders if here / name not in granted and here / name != stack.postgres]
    outputs = Path(env["SV_OUTPUTS_DIR"])
    if outputs == stack.data / "outputs" and not outputs.exists():
        # Copied by the service user, whose runs replace it.
        run(
            ["runuser", "-u", user.pw_name, "--", "cp", "-R", str(PROJECT_DIR / "outputs"), str(outputs)],
            f"copying outputs/ into {outputs} as {user.pw_name}",
        )
    needed = {outputs.parent: "SV_OUTPUTS_DIR's parent", Path(env["SV_WAREHOUSE"]).parent: "SV_WAREHOUSE's folder"}
    for folder, what in needed.items():
        if not writable_by(user, folder):
            raise ServeError(
                f"the stack runs as {user.pw_name!r}, which cannot write {folder} ({what}): "
                f"chown -R {user.pw_name}: {folder}, or leave it unset to publish into {stack.data}"
            )


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


HEALTH = """{ instance { info daemonHealth { allDaemonStatuses { daemonType healthy required lastHeartbeatTime } } }
  workspaceOrError { ... on Workspace { locationEntries { name loadStatus
    locationOrLoadError { __typename ... on PythonError { message } } } } } }"""


def health(stack: Stack, url: str | None = None) -> dict:
    """What the webserver says: the instance's storage, each daemon's health, the code location's status."""
    data = graphql(stack, HEALTH, url=url)
    instance = data["instance"]
    info = dict(line.split(": ", 1) for line in (instance["info"] or "").splitlines() if line.endswith("Storage"))
    statuses = [d for d in instance["daemonHealth"]["allDaemonStatuses"] if d["required"]]
    entries = data["workspaceOrError"]["locationEntries"]
    return {
        "storage": {kind: info.get(kind) for kind in ("run_storage", "event_log_storage", "schedule_storage")},
        "daemons": {d["daemonType"]: d["healthy"] for d in statuses},
        "heartbeats": {d["daemonType"]: d["lastHeartbeatTime"] for d in statuses},
        "locations": {e["name"]: e["loadStatus"] for e in entries},
        "location_errors": {
            e["name"]: (e["locationOrLoadError"] or {}).get("message", "not loaded")
            for e in entries
            if (e["locationOrLoadError"] or {}).get("__typename") != "RepositoryLocation"
        },
    }


def wait_until(what: str, ready, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if ready():
                return
        except (OSError, urllib.error.URLError, ServeError, ValueError, KeyError):
            pass
        time.sleep(1)
    raise ServeError(f"{what} not ready after {timeout:.0f} s; see {log}")


def code_server_up(stack: Stack) -> bool:
    probe = [str(BIN / "dagster"), "api", "grpc-health-check", "-h", "127.0.0.1", "-p", str(stack.grpc_port)]
    return subprocess.run(probe, capture_output=True, timeout=60).returncode == 0


def started_at(pid: int) -> float | None:
    """When a process started, in seconds since the epoch (from its start time in ticks after boot)."""
    fields = processes.stat_fields(pid)
    if fields is None:
        return None
    boot = next(
        int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime")
    )
    return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def daemons_healthy(stack: Stack) -> bool:
    """Every required daemon has beaten since the running daemon process started (not just within Dagster's
    30-minute tolerance, which a dead daemon's last heartbeat satisfies)."""
    pid = supervised(stack).get("daemon", {}).get("pid")
    since = started_at(pid) if pid else None
    beats = health(stack)["heartbeats"]
    return since is not None and bool(beats) and all(t is not None and t >= since for t in beats.values())


def record(stack: Stack, supervisor: Identity, user: pwd.struct_passwd | None) -> None:
    user_name = user.pw_name if user else pwd.getpwuid(os.geteuid()).pw_name
    text = json.dumps({"supervisord": supervisor.record(), "user": user_name}, indent=2)
    stack.processes.write_text(text + "\n", encoding="utf-8")


def clear_stale(stack: Stack) -> list[str]:
    """What is left of a stack that ended without `serve-stop` (its supervisor killed, the machine restarted):
    processes still carrying this stack's marker are stopped, and the state file and the supervisor's socket and
    pid file are removed. A recorded id now used by another process is left alone."""
    notes = []
    for pid in processes.with_marker(MARKER, str(stack.state)):
        identity = Identity.of(pid)
        if identity is not None and processes.stop(identity):
            notes.append(f"stopped pid {pid} ({' '.join(identity.cmdline)[:80]})")
    for name in ("processes.json", "supervisor.sock", "supervisord.pid"):
        if (stack.state / name).exists():
            (stack.state / name).unlink()
            notes.append(f"removed stale {name}")
    return notes


def start(stack: Stack) -> list[str]:
    """Starts the stack; what it had to clean up first, if anything."""
    if (supervisor := stack.supervisor()) is not None:
        raise ServeError(f"the stack is already running (supervisord pid {supervisor.pid}); `make serve-stop` first")
    if not shutil.which(SUPERVISORD):
        raise ServeError("supervisord is not installed: apt-get install supervisor")
    notes = clear_stale(stack)
    # Before anything starts: as root, the stack runs unprivileged or not at all.
    user = service_user()
    bin_dir = unprivileged_bin(user, notes) if user is not None else BIN
    stack.state.mkdir(parents=True, exist_ok=True)
    init_cluster(stack)
    start_postgres(stack)
    try:
        env = program_env(stack, user, bin_dir)
        # First: root then writes only into folders that are root's.
        prepare_for_user(stack, user, env)
        write_instance(stack)
        stack.supervisor_config.write_text(supervisor_config(stack, user, bin_dir), encoding="utf-8")
        # The schema is created once, before three processes could race to create it.
        migrate = [str(bin_dir / "dagster"), "instance", "migrate"]
        run(migrate, "dagster instance migrate", env=env, cwd=stack.state, **as_user(user))
        log = (stack.state / "supervisord.out").open("ab")
        process = subprocess.Popen(
            [SUPERVISORD, "-c", str(stack.supervisor_config)], cwd=stack.state, env=env, stdin=subprocess.DEVNULL,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        log.close()
        identity = Identity.of_started(process.pid, SUPERVISORD)
        if identity is None:
            raise ServeError(f"supervisord exited at once; see {stack.state / 'supervisord.out'}")
        record(stack, identity, user)
        wait_until("the code server", lambda: code_server_up(stack), 120, stack.state / "code-server.log")
        answer = supervisorctl(stack, "start", "daemon", "webserver")
        if answer.returncode != 0:
            raise ServeError(f"supervisorctl start: {answer.stdout.strip()}; see {stack.state / 'supervisord.log'}")
        wait_until("the webserver", lambda: bool(health(stack)), 120, stack.state / "webserver.log")
        wait_until("the daemons", lambda: daemons_healthy(stack), 180, stack.state / "daemon.log")
    except BaseException:
        stop(stack)
        raise
    return notes


def stop(stack: Stack) -> list[str]:
    """The supervisor (which stops the three programs and their process groups, runs included), anything else of
    this stack that outlived it, then PostgreSQL. The state (cluster, run history) stays for the next start."""
    notes = []
    supervisor = Identity.from_record(stack.record().get("supervisord"))
    if supervisor is not None and processes.stop(supervisor, grace=60):
        notes.append(f"stopped supervisord (pid {supervisor.pid}) and the processes it kept")
    elif supervisor is not None:
        notes.append(f"supervisord (pid {supervisor.pid}) was not running; that id is left alone")
    notes += clear_stale(stack)
    if (stack.postgres / "data").is_dir() and postgres_running(stack):
        stop_postgres(stack)
        notes.append("stopped PostgreSQL")
    return notes


RUNS_IN_PROGRESS = """{ runsOrError(filter: {statuses: [STARTED, CANCELING]}) { ... on Runs { results {
  runId status startTime eventConnection(limit: 200) { events { __typename ... on EngineEvent { message } } } } } } }"""


def stuck_runs(stack: Stack) -> list[str]:
    """Runs recorded as in progress whose worker process is gone (the code server started it and recorded its
    pid; a run whose worker died stays STARTED until run monitoring's maximum run time ends it)."""
    stuck = []
    for run_ in graphql(stack, RUNS_IN_PROGRESS)["runsOrError"]["results"]:
        pids = [
            int(event["message"].split("pid: ")[1].rstrip(")."))
            for event in run_["eventConnection"]["events"]
            if (event.get("message") or "").startswith("Started process for run (pid: ")
        ]
        if not pids:
            continue  # not started by a worker yet
        # The worker (a multiprocessing child of the code server) starts before it records the run's start: a
        # process under that id that started later is another one.
        began = started_at(pids[-1]) if Identity.of(pids[-1]) is not None else None
        if began is None or (run_["startTime"] is not None and began > run_["startTime"] + 1):
            stuck.append(f"run {run_['runId']} is {run_['status']} but its worker (pid {pids[-1]}) is gone")
    return stuck


def status(stack: Stack) -> dict:
    """Every check, each failure a line under `problems`; never raises."""
    supervisor = stack.supervisor()
    if supervisor is None:
        stale = stack.processes.exists() or bool(processes.with_marker(MARKER, str(stack.state)))
        problem = "not running" + (" (stale state of a stack that crashed: `make serve` recovers)" if stale else "")
        return {"healthy": False, "problems": [problem]}
    report: dict = {"supervisord": supervisor.pid, "user": stack.record().get("user"), "programs": supervised(stack)}
    problems = [
        f"{name} is {report['programs'].get(name, {}).get('state', 'unknown to supervisord')} (see {stack.state / f'{name}.log'})"  # noqa: E501
        for name in (*PROGRAMS, LISTENER)
        if report["programs"].get(name, {}).get("state") != "RUNNING"
    ]
    if not code_server_up(stack):
        problems.append(f"the code server does not answer on 127.0.0.1:{stack.grpc_port}")
    if alerts.code_server_lost_cleanup(stack.state / "code-server.log"):
        problems.append(
            "the code server lost its run-cleanup thread (the database was unreachable as a run ended): launches "
            f"will time out until it is reloaded, which the {LISTENER} listener does within seconds"
        )
    try:
        report |= health(stack)
    except (OSError, urllib.error.URLError, ServeError, ValueError, KeyError) as error:
        problems.append(f"the webserver does not answer on {stack.ui_url}: {error}")
    else:
        daemon = report["programs"].get("daemon", {}).get("pid")
        since = started_at(daemon) if daemon else None
        now = time.time()
        for kind, beat in report["heartbeats"].items():
            if beat is None or since is None or beat < since:
                problems.append(f"daemon {kind} has not beaten since the daemon process started")
            elif now - beat > HEARTBEAT_TOLERANCE_SECONDS:
                problems.append(f"daemon {kind}'s last heartbeat is {now - beat:.0f} s old")
        problems += [f"code location {name}: {message}" for name, message in report["location_errors"].items()]
        try:
            problems += stuck_runs(stack)
        except (OSError, urllib.error.URLError, ServeError, ValueError, KeyError) as error:
            problems.append(f"runs in progress could not be read: {error}")
    return {"healthy": not problems, "problems": problems, **report}


def audit(stack: Stack, port: int) -> None:
    """The auditor's read-only UI: over the served stack's storage when it runs, else over dagster_home/."""
    webserver = [str(BIN / "dagster-webserver"), "--read-only", "-h", "127.0.0.1", "-p", str(port)]
    if stack.supervisor() is not None:
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
            for note in start(stack):
                print(note if note.startswith("built") else f"recovered: {note}")
            print(f"serving: UI {stack.ui_url} (read-only), code server 127.0.0.1:{stack.grpc_port}, "
                  f"PostgreSQL 127.0.0.1:{stack.pg_port}; state in {stack.state}")  # fmt: skip
        elif args.action == "stop":
            notes = stop(stack)
            print("\n".join(notes) if notes else "nothing of this stack was running")
        elif args.action == "status":
            report = status(stack)
            print(json.dumps(report, indent=2))
            return 0 if report["healthy"] else 1
        elif args.action == "env":
            for key, value in stack.env().items():
                print(f"export {key}={value}")
        else:
            audit(stack, args.port)
    except (ServeError, OSError, subprocess.SubprocessError) as error:
        print(f"serve {args.action}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
