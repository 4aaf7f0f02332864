"""A private network for one container: a network namespace of its own, with outbound access through slirp4netns.

What a rootless `--network default` RUN gets (as rootlesskit's slirp4netns driver gives BuildKit): a user
namespace may not make veth pairs into the host's network, so a user-mode TCP/IP stack (slirp4netns, a Debian
package) outside the namespace forwards the container's connections as ordinary sockets of the user. Inside:
`tap0` at 10.0.2.100, the gateway 10.0.2.2, the DNS forwarder 10.0.2.3. The host's loopback is not reachable
from it (--disable-host-loopback): a RUN must not talk to services that listen only on the host's 127.0.0.1.

The namespace is held by a `sleep` started with `unshare --net`; runc joins it by path. Both helpers are ended,
by PID, when the container is done.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from slipway.errors import RunFailed

__all__ = ["DNS_SERVER", "TUN_DEVICE", "private_network", "private_network_available"]

DNS_SERVER = "10.0.2.3"
HELPER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
READY_SECONDS = 10.0
TUN_DEVICE = "/dev/net/tun"  # slirp4netns makes the namespace's tap0 through it
MTU = "65520"  # slirp4netns' recommended MTU: fewer, larger packets through the user-mode stack


def private_network_available() -> bool:
    """Whether this process can give a container a private network: slirp4netns is installed and the user may
    open /dev/net/tun (Debian's udev makes it 0666; some machines keep it 0600, root's alone)."""
    return shutil.which("slirp4netns", path=HELPER_PATH) is not None and os.access(
        TUN_DEVICE, os.R_OK | os.W_OK
    )


@contextmanager
def private_network() -> Iterator[Path]:
    """A fresh network namespace connected by slirp4netns, for as long as the block runs: its path, for runc."""
    slirp = _tool("slirp4netns", "apt-get install slirp4netns")
    unshare = _tool("unshare", "apt-get install util-linux")
    sleep = _tool("sleep", "apt-get install coreutils")
    with ExitStack() as cleanup:
        holder = subprocess.Popen(
            [unshare, "--net", "--", sleep, "infinity"], env={"PATH": HELPER_PATH}, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, process_group=0,
        )  # fmt: skip
        cleanup.callback(_end, holder)
        namespace = Path(f"/proc/{holder.pid}/ns/net")
        _wait_for_namespace(holder, namespace)
        ready_read, ready_write = os.pipe()
        try:
            argv = [
                slirp,
                "--configure",
                f"--mtu={MTU}",
                "--disable-host-loopback",
                f"--ready-fd={ready_write}",
            ]
            stack = subprocess.Popen(
                [*argv, str(holder.pid), "tap0"], env={"PATH": HELPER_PATH}, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, pass_fds=(ready_write,), process_group=0,
            )  # fmt: skip
            cleanup.callback(_end, stack)
            os.close(ready_write)
            ready_write = -1
            _wait_ready(stack, ready_read)
        finally:
            os.close(ready_read)
            if ready_write >= 0:
                os.close(ready_write)
        yield namespace


def _tool(name: str, install: str) -> str:
    found = shutil.which(name, path=HELPER_PATH)
    if found is None:
        raise RunFailed(f"--network default without root needs {name}, which is not installed ({install})")
    return found


def _wait_for_namespace(holder: subprocess.Popen[bytes], namespace: Path) -> None:
    own = os.readlink("/proc/self/ns/net")
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if holder.poll() is not None:
            raise RunFailed(f"cannot make a network namespace for the container: {_stderr(holder)}")
        try:
            if os.readlink(namespace) != own:
                return
        except FileNotFoundError:
            pass
        time.sleep(0.002)
    raise RunFailed("cannot make a network namespace for the container: unshare did not start")


def _wait_ready(stack: subprocess.Popen[bytes], ready_read: int) -> None:
    # slirp4netns writes "1" to the ready fd once tap0 is configured; EOF (or nothing in time) means it failed.
    readable, _, _ = select.select([ready_read], [], [], READY_SECONDS)
    if not readable or os.read(ready_read, 1) != b"1":
        if stack.poll() is None:
            stack.kill()
        stack.wait(timeout=READY_SECONDS)
        raise RunFailed(f"slirp4netns could not connect the container's network: {_stderr(stack)}")


def _stderr(process: subprocess.Popen[bytes]) -> str:
    if process.poll() is None or process.stderr is None:
        return "no reason given"
    lines = process.stderr.read(4096).decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else f"exit status {process.returncode}"


def _end(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
    process.wait()
    if process.stderr is not None:
        process.stderr.close()
