"""The executor with real runc on a real overlay: output, exit codes, identity, network, mounts, cleanup."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from slipway.errors import RunFailed
from slipway.worker.executor import BindMount, ContainerSpec, Executor, ProcessSpec, TmpfsMount
from slipway.worker.runtime import Runtime

pytestmark = pytest.mark.root


def run(
    executor: Executor, root: Path, *args: str, env: tuple[str, ...] = (), **options: Any
) -> tuple[int, str, str]:
    """Run args in a container on `root`: (exit code, stdout, stderr)."""
    process_options = {key: options.pop(key) for key in ("cwd", "user") if key in options}
    spec = ContainerSpec(ProcessSpec(args=args, env=env, **process_options), rootfs=root, **options)
    chunks: dict[int, list[bytes]] = {1: [], 2: []}
    code = executor.run(spec, on_output=lambda fd, chunk: chunks[fd].append(chunk))
    return code, b"".join(chunks[1]).decode(), b"".join(chunks[2]).decode()


def test_echo_is_streamed_to_on_output(executor: Executor, layer: Any) -> None:
    root, _upper = layer
    assert run(executor, root, "echo", "hi") == (0, "hi\n", "")
    assert run(executor, root, "sh", "-c", "echo out; echo err >&2") == (0, "out\n", "err\n")


@pytest.mark.parametrize("code", [0, 1, 3, 255])
def test_exit_codes(executor: Executor, layer: Any, code: int) -> None:
    root, _upper = layer
    assert run(executor, root, "sh", "-c", f"exit {code}")[0] == code


def test_env_cwd_and_defaults(executor: Executor, layer: Any) -> None:
    root, upper = layer
    code, out, _ = run(
        executor,
        root,
        "sh",
        "-c",
        "echo $GREETING; pwd; echo $PATH; echo $HOME",
        env=("GREETING=hello",),
        cwd="/made/here",
    )
    assert code == 0
    greeting, cwd, path, home = out.splitlines()
    assert (greeting, cwd, home) == ("hello", "/made/here", "/root")
    assert "/bin" in path.split(":")
    assert (upper / "made" / "here").is_dir(), "the missing working directory is created and kept"


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("", "0 0 0 10"),
        ("app", "1000 1000 1000 50"),
        ("1000", "1000 1000 1000 50"),
        ("1000:1000", "1000 1000 1000"),
        ("app:staff", "1000 50 50"),
        ("4242", "4242 0 0"),
    ],
)
def test_users_resolve_through_the_roots_passwd_and_group(
    executor: Executor, layer: Any, user: str, expected: str
) -> None:
    root, _upper = layer
    code, out, _ = run(executor, root, "sh", "-c", "echo $(id -u) $(id -g) $(id -G)", user=user)
    assert (code, out.strip()) == (0, expected)


def test_an_unknown_user_is_an_error_naming_it(executor: Executor, layer: Any) -> None:
    root, _upper = layer
    with pytest.raises(RunFailed, match="unable to find user nobody"):
        run(executor, root, "id", user="nobody")
    with pytest.raises(RunFailed, match="unable to find group nogroup"):
        run(executor, root, "id", user="app:nogroup")


def test_network_none_has_only_loopback_and_host_sees_the_hosts(executor: Executor, layer: Any) -> None:
    root, _upper = layer
    _, isolated, _ = run(executor, root, "cat", "/proc/net/dev", network="none")
    assert interfaces(isolated) == ["lo"]
    _, shared, _ = run(executor, root, "cat", "/proc/net/dev", network="host")
    assert interfaces(shared) == interfaces(Path("/proc/net/dev").read_text())
    _, up, _ = run(executor, root, "cat", "/sys/class/net/lo/operstate", network="none")
    assert up.strip() in ("unknown", "up")


def interfaces(proc_net_dev: str) -> list[str]:
    return sorted(line.split(":")[0].strip() for line in proc_net_dev.splitlines()[2:] if ":" in line)


def test_system_mounts_work(executor: Executor, layer: Any) -> None:
    root, _upper = layer
    script = textwrap.dedent(
        """\
        set -e
        test -r /proc/self/status
        echo discard > /dev/null
        test $(head -c 16 /dev/urandom | wc -c) = 16
        test $(head -c 4 /dev/zero | wc -c) = 4
        echo shm > /dev/shm/x && cat /dev/shm/x
        hostname
        """
    )
    assert run(executor, root, "sh", "-c", script, hostname="box") == (0, "shm\nbox\n", "")


def test_resolv_conf_hosts_and_mount_points_are_not_left_in_the_layer(
    executor: Executor, tmp_path: Path, layer: Any
) -> None:
    root, upper = layer
    data = tmp_path / "data"
    data.mkdir()
    (data / "in.txt").write_text("bound\n")
    code, out, _ = run(
        executor,
        root,
        "sh",
        "-c",
        "cat /etc/hosts /data/in.txt; test -f /etc/resolv.conf; ls -d /proc /sys /dev",
        hostname="box",
        mounts=(BindMount(data, "/data"),),
        tmpfs=(TmpfsMount("/scratch"),),
    )
    assert code == 0
    assert "localhost" in out and "box" in out and "bound" in out
    left = sorted(str(path.relative_to(upper)) for path in upper.rglob("*"))
    # /etc exists below, so the overlay copied it up (unchanged); nothing the runtime made is left.
    assert left == ["etc"], left
    assert os.stat(upper / "etc").st_mtime_ns == os.stat(root.parent / "upper" / "etc").st_mtime_ns


def test_a_root_without_etc_or_proc_gains_nothing(
    executor: Executor, tmp_path: Path, worker_rootfs: Path
) -> None:
    # FROM scratch + COPY busybox: only /bin; a RUN must not add /proc, /dev, /sys, /etc to the layer.
    from slipway.worker.snapshots import overlay_mount

    lower = tmp_path / "lower"
    (lower / "bin").mkdir(parents=True)
    os.link(worker_rootfs / "bin" / "busybox", lower / "bin" / "sh")
    upper, work = tmp_path / "upper", tmp_path / "work"
    upper.mkdir()
    work.mkdir()
    with overlay_mount([lower], tmp_path / "root", upper=upper, work=work, ledger=None) as root:
        spec = ContainerSpec(ProcessSpec(args=("/bin/sh", "-c", "echo made > /bin/new"), env=()), rootfs=root)
        assert executor.run(spec) == 0
    assert sorted(str(path.relative_to(upper)) for path in upper.rglob("*")) == ["bin", "bin/new"]


def test_insecure_gets_all_capabilities_and_sandbox_docker_s_set(executor: Executor, layer: Any) -> None:
    root, _upper = layer
    _, sandbox, _ = run(executor, root, "grep", "CapEff", "/proc/self/status")
    _, insecure, _ = run(executor, root, "grep", "CapEff", "/proc/self/status", insecure=True)
    assert int(sandbox.split()[1], 16) == 0xA80425FB  # Docker's default set
    host = int(
        next(
            line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("CapEff")
        ).split()[1],
        16,
    )
    assert int(insecure.split()[1], 16) == host


def test_a_missing_binary_raises_run_failed_with_the_runtime_s_reason(executor: Executor, layer: Any) -> None:
    root, _upper = layer
    with pytest.raises(RunFailed) as raised:
        run(executor, root, "/no/such/binary", "arg")
    error = raised.value
    assert error.argv == ("/no/such/binary", "arg")
    assert error.process_exit_code not in (None, 0)
    assert "/no/such/binary" in str(error) and "no such file" in str(error).lower()
    assert error.output_tail


def test_no_container_cgroup_or_bundle_is_left(
    executor: Executor, layer: Any, tmp_path: Path, runtime: Runtime
) -> None:
    root, _upper = layer
    code, out, _ = run(executor, root, "cat", "/proc/self/cgroup")
    assert code == 0
    pids_cgroup = next(line.split(":")[2] for line in out.splitlines() if line.split(":")[1] == "pids")
    assert pids_cgroup.startswith("/slipway/slipway-")
    assert not Path("/sys/fs/cgroup/pids", pids_cgroup.lstrip("/")).exists()
    listed = subprocess.run(
        [str(runtime.path), "--root", str(tmp_path / "runc-state"), "list", "-q"],
        capture_output=True,
        text=True,
    )
    assert listed.stdout.strip() == ""
    assert os.listdir(tmp_path / "bundles") == []


INTERRUPTED_BUILD = """\
import sys
from pathlib import Path
from slipway.worker.executor import ContainerSpec, Executor, ProcessSpec, find_runtime
from slipway.worker.snapshots import overlay_mount

