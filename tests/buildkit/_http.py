"""BuildKit's util/testutil/httpserver on loopback: fixed responses by path, every request recorded."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from loopback_server import serving_directory

__all__ = ["RecordingServer", "Request", "Response", "serving_directory"]


@dataclass
class Response:
    content: bytes
    etag: str = ""
    last_modified: datetime | None = None
    content_disposition: str = ""


@dataclass(frozen=True)
class Request:
    method: str
    headers: dict[str, str]


@dataclass
class RecordingServer:
    url: str
    responses: dict[str, Response]
    requests: dict[str, list[Request]] = field(default_factory=dict)

    def stats(self, path: str) -> list[Request]:
        return self.requests.get(path, [])


def not_modified(handler: BaseHTTPRequestHandler, response: Response) -> bool:
    if response.etag and handler.headers.get("If-None-Match") == response.etag:
        return True
    since = handler.headers.get("If-Modified-Since")
    if since and response.last_modified is not None:
        try:
            return response.last_modified.replace(microsecond=0) <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
    return False


@contextmanager
def running_server() -> Iterator[RecordingServer]:
    server_state = RecordingServer(url="", responses={})

    class Handler(BaseHTTPRequestHandler):
        def answer(self, with_body: bool) -> None:
            path = self.path.split("?")[0]
            server_state.requests.setdefault(path, []).append(
                Request(self.command, {key.lower(): value for key, value in self.headers.items()})
            )
            response = server_state.responses.get(path)
            if response is None:
                self.send_error(404)
                return
            if not_modified(self, response):
                self.send_response(304)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(response.content)))
            if response.etag:
                self.send_header("ETag", response.etag)
            if response.last_modified is not None:
                self.send_header("Last-Modified", format_datetime(response.last_modified, usegmt=True))
            if response.content_disposition:
                self.send_header("Content-Disposition", response.content_disposition)
            self.end_headers()
            if with_body:
                self.wfile.write(response.content)

        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            self.answer(with_body=True)

        def do_HEAD(self) -> None:  # noqa: N802 - the stdlib's name
            self.answer(with_body=False)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server_state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()
