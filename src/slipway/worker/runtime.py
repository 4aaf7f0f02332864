"""Which OCI runtime runs containers: `SLIPWAY_RUNTIME` if set, else crun if a probe container starts with it,
else runc; the probe's verdict is kept under the store root, so it is made once.

crun is tried first because it starts containers faster, but Debian's crun 1.8 refuses to start any container
on hosts with cgroups in hybrid mode (DESIGN.md: "The OCI runtime on these machines"): hence the probe rather
than a preference. Besides worker/executor.py, this module's probe is the only other caller of the runtime.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import msgspec

from slipway.choices import PROCESS_SANDBOX_VARIABLE, PROCESS_SANDBOXES, is_rootless
from slipway.errors import RuntimeNotFound, UsageError

__all__ = [
    "CALL_TIMEOUT_SECONDS",
    "ROOTLESS_ARGS",
    "RUNTIME_CHOICE_FILE",
    "RUNTIME_NAMES",
    "SAFE_PATH",
    "Runtime",
    "find_runtime",
    "with_process_sandbox",
]

log = logging.getLogger(__name__)

# Where slipway looks for the host tools it runs (runc, git, ssh-agent): never the caller's PATH.
SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
RUNTIME_NAMES = ("crun", "runc")
RUNTIME_CHOICE_FILE = "runtime"  # under the store root: "<name> <path>", the probe's verdict
CALL_TIMEOUT_SECONDS = 60


ROOTLESS_ARGS = ("--rootless=true",)


class Runtime(msgspec.Struct, frozen=True):
    name: str  # "runc" or "crun"
    path: Path  # absolute
    # Run as root of slipway's own user namespace (worker/userns.py): no cgroups, the host's NOFILE ceiling.
    rootless: bool = False
    # False: containers share slipway's PID namespace and /proc (SLIPWAY_PROCESS_SANDBOX=off, rootless only).
    process_sandbox: bool = True

    def global_args(self) -> tuple[str, ...]:
        """Flags before the runtime's command: rootless mode said outright, as the runtime's own guess (from
        our euid, which is 0 in the namespace) would have it write cgroups it may not."""
        return ROOTLESS_ARGS if self.rootless else ()


def find_runtime(override: str | None = None, *, root: Path | None = None) -> Runtime:
    """The OCI runtime to use: `override` (a name or a path) if given; else crun if a probe container
    starts with it, else runc. With `root` (the store root) the probe's verdict is kept there. Rootless, the
    runtime runs in rootless mode."""
    runtime = _chosen_runtime(override, root)
    return msgspec.structs.replace(runtime, rootless=True) if is_rootless() else runtime


def with_process_sandbox(runtime: Runtime, setting: str | None) -> Runtime:
    """`runtime` with the process sandbox `setting` (SLIPWAY_PROCESS_SANDBOX's value; unset or empty: on).
    UsageError for another value, or for "off" where slipway is not rootless: there a RUN could signal or
    read any process of the host's root."""
    if not setting or setting == "on":
        return runtime
    if setting not in PROCESS_SANDBOXES:
        raise UsageError(
            f"{PROCESS_SANDBOX_VARIABLE}={setting}: expected one of {', '.join(PROCESS_SANDBOXES)}"
        )
    if not runtime.rootless:
        raise UsageError(
            f"{PROCESS_SANDBOX_VARIABLE}=off is for a rootless slipway in an unprivileged container; as root, "
            "a RUN would share the host's PID namespace and /proc: unset it"
        )
    return msgspec.structs.replace(runtime, process_sandbox=False)


def _chosen_runtime(override: str | None, root: Path | None) -> Runtime:
    if override:
        return _runtime_from(override)
    choice_file = root / RUNTIME_CHOICE_FILE if root else None
    cached = _read_choice(choice_file)
    if cached is not None:
        return cached
    found = {name: path for name in RUNTIME_NAMES if (path := shutil.which(name, path=SAFE_PATH))}
    if not found:
        raise RuntimeNotFound("no OCI runtime found: install runc (apt-get install runc) or crun")
    runtime = None
    if "crun" in found and _probe(Runtime("crun", Path(found["crun"])), root):
        runtime = Runtime("crun", Path(found["crun"]))
    elif "runc" in found:
        runtime = Runtime("runc", Path(found["runc"]))
    if runtime is None:
        raise RuntimeNotFound(
            f"crun ({found['crun']}) cannot start containers on this machine (hybrid cgroups?) and runc "
            "is not installed: install runc (apt-get install runc), or set SLIPWAY_RUNTIME"
        )
    if choice_file is not None:
        _write_choice(choice_file, runtime)
    return runtime


def _runtime_from(override: str) -> Runtime:
    if "/" in override:
        path = Path(override).absolute()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise RuntimeNotFound(f"SLIPWAY_RUNTIME={override}: no executable there")
        return Runtime(path.name, path)
    which = shutil.which(override, path=os.pathsep.join((os.environ.get("PATH", ""), SAFE_PATH)))
    if which is None:
        raise RuntimeNotFound(f"SLIPWAY_RUNTIME={override}: not found in PATH; install it or give a path")
    return Runtime(override, Path(which))


def _read_choice(choice_file: Path | None) -> Runtime | None:
    if choice_file is None:
        return None
    try:
        name, _, path = choice_file.read_text(encoding="utf-8").strip().partition(" ")
    except FileNotFoundError:
        return None
    if name and path and os.access(path, os.X_OK):
        return Runtime(name, Path(path))
    return None  # the runtime went away: probe again


def _write_choice(choice_file: Path, runtime: Runtime) -> None:
    choice_file.parent.mkdir(parents=True, exist_ok=True)
    temporary = choice_file.with_name(f".{choice_file.name}.{os.getpid()}")
    temporary.write_text(f"{runtime.name} {runtime.path}\n", encoding="utf-8")
    os.replace(temporary, choice_file)


def _probe(runtime: Runtime, root: Path | None) -> bool:
    """Whether `runtime` starts a trivial container here: the host's / read-only, running `true`."""
    true = shutil.which("true", path=SAFE_PATH)
    if true is None:
        return False
    work_dir = root / "tmp" if root else None
    if work_dir is not None:
        work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="probe-", dir=work_dir) as bundle_dir:
        bundle = Path(bundle_dir)
        container_id = f"slipway-probe-{os.urandom(4).hex()}"
        config = {
            "ociVersion": "1.0.2",
            "process": {
                "args": [true],
                "cwd": "/",
                "env": [f"PATH={SAFE_PATH}"],
                "user": {"uid": 0, "gid": 0},
            },
            "root": {"path": "/", "readonly": True},
            "hostname": "probe",
            "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
            "linux": {
                "namespaces": [{"type": kind} for kind in ("pid", "mount", "ipc", "uts")],
                "cgroupsPath": f"/slipway/{container_id}",
            },
        }
        (bundle / "config.json").write_text(json.dumps(config), encoding="utf-8")
        state = str(bundle / "state")
        argv = [str(runtime.path), "--root", state, "run", "--bundle", str(bundle), container_id]
        try:
            completed = subprocess.run(
                argv, env={"PATH": SAFE_PATH}, stdin=subprocess.DEVNULL, capture_output=True,
                timeout=CALL_TIMEOUT_SECONDS, check=False,
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as err:
            log.debug("probe of %s failed: %s", runtime.path, err)
            return False
        finally:
            subprocess.run(
                [str(runtime.path), "--root", state, "delete", "--force", container_id],
                env={"PATH": SAFE_PATH}, capture_output=True, check=False,
            )  # fmt: skip
        log.debug("probe of %s: exit %s %s", runtime.path, completed.returncode, completed.stderr[-500:])
        return completed.returncode == 0