lower, work_dir = Path(sys.argv[1]), Path(sys.argv[2])
(work_dir / "upper").mkdir()
(work_dir / "work").mkdir()
executor = Executor(find_runtime("runc"), work_dir / "bundles", state_root=work_dir / "state", ledger=None)

def show(fd, chunk):
    sys.stdout.buffer.write(chunk)
    sys.stdout.flush()

try:
    with overlay_mount([lower], work_dir / "root", upper=work_dir / "upper", work=work_dir / "work", ledger=None) as root:
        spec = ContainerSpec(ProcessSpec(args=("sh", "-c", "echo started; exec sleep 31.5"), env=()), rootfs=root)
        executor.run(spec, on_output=show)
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(130)
"""


@pytest.mark.parametrize("whole_group", [False, True])
def test_ctrl_c_kills_and_deletes_the_container_and_unmounts(
    tmp_path: Path, worker_rootfs: Path, runtime: Runtime, mounts_under: Any, whole_group: bool
) -> None:
    script = tmp_path / "build.py"
    script.write_text(INTERRUPTED_BUILD)
    work = tmp_path / "work"
    work.mkdir()
    build = subprocess.Popen(
        [sys.executable, str(script), str(worker_rootfs), str(work)],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert build.stdout is not None
        assert build.stdout.readline() == b"started\n"
        assert wait_for(sleepers), "the container's sleep is not running"
        if whole_group:
            os.killpg(build.pid, signal.SIGINT)  # what Ctrl-C at a terminal does
        else:
            build.send_signal(signal.SIGINT)
        assert build.wait(timeout=30) == 130
        assert build.stdout.read() == b"interrupted\n"
    finally:
        if build.poll() is None:  # a failed assertion: still let it clean up before the last resort
            build.send_signal(signal.SIGINT)
            try:
                build.wait(timeout=30)
            except subprocess.TimeoutExpired:
                build.kill()
                build.wait()
    listed = subprocess.run(
        [str(runtime.path), "--root", str(work / "state"), "list", "-q"], capture_output=True, text=True
    )
    assert listed.stdout.strip() == ""
    assert wait_for(lambda: not sleepers())
    assert mounts_under(tmp_path) == []


def wait_for(check: Any, limit: float = 10) -> Any:
    deadline = time.monotonic() + limit
    while not (value := check()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return value


def sleepers() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes().split(b"\0")[:2] == [b"sleep", b"31.5"]:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


TTY_RUN = """\
import sys
from pathlib import Path
from slipway.worker.executor import ContainerSpec, Executor, ProcessSpec, find_runtime
from slipway.worker.snapshots import overlay_mount

