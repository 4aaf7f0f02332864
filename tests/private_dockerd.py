"""A private dockerd for the tests: its own data root, exec root, unix socket and pid file, no bridge and no
iptables rules, started as a child and stopped by its PID. Importable by name (`import private_dockerd`):
tests/ is on sys.path.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path


def wait_until(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.1)
    raise TimeoutError(f"{what} did not come up within {timeout}s")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Dockerd:
    socket: Path

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["docker", "-H", f"unix://{self.socket}", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


@contextlib.contextmanager
def running_dockerd(directory: Path, insecure_registries: list[str]) -> Iterator[Dockerd]:
    """A dockerd keeping everything under `directory` (short: the socket path must fit in 108 bytes)."""
    directory.mkdir(parents=True, exist_ok=True)
    sock = directory / "docker.sock"
    argv = [
        "dockerd",
        "--data-root",
        str(directory / "data"),
        "--exec-root",
        str(directory / "exec"),
        "-H",
        f"unix://{sock}",
        "--pidfile",
        str(directory / "docker.pid"),
        "--bridge=none",
        "--iptables=false",
        "--ip-masq=false",
    ]
    for host in insecure_registries:
        argv += ["--insecure-registry", host]
    log = directory / "dockerd.log"
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        daemon = Dockerd(socket=sock)
        wait_until(
            lambda: daemon.run("version", timeout=5).returncode == 0, f"dockerd (log: {log})", timeout=60
        )
        yield daemon
    finally:
        stop_process(process)
        shutil.rmtree(directory / "exec", ignore_errors=True)
