"""Real registries for the registry tests: Distribution (`docker-registry serve`) on 127.0.0.1, plain, behind
htpasswd basic auth, and behind a bearer-token challenge whose tokens a small stdlib server here signs; a loopback
proxy that records requests and injects faults; a private dockerd (tests/private_dockerd.py). Everything is stopped
by the PID it started.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import http.client
import json
import os
import re
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import prerequisites
from loopback_registry import (  # noqa: F401 (the registry tests import them from here)
    REGISTRY_BINARY,
    Registry,
    free_port,
    running_registry,
)
from slipway.store import Store

USER, PASSWORD = "slipway", "s3cret-pass"
SERVICE, ISSUER = "slipway-test-registry", "slipway-test-issuer"


def htpasswd_auth(directory: Path) -> str:
    line = subprocess.run(
        ["htpasswd", "-Bbn", USER, PASSWORD], check=True, capture_output=True, text=True
    ).stdout
    path = directory / "htpasswd"
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(line.strip() + "\n")
    return f"auth:\n  htpasswd:\n    realm: slipway-test\n    path: {path}\n"


# -- bearer tokens --------------------------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class TokenIssuer:
    """A self-signed certificate the registry trusts (rootcertbundle) and the key that signs the JWTs."""

    cert_path: Path
    key: object
    cert_der: bytes

    @classmethod
    def create(cls, directory: Path) -> TokenIssuer:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "slipway test token issuer")])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        directory.mkdir(parents=True, exist_ok=True)
        cert_path = directory / "token-issuer.pem"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return cls(cert_path=cert_path, key=key, cert_der=cert.public_bytes(serialization.Encoding.DER))

    def sign(self, subject: str, access: list[dict[str, object]], lifetime: int) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(self.cert_der).decode()]}
        claims = {
            "iss": ISSUER,
            "sub": subject,
            "aud": SERVICE,
            "exp": now + lifetime,
            "nbf": now - 10,
            "iat": now,
            "jti": os.urandom(8).hex(),
            "access": access,
        }
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())  # type: ignore[attr-defined]
        return f"{signing_input}.{_b64url(signature)}"


@dataclass
class TokenServer:
    """GET /token?service=..&scope=..: full access with the right basic credentials, none anonymously."""

    issuer: TokenIssuer
    port: int = 0
    requests: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)  # (user or "", scopes)
    field_name: str = "token"  # or "access_token", as some token servers answer
    lifetime: int = 300

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    def handle(self, path: str, authorization: str) -> tuple[int, bytes]:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
        scopes = tuple(query.get("scope", []))
        user = ""
        if authorization.startswith("Basic "):
            user, _, password = base64.b64decode(authorization[6:]).decode().partition(":")
            if (user, password) != (USER, PASSWORD):
                self.requests.append((user, scopes))
                return 401, b'{"details": "wrong credentials"}'
        self.requests.append((user, scopes))
        access = []
        for scope in scopes if user else ():
            kind, name, actions = scope.split(":") if scope.count(":") == 2 else ("", "", "")
            if kind == "repository":
                access.append({"type": kind, "name": name, "actions": actions.split(",")})
        token = self.issuer.sign(user or "anonymous", access, self.lifetime)
        return 200, json.dumps({self.field_name: token, "expires_in": self.lifetime}).encode()


@contextlib.contextmanager
def running_token_server(issuer: TokenIssuer) -> Iterator[TokenServer]:
    server_state = TokenServer(issuer=issuer)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            status, body = server_state.handle(self.path, self.headers.get("Authorization", ""))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return None

    with serving(Handler) as port:
        server_state.port = port
        yield server_state


def token_auth(issuer: TokenIssuer, realm: str) -> str:
    return (
        f"auth:\n  token:\n    realm: {realm}\n    service: {SERVICE}\n    issuer: {ISSUER}\n"
        f"    rootcertbundle: {issuer.cert_path}\n"
    )


@contextlib.contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="test-http-server", daemon=True
    )
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# -- a loopback proxy that records requests and injects faults ------------------------------------------------


@dataclass
class Fault:
    method: str
    path: str  # a regular expression searched in the request path
    kind: str  # drop | truncate | status | respond | corrupt | long | short
    times: int = 1
    status: int = 500
    retry_after: str | None = None
    body: bytes = b""  # for "respond"
    content_type: str = "application/octet-stream"


@dataclass
class Proxy:
    upstream: str  # "127.0.0.1:PORT"
    port: int = 0
    faults: list[Fault] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path with query)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            self.requests.append((method, path))
            for fault in self.faults:
                if fault.times > 0 and fault.method == method and re.search(fault.path, path):
                    fault.times -= 1
                    return fault
        return None

    def count(self, method: str, pattern: str = "") -> int:
        with self.lock:
            return sum(1 for m, p in self.requests if m == method and re.search(pattern, p))


@contextlib.contextmanager
def running_proxy(upstream: str) -> Iterator[Proxy]:
    state = Proxy(upstream=upstream)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            fault = state.take_fault(self.command, self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if fault is not None and fault.kind == "drop":
                self.close_connection = True
                return
            if fault is not None and fault.kind == "status":
                self._reply(
                    fault.status,
                    {"Retry-After": fault.retry_after} if fault.retry_after else {},
                    b'{"errors":[{"code":"UNAVAILABLE","message":"injected by the test proxy"}]}',
                )
                return
            if fault is not None and fault.kind == "respond":
                self._reply(fault.status, {"Content-Type": fault.content_type}, fault.body)
                return
            upstream = http.client.HTTPConnection(state.upstream, timeout=60)
            try:
                # Header by header: clients send several Accept headers, and a dict would keep one.
                upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for key, value in self.headers.items():
                    if key.lower() not in ("connection", "content-length"):
                        upstream.putheader(key, value)
                if body or self.command in ("PUT", "POST", "PATCH"):
                    upstream.putheader("Content-Length", str(len(body)))
                upstream.endheaders(body or None)
                response = upstream.getresponse()
                payload = response.read()
                reply_headers = {
                    k: v
                    for k, v in response.getheaders()
                    if k.lower() not in ("connection", "content-length", "transfer-encoding")
                }
            finally:
                upstream.close()
            self._reply_faulty(response.status, reply_headers, payload, fault)

        def _reply_faulty(
            self, status: int, headers: dict[str, str], payload: bytes, fault: Fault | None
        ) -> None:
            if fault is None or self.command == "HEAD":
                self._reply(status, headers, payload, head=self.command == "HEAD")
            elif fault.kind == "truncate":
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload[: len(payload) // 2])
                self.wfile.flush()
                self.close_connection = True
            elif fault.kind == "corrupt":
                flipped = bytes([payload[0] ^ 0xFF]) + payload[1:] if payload else payload
                self._reply(status, headers, flipped)
            elif fault.kind == "long":
                self._reply(status, headers, payload + b"extra bytes")
            elif fault.kind == "short":
                self._reply(status, headers, payload[:-7])
            else:
                raise AssertionError(f"unknown fault {fault.kind}")

        def _reply(self, status: int, headers: dict[str, str], payload: bytes, head: bool = False) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            if "Content-Length" not in headers:
                self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if not head:
                self.wfile.write(payload)

        do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _forward  # noqa: N815

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return None

    with serving(Handler) as port:
        state.port = port
        yield state


# -- helpers ----------------------------------------------------------------------------------------------------


def skopeo(*args: str) -> subprocess.CompletedProcess[str]:
    prerequisites.require_tool("skopeo", "skopeo")
    return subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=120, check=False)


def skopeo_inspect(reference: str, *extra: str) -> dict[str, object]:
    completed = skopeo("inspect", "--tls-verify=false", *extra, f"docker://{reference}")
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)  # type: ignore[no-any-return]


def store_listing(store: Store) -> tuple[set[tuple[str, tuple[str, ...]]], set[str], list[str]]:
    """What a failed transfer must leave as it was: images and their names, blob files, temp files."""
    images = {(image.id, image.names) for image in store.images.list()}
    blobs = {path.name for path in (store.root / "blobs" / "sha256").iterdir()}
    # The store keeps a work dir of its own under tmp/ while open: what must not be left is files in it.
    temporary = [str(path) for path in (store.root / "tmp").rglob("*") if not path.is_dir()]
    return images, blobs, temporary
