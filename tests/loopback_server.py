"""Servers on the host's loopback for tests: one that writes one message to every connection (BuildKit's
echoserver), for the tests of what a RUN's network reaches; a directory over HTTP (git's "dumb" protocol too)."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = ["echo_server", "free_port", "serving_directory", "serving_http", "wait_until_listening"]


@contextmanager
def echo_server(message: bytes) -> Iterator[int]:
    """Each connection to 127.0.0.1:PORT gets `message`; yields the port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection:
                connection.sendall(message)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        listener.close()


@contextmanager
def serving_directory(root: Path) -> Iterator[str]:
    """Go's httptest.NewServer(http.FileServer(dir)) on loopback: its base URL."""

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    with serving_http(Handler) as url:
        yield url


@contextmanager
def serving_http(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 answering with `handler`, in a thread: its base URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now, for a server that takes its port as an argument."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_listening(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    """Until `process` (named `what`) accepts connections on 127.0.0.1:`port`; fails if it exits first."""
    for _ in range(1000):
        with socket.socket() as client:
            if client.connect_ex(("127.0.0.1", port)) == 0:
                return
        assert process.poll() is None, f"{what} exited with {process.returncode}"
        time.sleep(0.01)
    raise AssertionError(f"{what} did not listen on 127.0.0.1:{port}")