lower, work_dir, tty = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "tty"
(work_dir / "upper").mkdir()
(work_dir / "work").mkdir()
executor = Executor(find_runtime("runc"), work_dir / "bundles", ledger=None)
with overlay_mount([lower], work_dir / "root", upper=work_dir / "upper", work=work_dir / "work", ledger=None) as root:
    spec = ContainerSpec(ProcessSpec(args=("sh", "-c", "tty; exit 7"), env=(), tty=tty), rootfs=root)
    sys.exit(executor.run(spec, stdio="inherit"))
"""


@pytest.mark.parametrize("tty", [True, False])
def test_inherit_under_a_terminal_gives_a_tty_on_request(
    tmp_path: Path, worker_rootfs: Path, tty: bool
) -> None:
    import pty

    script = tmp_path / "tty.py"
    script.write_text(TTY_RUN)
    work = tmp_path / "work"
    work.mkdir()
    pid, terminal = pty.fork()
    if pid == 0:  # the child: python on the pty, as a user at a terminal
        os.execv(
            sys.executable,
            [sys.executable, str(script), str(worker_rootfs), str(work), "tty" if tty else "plain"],
        )
    output = b""
    while True:
        try:
            chunk = os.read(terminal, 4096)
        except OSError:  # EIO: the terminal's other end closed
            break
        if not chunk:
            break
        output += chunk
    _, status = os.waitpid(pid, 0)
    os.close(terminal)
    assert os.waitstatus_to_exitcode(status) == 7
    lines = output.decode(errors="replace").replace("\r", "").splitlines()
    if tty:
        assert "/dev/pts/0" in lines, output
    else:
        assert "not a tty" in lines or any(
            line.startswith("/dev/pts/") and line != "/dev/pts/0" for line in lines
        ), output


def test_kill_all_stops_a_run_in_another_thread(
    executor: Executor, layer: Any, tmp_path: Path, runtime: Runtime
) -> None:
    import threading

    from slipway.errors import BuildCancelled

    root, _upper = layer
    started = threading.Event()
    outcome: list[BaseException | int] = []

    def on_output(_fd: int, chunk: bytes) -> None:
        if b"started" in chunk:
            started.set()

    def step() -> None:
        spec = ContainerSpec(
            ProcessSpec(args=("sh", "-c", "echo started; exec sleep 32.5"), env=()), rootfs=root
        )
        try:
            outcome.append(executor.run(spec, on_output=on_output))
        except BaseException as err:  # the outcome is what the test checks
            outcome.append(err)

    worker = threading.Thread(target=step)
    worker.start()
    try:
        assert started.wait(timeout=30)
        executor.kill_all()
        worker.join(timeout=30)
        assert not worker.is_alive(), "the run did not stop"
    finally:
        executor.kill_all()
        worker.join()
    assert len(outcome) == 1 and isinstance(outcome[0], BuildCancelled)
    listed = subprocess.run(
        [str(runtime.path), "--root", str(tmp_path / "runc-state"), "list", "-q"],
        capture_output=True,
        text=True,
    )
    assert listed.stdout.strip() == ""
    with pytest.raises(BuildCancelled):
        executor.run(ContainerSpec(ProcessSpec(args=("true",), env=()), rootfs=root))
