"""Runs one container to completion with an OCI runtime (runc, or crun where it works).

The only module that calls the runtime. Each run gets a fresh bundle dir (config.json, resolv.conf,
hosts, hostname, the runtime's log) under the work dir; `<runtime> run` runs in the foreground, so the
container's stdio is the runtime's stdio, and the runtime deletes the container when it exits. Every exit
path (normal, error, Ctrl-C) kills and deletes the container, removes the mount points the runtime had to
create in the root file system, and removes the bundle.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import select
import selectors
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from functools import partial
from pathlib import Path
from typing import Any, Literal, Protocol

import msgspec

from slipway.choices import PROCESS_SANDBOX_VARIABLE, ContainerNetwork, is_rootless
from slipway.errors import BuildCancelled, RunFailed
from slipway.graph.run_limits import RunLimits
from slipway.worker._stubs import MountStubs
from slipway.worker.network import DNS_SERVER, private_network
from slipway.worker.ocispec import (
    DEFAULT_PATH,
    HostLimits,
    ProcessPlan,
    Spec,
    SpecFiles,
    container_spec,
    host_limits,
)
from slipway.worker.rootpath import Root
from slipway.worker.runtime import (
    CALL_TIMEOUT_SECONDS,
    ROOTLESS_ARGS,
    RUNTIME_CHOICE_FILE,
    SAFE_PATH,
    Runtime,
    find_runtime,
)
from slipway.worker.users import ExecUser, resolve_user

__all__ = [
    "BindMount",
    "TmpfsMount",
    "ContainerLedger",
    "ProcessSpec",
    "ContainerSpec",
    "Runtime",
    "Executor",
    "delete_container",
    "find_runtime",  # worker/runtime.py's, for callers of old
    "RUNTIME_CHOICE_FILE",
]

log = logging.getLogger(__name__)

OUTPUT_TAIL_LINES = 20
STOP_ATTEMPTS = 10
STOP_WAIT_SECONDS = 1.0
POLL_SECONDS = 0.25  # how soon a kill_all() from another thread is acted on
STOP_TIMEOUT_SECONDS = 10  # as `docker stop`: how long a container may take to end after a stop signal
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
TERMINAL_SIGNALS = (signal.SIGINT, signal.SIGQUIT, signal.SIGHUP)
FORWARDED_SIGNALS = (*TERMINAL_SIGNALS, signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2)
# A rootless slipway inside an unprivileged container: the kernel refuses a fresh /proc where the container's own
# has paths masked over it (the default of docker and Kubernetes).
PROC_REFUSED_HINT = (
    "; the kernel refuses a fresh /proc here, as the container slipway runs in masks parts of its own: run that "
    "container with --security-opt systempaths=unconfined (Kubernetes: procMount: Unmasked), or set "
    f"{PROCESS_SANDBOX_VARIABLE}=off to run steps in slipway's own PID namespace and /proc (they can then see "
    "and signal slipway's processes)"
)
INIT_PID_FILE = "init.pid"  # in the bundle: the container's first process, as the runtime reports it
HOSTS_TEMPLATE = "127.0.0.1\tlocalhost {hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n"


class BindMount(msgspec.Struct, frozen=True):
    source: Path
    target: str  # absolute path in the container
    readonly: bool = True
    options: tuple[str, ...] = ()  # more mount options: "nosuid", "nodev", "noexec"


class TmpfsMount(msgspec.Struct, frozen=True):
    target: str  # absolute path in the container
    size: int | None = None  # bytes (RUN --mount=type=tmpfs,size=); None: the kernel's default, half the RAM


class ProcessSpec(msgspec.Struct, frozen=True):
    args: tuple[str, ...]
    env: tuple[str, ...]  # "K=V"
    cwd: str = "/"
    user: str = ""  # "", "name", "uid", "uid:gid", "name:group": resolved in the rootfs
    tty: bool = False


class ContainerSpec(msgspec.Struct, frozen=True):
    process: ProcessSpec
    rootfs: Path  # a mounted root file system (the overlay target)
    network: ContainerNetwork = "host"
    hostname: str = "slipway"
    mounts: tuple[BindMount, ...] = ()
    tmpfs: tuple[TmpfsMount, ...] = ()  # extra tmpfs mounts
    insecure: bool = False  # RUN --security=insecure: all capabilities, no masked paths
    bundle_dir: Path | None = None  # where the bundle is made (a private tmpfs: the env holds a secret)
    limits: RunLimits = RunLimits()  # build --add-host, --shm-size, --ulimit


OutputSink = Callable[[int, bytes], None]


class ContainerLedger(Protocol):
    """Where containers are recorded: `container(...)` records one before the block starts it and forgets it
    after the block, which deletes it; a killed slipway's containers are found there. The store's `leases`."""

    def container(
        self, container_id: str, *, runtime: Path, state_root: Path
    ) -> AbstractContextManager[object]: ...


class Executor:
    """Runs containers with `runtime`; bundles (and, unless `state_root` is given, the runtime's state)
    live in fresh dirs under `work_dir`. `ledger` records each container while it may exist (None: not
    recorded, for tests of the executor itself)."""

    def __init__(
        self,
        runtime: Runtime,
        work_dir: Path,
        *,
        state_root: Path | None = None,
        ledger: ContainerLedger | None,
    ) -> None:
        self.runtime = runtime
        self.work_dir = work_dir
        self.state_root = state_root
        self.ledger = ledger
        self._cancelled = threading.Event()

    def kill_all(self) -> None:
        """Cancel: every container this executor runs is killed (within a poll tick, from the thread
        running it, which then cleans up and raises BuildCancelled); later runs raise at once.
        Safe from any thread; the way to stop runs in worker threads, which Ctrl-C does not reach."""
        self._cancelled.set()

    def run(
        self,
        spec: ContainerSpec,
        *,
        on_output: OutputSink | None = None,
        stdio: Literal["capture", "inherit"] = "capture",
        stdin: Literal["inherit", "null"] = "inherit",
        stop_timeout: float = STOP_TIMEOUT_SECONDS,
    ) -> int:
        """Run `spec` to completion; its exit code (128+N when killed by signal N).

        "capture": stdin is /dev/null, output goes to on_output(fd, chunk) as it comes. "inherit": the
        container uses this process's stdio (a TTY when spec.process.tty) and gets its signals; with
        stdin="null" its stdin is /dev/null (`slipway run` without -i). There, as `docker stop` does, a
        container still running `stop_timeout` seconds after a SIGINT, SIGTERM or SIGHUP is killed.
        Raises RunFailed when the container cannot start.
        """
        self._raise_if_cancelled()
        self.work_dir.mkdir(parents=True, exist_ok=True)
        container_id = f"slipway-{os.urandom(8).hex()}"  # not `secrets`: 2 ms of imports
        with ExitStack() as cleanup:
            bundle = Path(tempfile.mkdtemp(prefix="run-", dir=spec.bundle_dir or self.work_dir))
            cleanup.callback(shutil.rmtree, bundle, ignore_errors=True)
            root = cleanup.enter_context(Root(spec.rootfs))
            network = cleanup.enter_context(private_network()) if spec.network == "private" else None
            config = self._write_bundle(spec, root, bundle, container_id, network)
            stubs = MountStubs(root)
            cleanup.callback(stubs.remove)
            for mount in config.mounts:
                # A file bind-mounted needs a file to mount on, anything else a directory.
                stubs.make(mount.destination, is_dir=mount.type != "bind" or os.path.isdir(mount.source))
            state_root = self.state_root or bundle / "state"
            if self.ledger is not None:
                cleanup.enter_context(
                    self.ledger.container(container_id, runtime=self.runtime.path, state_root=state_root)
                )
            pid_file = str(bundle / INIT_PID_FILE)
            argv = self._argv(
                state_root, bundle, "run", "--bundle", str(bundle), "--pid-file", pid_file, container_id
            )
            stopping = _StopDeadline(stop_timeout)
            # Captured output: the runtime is in its own process group and we kill it on Ctrl-C. Inherited
            # stdio: it gets our signals, as `docker run` proxies them.
            forwarder = _SignalForwarder(on_stop_signal=stopping.start) if stdio == "inherit" else None
            if forwarder is not None:
                cleanup.enter_context(forwarder)
            log.debug("run %s: %s", container_id, spec.process.args)
            process = _start(argv, bundle, stdio, stdin)
            cleanup.callback(self._stop, state_root, container_id, process)
            on_tick = partial(self._on_tick, state_root, container_id, stopping, bundle, process.pid)
            if forwarder is None:
                code = _pump(process, on_output, on_tick)
            else:
                forwarder.attach(process)
                code = _wait(process, on_tick)
            log.debug("run %s: exited %d", container_id, code)
            self._raise_if_cancelled()
            self._raise_if_not_started(spec, bundle, code)
            return _exit_status(code)
        raise AssertionError("unreachable")  # ExitStack may swallow exceptions as far as mypy knows

    def _write_bundle(
        self, spec: ContainerSpec, root: Root, bundle: Path, container_id: str, network: Path | None
    ) -> Spec:
        user = resolve_user(root, spec.process.user)
        cwd = _prepare_cwd(root, spec.process.cwd, user)
        files = _write_files(
            bundle,
            spec.hostname,
            dns_server=DNS_SERVER if network is not None else None,
            extra_hosts=spec.limits.extra_hosts,
        )
        plan = ProcessPlan(
            args=spec.process.args,
            env=_process_env(spec.process, user),
            cwd=cwd,
            uid=user.uid,
            gid=user.gid,
            additional_gids=user.additional_gids,
            terminal=spec.process.tty,
        )
        config = container_spec(
            plan,
            rootfs=spec.rootfs,
            hostname=spec.hostname,
            network=spec.network,
            binds=tuple((mount.source, mount.target, mount.readonly, mount.options) for mount in spec.mounts),
            tmpfs=tuple((mount.target, mount.size) for mount in spec.tmpfs),
            insecure=spec.insecure,
            files=files,
            cgroups_path=None if self.runtime.rootless else f"/slipway/{container_id}",
            host=_host_limits(self.runtime.rootless),
            rootless=self.runtime.rootless,
            network_path=network,
            shm_size=spec.limits.shm_size,
            ulimits=tuple((limit.type, limit.soft, limit.hard) for limit in spec.limits.ulimits),
            process_sandbox=self.runtime.process_sandbox,
        )
        (bundle / "config.json").write_bytes(msgspec.json.encode(config))
        return config

    def _raise_if_cancelled(self) -> None:
        if self._cancelled.is_set():
            raise BuildCancelled("cancelled: the container was killed")

    def _on_tick(
        self, state_root: Path, container_id: str, stopping: _StopDeadline, bundle: Path, runtime_pid: int
    ) -> None:
        # Called every poll tick while the container runs; the kill is repeated, as the runtime may still be
        # creating the container the first time.
        if not self.runtime.process_sandbox:
            from slipway.worker._stragglers import kill_stragglers  # without the runtime's own sandbox only

            kill_stragglers(runtime_pid, bundle / INIT_PID_FILE)
        if (self._cancelled.is_set() or stopping.is_past()) and self._call(
            state_root, "kill", container_id, "KILL"
        ):
            raise KeyboardInterrupt

    def _argv(self, state_root: Path, bundle: Path, *args: str) -> list[str]:
        log_file = bundle / "runtime.log"
        return [
            str(self.runtime.path),
            *self.runtime.global_args(),
            "--root",
            str(state_root),
            "--log",
            str(log_file),
            "--log-format",
            "json",
            *args,
        ]

    def _stop(self, state_root: Path, container_id: str, process: subprocess.Popen[bytes]) -> None:
        """Kill (if still running) and delete the container; keeps going through a second Ctrl-C."""
        interrupted = False
        for _ in range(STOP_ATTEMPTS):
            if process.poll() is not None:
                break
            # The runtime may still be creating the container: then kill fails and the next try hits.
            interrupted |= self._call(state_root, "kill", container_id, "KILL")
            try:
                process.wait(timeout=STOP_WAIT_SECONDS)
            except subprocess.TimeoutExpired:
                continue
            except KeyboardInterrupt:
                interrupted = True
        if process.poll() is None:
            process.kill()
            interrupted |= _wait_through_interrupts(process)
        if (state_root / container_id).exists():  # `run` deletes a container that exited by itself
            interrupted |= self._call(state_root, "delete", "--force", container_id)
        _close_pipes(process)
        if interrupted:
            raise KeyboardInterrupt

    def _call(self, state_root: Path, *args: str) -> bool:
        """Run one runtime command to completion (errors only logged); True if Ctrl-C came meanwhile."""
        argv = [str(self.runtime.path), *self.runtime.global_args(), "--root", str(state_root), *args]
        process = subprocess.Popen(
            argv, env={"PATH": SAFE_PATH}, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, process_group=0,
        )  # fmt: skip
        interrupted = _wait_through_interrupts(process)
        stderr = process.stderr.read() if process.stderr else b""
        _close_pipes(process)
        if process.returncode != 0:
            log.debug("%s: exit %s: %s", argv, process.returncode, stderr.decode(errors="replace").strip())
        return interrupted

    def _raise_if_not_started(self, spec: ContainerSpec, bundle: Path, code: int) -> None:
        errors = _runtime_errors(bundle / "runtime.log")
        if not errors or code == 0:
            return
        args = " ".join(spec.process.args)
        hint = PROC_REFUSED_HINT if self.runtime.rootless and _is_proc_refused(errors[-1]) else ""
        raise RunFailed(
            f"cannot start {args!r} in a container: {errors[-1]} ({self.runtime.name} exited {code}){hint}",
            argv=spec.process.args,
            exit_code=code,
            output_tail=tuple(errors[-OUTPUT_TAIL_LINES:]),
        )


def _is_proc_refused(error: str) -> bool:
    return '"/proc"' in error and "operation not permitted" in error.lower()


def _start(
    argv: list[str], bundle: Path, stdio: Literal["capture", "inherit"], stdin: Literal["inherit", "null"]
) -> subprocess.Popen[bytes]:
    if stdio == "capture":
        # Its own process group: a Ctrl-C at the terminal reaches only us, and we kill the container.
        return subprocess.Popen(
            argv, cwd=bundle, env={"PATH": SAFE_PATH}, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, process_group=0,
        )  # fmt: skip
    # The terminal's foreground group: a TTY container reads the terminal; runc forwards our signals.
    return subprocess.Popen(
        argv, cwd=bundle, env={"PATH": SAFE_PATH}, stdin=subprocess.DEVNULL if stdin == "null" else None
    )


def _pump(process: subprocess.Popen[bytes], on_output: OutputSink | None, on_tick: Callable[[], None]) -> int:
    with selectors.DefaultSelector() as selector:
        for fd_number, stream in ((1, process.stdout), (2, process.stderr)):
            if stream is not None:
                selector.register(stream, selectors.EVENT_READ, fd_number)
        while selector.get_map():
            for key, _ in selector.select(timeout=POLL_SECONDS):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    selector.unregister(key.fileobj)
                elif on_output is not None:
                    on_output(key.data, chunk)
            on_tick()
    return _wait(process, on_tick)


def _wait(process: subprocess.Popen[bytes], on_tick: Callable[[], None]) -> int:
    while (code := _exited(process, POLL_SECONDS)) is None:
        on_tick()
    return code


def _exited(process: subprocess.Popen[bytes], timeout: float) -> int | None:
    """The exit code once the process ends within `timeout`, else None. Woken by the exit itself (a pidfd):
    Popen.wait(timeout) polls with sleeps of up to 50 ms, which every RUN would pay once or twice."""
    if process.returncode is not None:
        return process.returncode
    try:
        pidfd = os.pidfd_open(process.pid)
    except OSError:  # no pidfds (old kernel), or already reaped
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
    try:
        ready, _, _ = select.select([pidfd], [], [], timeout)
    finally:
        os.close(pidfd)
    return process.wait() if ready else None


def delete_container(runtime: Path, state_root: Path, container_id: str) -> None:
    """Kill and delete a container another (killed) slipway started; a no-op if it is gone."""
    if not state_root.is_dir():
        return  # the runtime never got to make it, or deleted it when it ended
    rootless = ROOTLESS_ARGS if is_rootless() else ()
    argv = [str(runtime), *rootless, "--root", str(state_root), "delete", "--force", container_id]
    try:
        completed = subprocess.run(
            argv, env={"PATH": SAFE_PATH}, stdin=subprocess.DEVNULL, capture_output=True,
            timeout=CALL_TIMEOUT_SECONDS, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired as err:
        raise OSError(f"{' '.join(argv)} did not finish within {CALL_TIMEOUT_SECONDS} s") from err
    if completed.returncode != 0 and (state_root / container_id).exists():
        stderr = completed.stderr.decode(errors="replace").strip()[-500:]
        raise OSError(f"{' '.join(argv)} exited {completed.returncode}: {stderr}")


class _StopDeadline:
    """When a container asked to stop (by a signal we passed on) is killed, as `docker stop` does."""

    def __init__(self, timeout: float) -> None:
        self._timeout = timeout
        self._deadline: float | None = None

    def start(self) -> None:
        if self._deadline is None:  # the first stop signal counts; more do not put the kill off
            self._deadline = time.monotonic() + self._timeout

    def is_past(self) -> bool:
        return self._deadline is not None and time.monotonic() >= self._deadline


class _SignalForwarder:
    """While entered (in the main thread): our signals go on to the runtime, which proxies them to the
    container; a stop signal (INT, TERM, HUP) also calls `on_stop_signal`. Entered before the runtime starts,
    so no signal finds the default handlers in between: what comes before `attach` is passed on then."""

    def __init__(self, *, on_stop_signal: Callable[[], None]) -> None:
        self._on_stop_signal = on_stop_signal
        self._process: subprocess.Popen[bytes] | None = None
        self._pending: list[int] = []
        self._previous: dict[int, Any] = {}
        # The terminal sends INT/QUIT/HUP to its whole foreground group, the runtime included: forwarding
        # those again would deliver them twice. They reach us alone only when we are not in that group.
        self._in_foreground = False

    def __enter__(self) -> _SignalForwarder:
        if threading.current_thread() is threading.main_thread():
            self._in_foreground = _in_terminal_foreground()
            self._previous = {signum: signal.signal(signum, self._handle) for signum in FORWARDED_SIGNALS}
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def attach(self, process: subprocess.Popen[bytes]) -> None:
        self._process = process
        pending, self._pending = self._pending, []
        for signum in pending:  # sent before the runtime ran: the terminal's group did not include it
            self._send(signum)

    def _handle(self, signum: int, _frame: object) -> None:
        if signum in STOP_SIGNALS:
            self._on_stop_signal()
        if self._process is None:
            self._pending.append(signum)
        elif not (self._in_foreground and signum in TERMINAL_SIGNALS):
            self._send(signum)

    def _send(self, signum: int) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signum)


def _in_terminal_foreground() -> bool:
    """Whether our process group is the foreground group of the terminal on our stdio, if any."""
    for fd in (0, 1, 2):
        try:
            if os.isatty(fd):
                return os.tcgetpgrp(fd) == os.getpgrp()
        except OSError:
            continue
    return False


def _wait_through_interrupts(process: subprocess.Popen[bytes]) -> bool:
    interrupted = False
    while True:
        try:
            if _exited(process, CALL_TIMEOUT_SECONDS) is not None:
                return interrupted
            process.kill()
        except KeyboardInterrupt:
            interrupted = True


def _close_pipes(process: subprocess.Popen[bytes]) -> None:
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()


def _exit_status(code: int) -> int:
    return 128 - code if code < 0 else code


def _runtime_errors(log_file: Path) -> list[str]:
    try:
        lines = log_file.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return []
    errors = []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("level") in ("error", "fatal"):
            errors.append(str(entry.get("msg", "")))
    return errors


def _process_env(process: ProcessSpec, user: ExecUser) -> tuple[str, ...]:
    # As Docker: a default PATH, HOME from passwd, TERM for a TTY, when the image does not set them.
    names = {item.partition("=")[0] for item in process.env}
    extra = []
    if "PATH" not in names:
        extra.append(f"PATH={DEFAULT_PATH}")
    if "HOME" not in names:
        extra.append(f"HOME={user.home}")
    if process.tty and "TERM" not in names:
        extra.append("TERM=xterm")
    return (*extra, *process.env)


def _prepare_cwd(root: Root, cwd: str, user: ExecUser) -> str:
    """Make the working directory if missing, owned by the user (as BuildKit does); it stays."""
    cwd = "/" + cwd.strip("/") if cwd else "/"
    _refuse_runtime_cwd(cwd, cwd)
    try:
        fd, _, parts = root.walk(cwd, follow_last=True, make=(0o755, (user.uid, user.gid), None))
    except OSError as err:
        raise RunFailed(f"cannot make the working directory {cwd}: {err.strerror or err}") from err
    os.close(fd)
    _refuse_runtime_cwd(cwd, "/" + "/".join(parts))
    return cwd


# Where the runtime, not the image, decides what an entry is: below /proc (CVE-2024-21626 leaked the runtime's
# host fds through a working directory such as /proc/self/fd/7) and /dev's links into it.
_RUNTIME_LINKS = ("/dev/fd", "/dev/stdin", "/dev/stdout", "/dev/stderr")


def _refuse_runtime_cwd(cwd: str, resolved: str) -> None:
    inside = resolved.startswith("/proc/") or any(
        resolved == link or resolved.startswith(link + "/") for link in _RUNTIME_LINKS
    )
    if inside:
        shown = cwd if cwd == resolved else f"{cwd} (it resolves to {resolved})"
        raise RunFailed(
            f"working directory {shown}: refused, a directory below /proc or a /dev link into it can reach "
            "the runtime's own file descriptors on the host (runc CVE-2024-21626)"
        )


def _host_limits(rootless: bool) -> HostLimits:
    status = Path("/proc/self/status").read_text(encoding="utf-8")
    try:
        nr_open = int(Path("/proc/sys/fs/nr_open").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        nr_open = 1048576
    return host_limits(status, resource.getrlimit(resource.RLIMIT_NOFILE)[1], nr_open, rootless=rootless)


def _write_files(
    bundle: Path, hostname: str, *, dns_server: str | None, extra_hosts: tuple[tuple[str, str], ...] = ()
) -> SpecFiles:
    """The bundle's resolv.conf (the host's, or `dns_server` alone: a private network reaches no host address),
    hosts (with --add-host's lines) and hostname."""
    resolv_conf = bundle / "resolv.conf"
    try:
        if dns_server is not None:
            resolv_conf.write_text(f"nameserver {dns_server}\n", encoding="utf-8")
        else:
            shutil.copyfile("/etc/resolv.conf", resolv_conf)
    except FileNotFoundError:
        resolv_conf.write_bytes(b"")
    hosts = bundle / "hosts"
    extra = "".join(f"{address}\t{host}\n" for host, address in extra_hosts)  # as docker's --add-host
    hosts.write_text(HOSTS_TEMPLATE.format(hostname=hostname) + extra, encoding="utf-8")
    hostname_file = bundle / "hostname"
    hostname_file.write_text(hostname + "\n", encoding="utf-8")
    for path in (resolv_conf, hosts, hostname_file):
        path.chmod(0o644)
    return SpecFiles(resolv_conf=resolv_conf, hosts=hosts, hostname=hostname_file)
