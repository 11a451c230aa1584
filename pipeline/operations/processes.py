"""Which process is which: a process id alone names whatever the kernel gave that number last, so after a crash or
a reboot a recorded id may belong to an unrelated process. A process is recorded with its id, its start time
(/proc/<pid>/stat field 22, in clock ticks since boot), the boot it ran in and its command line, and is signalled only
while all four still match.

Linux only (/proc), as the served stack is.
"""

import contextlib
import os
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path

PROC = Path("/proc")


def boot_id() -> str:
    return (PROC / "sys" / "kernel" / "random" / "boot_id").read_text().strip()


def stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat from field 3 (state) on; None when there is no such process. The command name (field 2)
    may contain spaces and parentheses, so the line is split after its last ')'."""
    try:
        return (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


@dataclass(frozen=True)
class Identity:
    pid: int
    started: int  # clock ticks after boot (field 22 of /proc/<pid>/stat)
    boot: str
    cmdline: list[str]

    @classmethod
    def of(cls, pid: int) -> "Identity | None":
        """The process now running under `pid`; None if there is none or it has exited (a zombie)."""
        fields = stat_fields(pid)
        if fields is None or fields[0] in ("Z", "X"):
            return None
        try:
            raw = (PROC / str(pid) / "cmdline").read_bytes()
        except OSError:
            return None
        return cls(
            pid=pid, started=int(fields[19]), boot=boot_id(), cmdline=raw.decode(errors="replace").split("\0")[:-1]
        )

    @classmethod
    def of_started(cls, pid: int, program: str, timeout: float = 10) -> "Identity | None":
        """The identity of a process just started from `program`, once it has replaced the forked parent's image
        (until then /proc shows the parent's command line, or none)."""
        deadline = time.monotonic() + timeout
        while (identity := cls.of(pid)) is not None and program not in identity.cmdline[
            :2
        ]:  # [:2]: a script runs as its interpreter
            if time.monotonic() > deadline:
                return None
            time.sleep(0.05)
        return identity

    @classmethod
    def from_record(cls, record: object) -> "Identity | None":
        """A recorded identity; None for a record of another shape (an older state file: then nothing is trusted)."""
        if not isinstance(record, dict):
            return None
        try:
            return cls(int(record["pid"]), int(record["started"]), str(record["boot"]), list(record["cmdline"]))
        except (KeyError, TypeError, ValueError):
            return None

    def record(self) -> dict:
        return asdict(self)

    def alive(self) -> bool:
        """Whether this very process still runs: same id, start time, boot and command line."""
        return Identity.of(self.pid) == self

    def leads_group(self) -> bool:
        fields = stat_fields(self.pid)
        return fields is not None and int(fields[2]) == self.pid


def group_alive(pgid: int) -> bool:
    """Whether a process of the group still runs. Zombies do not count: a process whose parent exited waits
    for init to reap it, and a signal to its group still succeeds meanwhile."""
    for stat in PROC.glob("[0-9]*/stat"):
        fields = stat_fields(int(stat.parent.name))
        if fields is not None and int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            return True
    return False


def stop(identity: Identity, grace: float = 20) -> bool:
    """SIGTERM to the process's group (to the process alone if it does not lead one), SIGKILL after `grace`
    seconds; only if the identity still matches at each signal. Whether anything was signalled."""
    if not identity.alive():
        return False
    group = identity.leads_group()

    def send(sig: signal.Signals) -> None:
        if identity.alive() or (group and group_alive(identity.pid)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(identity.pid, sig) if group else os.kill(identity.pid, sig)

    send(signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not (group_alive(identity.pid) if group else identity.alive()):
            return True
        time.sleep(0.2)
    # The group's leader may have gone while a child lingers: the group id cannot be reused while a member lives.
    if identity.alive() or (group and group_alive(identity.pid)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(identity.pid, signal.SIGKILL) if group else os.kill(identity.pid, signal.SIGKILL)
    return True


def with_marker(name: str, value: str) -> list[int]:
    """Processes whose environment carries `name=value` (readable for one's own processes, or as root): how the
    processes of one stack are found after their supervisor died without stopping them."""
    wanted = f"{name}={value}".encode()
    found = []
    for entry in PROC.glob("[0-9]*"):
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if wanted in environ.split(b"\0") and int(entry.name) != os.getpid():
            found.append(int(entry.name))
    return found
