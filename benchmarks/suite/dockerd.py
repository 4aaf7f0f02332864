"""A private dockerd on the benchmark file system, stopped by its PID at the end."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

DOCKER_CLIENT = "/usr/bin/docker"  # Debian's client: the one on PATH may be another build without BuildKit


@dataclass(frozen=True, slots=True)
class Dockerd:
    pid: int
    socket: Path

    def client(self, *args: str) -> list[str]:
        return [DOCKER_CLIENT, "-H", f"unix://{self.socket}", *args]


def _wait_ready(daemon: Dockerd, process: subprocess.Popen[bytes], log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dockerd exited with {process.returncode}; see {log}")
        probe = subprocess.run(daemon.client("version"), capture_output=True, check=False)
        if probe.returncode == 0:
            return
        time.sleep(0.5)
    raise RuntimeError(f"dockerd did not answer on {daemon.socket} within {timeout:.0f}s; see {log}")


@contextmanager
def private_dockerd(base: Path, tmpdir: Path, log: Path) -> Iterator[Dockerd]:
    """Start dockerd with its data, exec root and socket under `base`; stop it (SIGTERM, then SIGKILL) after."""
    data, exec_root = base / "data", base / "exec"
    data.mkdir(parents=True, exist_ok=True)
    exec_root.mkdir(parents=True, exist_ok=True)
    socket = base / "docker.sock"
    argv = [
        "dockerd",
        "--data-root", str(data),
        "--exec-root", str(exec_root),
        "-H", f"unix://{socket}",
        "--pidfile", str(base / "dockerd.pid"),
        "--bridge=none",
        "--iptables=false",
    ]  # fmt: skip
    env = {**os.environ, "TMPDIR": str(tmpdir)}
    with open(log, "wb") as log_file:
        process = subprocess.Popen(argv, stdout=log_file, stderr=subprocess.STDOUT, env=env)
    try:
        daemon = Dockerd(process.pid, socket)
        _wait_ready(daemon, process, log)
        yield daemon
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
