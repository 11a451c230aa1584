"""The Python environment the served stack runs in when root starts it: one the service user can execute and cannot
change.

The project's own .venv may be out of that user's reach (on this project's machines its interpreter is under
/root/.pyenv, and /root is private), and root must not open its home to make it reachable. So the first `make serve`
by root builds a second environment from Debian's Python (/usr/bin/python3, which requires-python accepts; its venv
module is Debian's `python3-venv` package) with requirements.lock installed, owned by root and readable by everyone,
in .state/service-env/<key>/. The key is a digest of requirements.lock and the interpreter's version: the environment
is reused until either changes, and the one it replaces is removed. SV_SERVICE_ENV_DIR moves the folder;
SV_SERVICE_PYTHON names another interpreter.
"""

import hashlib
import os
import shutil
import subprocess
import time
import tomllib
from pathlib import Path

from packaging.specifiers import SpecifierSet

from pipeline.operations.locations import PROJECT_DIR, exclusive_lock

LOCK_FILE = PROJECT_DIR / "requirements.lock"
PIP = "pip==25.3"  # the version the Makefile installs into .venv
COMPLETE = ".complete"  # written last: a folder without it is a build that did not finish


class Unavailable(Exception):
    """The service environment cannot be built here; the message names what to install or set."""


def system_python() -> Path:
    return Path(os.environ.get("SV_SERVICE_PYTHON", "/usr/bin/python3"))


def location() -> Path:
    return Path(os.environ.get("SV_SERVICE_ENV_DIR", PROJECT_DIR / ".state" / "service-env"))


def _python_version(python: Path) -> str:
    if not python.is_file():
        raise Unavailable(f"{python} is missing (apt-get install python3 python3-venv)")
    done = subprocess.run(
        [str(python), "-c", "import platform; print(platform.python_version())"], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise Unavailable(f"{python} does not run: {done.stderr.strip()[-300:]}")
    version = done.stdout.strip()
    wanted = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text(encoding="utf-8"))["project"]["requires-python"]
    if version not in SpecifierSet(wanted):
        raise Unavailable(f"{python} is Python {version}, and the project requires {wanted} (set SV_SERVICE_PYTHON)")
    venv = subprocess.run([str(python), "-c", "import ensurepip, venv"], capture_output=True)
    if venv.returncode != 0:
        raise Unavailable(f"{python} has no venv module: apt-get install python3-venv")
    return version


def key(version: str) -> str:
    return hashlib.sha256(LOCK_FILE.read_bytes() + version.encode()).hexdigest()[:16]


def ensure() -> tuple[Path, float | None]:
    """The environment's folder, built if needed, and how long building it took (None when it was reused)."""
    python = system_python()
    base = location()
    target = base / key(_python_version(python))
    if (target / COMPLETE).is_file():
        return target, None
    # Readable and executable by everyone, writable by root alone, whatever root's umask is.
    previous_umask = os.umask(0o022)
    try:
        base.mkdir(mode=0o755, parents=True, exist_ok=True)
        # Another `make serve` building the same environment: wait for it (a build takes about two minutes).
        with exclusive_lock(base / ".lock", timeout_seconds=1800):
            if (target / COMPLETE).is_file():
                return target, None
            began = time.monotonic()
            shutil.rmtree(target, ignore_errors=True)
            pip = [str(target / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
            env = os.environ | {"PIP_ROOT_USER_ACTION": "ignore"}
            for command in (
                [str(python), "-m", "venv", str(target)],
                [*pip, PIP],
                [*pip, "-r", str(LOCK_FILE)],
            ):
                done = subprocess.run(command, capture_output=True, text=True, env=env)
                if done.returncode != 0:
                    raise Unavailable(f"{' '.join(command[:4])} failed: {(done.stderr or done.stdout).strip()[-500:]}")
            (target / COMPLETE).write_text(f"built from {LOCK_FILE.name} with {python}\n", encoding="utf-8")
            for other in base.iterdir():
                if other != target and other.is_dir() and not other.is_symlink():
                    shutil.rmtree(other, ignore_errors=True)
            return target, time.monotonic() - began
    finally:
        os.umask(previous_umask)
