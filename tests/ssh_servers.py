"""SSH for tests, on the host's loopback: a real ssh-agent holding a new key, and an sshd of the test's own
(its own host key, config and port on 127.0.0.1) that serves git repositories to that key. Each is a process
the test started, stopped by its PID."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from loopback_server import free_port, wait_until_listening

__all__ = ["SSH_ADD", "SSH_AGENT", "SSHD", "Agent", "new_key", "running_agent", "serving_sshd"]

SSH_ADD = Path(shutil.which("ssh-add") or "/usr/bin/ssh-add")
SSH_AGENT = Path(shutil.which("ssh-agent") or "/usr/bin/ssh-agent")
SSHD = Path("/usr/sbin/sshd")  # openssh-server (scripts/setup installs it)
# sshd's privilege separation directory (compiled in); the package's service unit makes it at boot.
PRIVSEP_DIR = Path("/run/sshd")


@dataclass(frozen=True)
class Agent:
    socket: Path
    process: subprocess.Popen[bytes]
    key: Path
    fingerprint: str  # SHA256:...

    def listed(self) -> str:
        env = {"SSH_AUTH_SOCK": str(self.socket), "PATH": os.environ["PATH"]}
        return subprocess.run(
            [str(SSH_ADD), "-l"], env=env, capture_output=True, text=True, check=False
        ).stdout


def new_key(directory: Path, name: str = "key") -> tuple[Path, str]:
    key = directory / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True)
    shown = subprocess.run(["ssh-keygen", "-l", "-f", str(key)], capture_output=True, text=True, check=True)
    return key, shown.stdout.split()[1]


@contextmanager
def running_agent(directory: Path) -> Iterator[Agent]:
    """A running ssh-agent holding one new ed25519 key, stopped by its PID at the end."""
    path = directory / "agent.sock"
    process = subprocess.Popen([str(SSH_AGENT), "-D", "-a", str(path)], stdout=subprocess.DEVNULL)
    try:
        _wait_for(path.exists, process, "ssh-agent did not create its socket")
        key, fingerprint = new_key(directory)
        env = {"SSH_AUTH_SOCK": str(path), "PATH": os.environ["PATH"]}
        subprocess.run([str(SSH_ADD), "-q", str(key)], env=env, check=True, capture_output=True)
        yield Agent(path, process, key, fingerprint)
    finally:
        process.terminate()
        process.wait()


@contextmanager
def serving_sshd(directory: Path, authorized_key: Path) -> Iterator[int]:
    """An sshd on 127.0.0.1 that lets the holder of `authorized_key` (its public half `authorized_key`.pub) in
    as the current user, who reaches the repositories by their paths; yields its port."""
    if not SSHD.is_file():
        raise AssertionError("sshd is missing: install openssh-server (scripts/setup does)")
    PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
    host_key, _ = new_key(directory, "host_key")
    authorized = directory / "authorized_keys"
    authorized.write_text(Path(f"{authorized_key}.pub").read_text())
    port = free_port()
    config = directory / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\nPidFile {directory / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {authorized}\nStrictModes no\nUsePAM no\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nLogLevel ERROR\n"
    )
    process = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(config)], stderr=subprocess.DEVNULL)
    try:
        wait_until_listening(port, process, "sshd")
        yield port
    finally:
        process.terminate()
        process.wait()


def _wait_for(ready: Callable[[], bool], process: subprocess.Popen[bytes], failure: str) -> None:
    for _ in range(1000):
        if ready():
            return
        assert process.poll() is None, f"{failure}: it exited with {process.returncode}"
        time.sleep(0.01)
    raise AssertionError(failure)
