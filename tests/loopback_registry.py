"""A Distribution registry (`docker-registry serve`) on 127.0.0.1 for the tests and the fleet simulation
(benchmarks/fleet), stopped by the PID it started. Importable by name (`import loopback_registry`): tests/ is
on sys.path.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from private_dockerd import stop_process, wait_until

REGISTRY_BINARY = "/usr/bin/docker-registry"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Registry:
    host: str  # "127.0.0.1:PORT"
    root: Path
    log: Path

    def url(self, path: str) -> str:
        return f"http://{self.host}{path}"


@contextlib.contextmanager
def running_registry(directory: Path, auth: str = "", *, access_log: bool = False) -> Iterator[Registry]:
    """Distribution on 127.0.0.1, storing under `directory`; `auth` is its config's auth section; with
    `access_log` its log (registry.log) has a line per request: method, path, status and bytes sent."""
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    storage = directory / "storage"
    config = directory / "config.yml"
    config.write_text(
        "version: 0.1\n"
        f"log:\n  level: info\n  accesslog:\n    disabled: {str(not access_log).lower()}\n"
        f"storage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n" + auth
    )
    log = directory / "registry.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [REGISTRY_BINARY, "serve", str(config)], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        registry = Registry(host=f"127.0.0.1:{port}", root=storage, log=log)
        wait_until(
            lambda: httpx.get(registry.url("/v2/"), timeout=2).status_code in (200, 401),
            f"docker-registry on port {port} (log: {log})",
        )
        yield registry
    finally:
        stop_process(process)
