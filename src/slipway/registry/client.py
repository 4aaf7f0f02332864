"""The distribution API v2 (the OCI distribution spec) over httpx: one client per registry host.

Every request goes through `_request` (authorization, one retry with a fresh token on 401, transient failures
raised as `_Transient`) inside `_retrying` (bounded tries with exponential backoff, Retry-After honoured within
reason). Blobs stream into an ingester (the content store, or a batch of it), which verifies digest and size and
keeps nothing of a failed transfer.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import logging
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, TypeVar

import httpx
import msgspec

from slipway.errors import AuthenticationError, DigestMismatch, RegistryError
from slipway.image.oci import Descriptor, Digest
from slipway.registry.auth import Authorizer, Challenge, Token, challenge_of, fetch_token, repository_scope
from slipway.registry.credentials import Credentials, DockerConfig
from slipway.registry.options import RegistryOptions, api_host
from slipway.store import BlobIngester, Store

log = logging.getLogger(__name__)

T = TypeVar("T")

SYSTEM_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
MAX_MANIFEST_BYTES = 4 << 20  # containerd's limit: a manifest is small, anything bigger is garbage
MAX_ERROR_BYTES = 64 << 10
MONOLITHIC_LIMIT = 16 << 20  # blobs up to this size go in one PUT; larger ones in PATCH chunks of CHUNK_SIZE
CHUNK_SIZE = 16 << 20
READ_SIZE = 1 << 20
SCHEMA1_MEDIA_TYPES = (
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
)
_DIGEST = re.compile(r"^(sha256|sha384|sha512):[0-9a-f]{32,128}$")


class _Transient(Exception):
    """A failure worth another try: a dropped connection, 429, 5xx. Never leaves this module."""

    def __init__(self, message: str, delay: float | None = None) -> None:
        super().__init__(message)
        self.delay = delay


class _ErrorDetail(msgspec.Struct, frozen=True):
    code: str = ""
    message: str = ""


class _ErrorBody(msgspec.Struct, frozen=True):
    errors: tuple[_ErrorDetail, ...] = ()


class _MediaTypeProbe(msgspec.Struct, frozen=True, rename="camel"):
    schema_version: int = 0
    media_type: str = ""


def is_digest(reference: str) -> bool:
    return _DIGEST.match(reference) is not None


def content_digest(data: bytes, algorithm: str = "sha256") -> Digest:
    return Digest(f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}")


def ssl_context(verify: bool) -> ssl.SSLContext:
    """The system CA store when there is one (what users configure), else certifi's through httpx's default."""
    if not verify:
        # Nothing is checked, so no CA store is loaded (~30 ms of reading certificates for every command).
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if SYSTEM_CA_BUNDLE.is_file():
        return ssl.create_default_context(cafile=str(SYSTEM_CA_BUNDLE))
    return httpx.create_ssl_context()


class RegistryClient:
    """One registry host. A context manager; safe to share between the threads of one pull or push.

    `push=True` asks for `pull,push` tokens from the start, as Docker does, so a push needs one token per repository.
    """

    def __init__(
        self,
        domain: str,
        *,
        options: RegistryOptions,
        push: bool = False,
        credentials: Credentials | None = None,
        monolithic_limit: int = MONOLITHIC_LIMIT,
        chunk_size: int = CHUNK_SIZE,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.domain = domain
        self.host = api_host(domain)
        self.insecure = options.is_insecure(domain)
        self.retry = options.retry
        self.monolithic_limit = monolithic_limit
        self.chunk_size = chunk_size
        self._actions = "pull,push" if push else "pull"
        self._sleep = sleep
        if credentials is None:
            credentials = DockerConfig(options.config_dir()).get(domain)
        self._http = httpx.Client(
            verify=ssl_context(not self.insecure),
            follow_redirects=True,
            timeout=httpx.Timeout(60.0, connect=15.0),
            limits=httpx.Limits(max_connections=max(options.max_parallel, 1) * 2 + 2),
        )
        self._authorizer = Authorizer(self.host, credentials, self._fetch_token)
        self._base: str | None = None
        self._ping_lock = threading.Lock()
        self._cancelled = threading.Event()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._cancelled.set()
        self._http.close()

    def cancel(self) -> None:
        """Makes transfers in other threads stop at their next chunk (Ctrl-C, or a sibling layer failed)."""
        self._cancelled.set()

    # -- the verbs ---------------------------------------------------------------------------------------------

    def ping(self) -> Challenge | None:
        """GET /v2/: picks https or (for insecure hosts) http and learns the auth challenge; returns it."""
        with self._ping_lock:
            if self._base is None:
                self._base = self._probe()
        return self._authorizer.challenge

    def check_login(self) -> None:
        """Proves the credentials: /v2/ with basic auth, or a token from the realm (scope-less, as `docker login`)."""
        challenge = self.ping()
        if challenge is None:
            return
        if self._authorizer.credentials is None:
            raise self._authorizer.refused()
        if challenge.scheme == "bearer":
            self._retrying(lambda: self._fetch_token(challenge, frozenset()))
            return
        response = self._retrying(lambda: self._request("GET", "/v2/", scopes=frozenset(), what=self.domain))
        response.close()
        self._check(response, self.domain, "GET /v2/")

    def get_manifest(
        self, repository: str, reference: str, accept: Sequence[str]
    ) -> tuple[bytes, str, Digest]:
        """The manifest's bytes, media type and digest (checked against a digest reference or the registry's)."""
        name = self._name(repository, reference)

        def attempt() -> tuple[bytes, httpx.Headers]:
            response = self._request(
                "GET",
                f"/v2/{repository}/manifests/{reference}",
                scopes=self._pull(repository),
                headers={"Accept": ", ".join(accept)},
                stream=True,
                what=name,
            )
            with contextlib.closing(response):
                self._check(response, name, "manifest")
                return self._read_limited(response, MAX_MANIFEST_BYTES, name, "a manifest"), response.headers

        body, headers = self._retrying(attempt)
        media_type = _media_type(headers.get("content-type", ""), body)
        if is_digest(reference):
            digest = content_digest(body, reference.split(":", 1)[0])
            if digest != reference:
                raise RegistryError(
                    f"{name}: the registry sent a manifest whose digest is {digest}; "
                    "the registry or something between is corrupting data"
                )
            return body, media_type, Digest(reference)
        digest = content_digest(body)
        announced = headers.get("docker-content-digest", "")
        if announced.startswith("sha256:") and announced != digest:
            raise RegistryError(
                f"{name}: the manifest's digest is {digest} but the registry says {announced}; "
                "the registry or something between is corrupting data"
            )
        return body, media_type, digest

    def put_manifest(self, repository: str, reference: str, body: bytes, media_type: str) -> Digest:
        name = self._name(repository, reference)
        digest = content_digest(body)

        def attempt() -> httpx.Response:
            response = self._request(
                "PUT",
                f"/v2/{repository}/manifests/{reference}",
                scopes=self._push(repository),
                headers={"Content-Type": media_type},
                content=lambda: body,
                what=name,
            )
            response.close()
            return response

        response = self._retrying(attempt)
        self._check(response, name, "manifest upload", expected=(200, 201, 202))
        announced = response.headers.get("docker-content-digest", "")
        if announced and announced != digest:
            raise RegistryError(f"{name}: the registry stored the manifest as {announced}, not {digest}")
        return digest

    def has_blob(self, repository: str, digest: Digest) -> bool:
        name = f"{self.domain}/{repository}@{digest}"

        def attempt() -> httpx.Response:
            response = self._request(
                "HEAD", f"/v2/{repository}/blobs/{digest}", scopes=self._pull(repository), what=name
            )
            response.close()
            return response

        response = self._retrying(attempt)
        if response.status_code == 404:
            return False
        self._check(response, name, "blob check")
        return True

    def fetch_blob(self, repository: str, descriptor: Descriptor, into: BlobIngester) -> None:
        """Streams the blob into `into` (store.blobs, or a batch), which verifies digest and size; nothing stays
        of a failed fetch. Each try is a fresh `into.ingest`."""
        name = f"{self.domain}/{repository}@{descriptor.digest}"

        def attempt() -> None:
            with self._blob_response(repository, descriptor, name) as response:
                self._ingest(response, descriptor, into, name)

        self._retrying(attempt)

    def fetch_document(self, repository: str, descriptor: Descriptor, limit: int) -> bytes:
        """A small blob read whole into memory, not the store (a cache's config, which no image of the store
        references: stored, it would be an orphan), checked against its descriptor's digest and size."""
        name = f"{self.domain}/{repository}@{descriptor.digest}"
        if descriptor.size > limit:
            raise RegistryError(
                f"{name}: the blob is {descriptor.size} bytes, more than the {limit} a document holds"
            )

        def attempt() -> bytes:
            with self._blob_response(repository, descriptor, name) as response:
                return self._read_limited(response, descriptor.size, name, f"a {descriptor.size}-byte blob")

        body = self._retrying(attempt)
        digest = content_digest(body, descriptor.digest.split(":", 1)[0])
        if digest != descriptor.digest or len(body) != descriptor.size:
            raise RegistryError(
                f"{name}: the registry sent {len(body)} bytes whose digest is {digest}; "
                "the registry or something between is corrupting data"
            )
        return body

    @contextlib.contextmanager
    def _blob_response(self, repository: str, descriptor: Descriptor, name: str) -> Iterator[httpx.Response]:
        """One GET of a blob, its status checked, its body still to read; closed when the block ends."""
        response = self._request(
            "GET",
            f"/v2/{repository}/blobs/{descriptor.digest}",
            scopes=self._pull(repository),
            headers={"Accept-Encoding": "identity"},
            stream=True,
            what=name,
        )
        with contextlib.closing(response):
            self._check(response, name, "blob")
            yield response

    def mount_blob(self, repository: str, digest: Digest, from_repository: str) -> bool:
        """Cross-repository mount; False when the registry would not (then nothing was changed)."""
        location = self._retrying(lambda: self._start_upload(repository, digest, from_repository))
        if location is None:
            return True
        self._abandon_upload(location)
        return False

    def push_blob(
        self, repository: str, descriptor: Descriptor, store: Store, *, mount_from: str | None = None
    ) -> None:
        """Mounts from `mount_from` when given and allowed, else uploads: one PUT when small, PATCH chunks if not."""
        name = f"{self.domain}/{repository}@{descriptor.digest}"

        def attempt() -> None:
            location = self._start_upload(repository, descriptor.digest if mount_from else None, mount_from)
            if location is None:
                return
            # Checked against its digest as it is sent: a blob damaged in the store fails before its last byte.
            with store.blobs.stream(descriptor.digest, descriptor.size, seekable=True) as blob:
                if descriptor.size <= self.monolithic_limit:
                    self._put_whole(repository, location, descriptor, blob, name)
                else:
                    self._put_chunks(repository, location, descriptor, blob, name)

        self._retrying(attempt)

    # -- uploads -----------------------------------------------------------------------------------------------

    def _start_upload(
        self, repository: str, digest: Digest | None, from_repository: str | None
    ) -> str | None:
        """POST .../blobs/uploads/: the upload URL, or None when the mount succeeded (201)."""
        scopes = self._push(repository)
        params: dict[str, str] = {}
        if digest is not None and from_repository is not None:
            params = {"mount": digest, "from": from_repository}
            scopes = scopes | {repository_scope(from_repository, "pull")}
        name = f"{self.domain}/{repository}"
        response = self._request(
            "POST",
            f"/v2/{repository}/blobs/uploads/",
            scopes=scopes,
            params=params,
            headers={"Content-Length": "0"},
            what=name,
        )
        response.close()
        if response.status_code == 201 and params:
            return None
        self._check(response, name, "upload start", expected=(202,))
        return self._location(response, name)

    def _put_whole(
        self, repository: str, location: str, descriptor: Descriptor, blob: BinaryIO, name: str
    ) -> None:
        response = self._request(
            "PUT",
            location,
            scopes=self._push(repository),
            params={"digest": descriptor.digest},
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(descriptor.size)},
            content=lambda: self._chunks_of(blob, 0, descriptor.size),
            what=name,
        )
        response.close()
        self._check_uploaded(response, descriptor, name)

    def _put_chunks(
        self, repository: str, location: str, descriptor: Descriptor, blob: BinaryIO, name: str
    ) -> None:
        for start in range(0, descriptor.size, self.chunk_size):
            length = min(self.chunk_size, descriptor.size - start)
            response = self._request(
                "PATCH",
                location,
                scopes=self._push(repository),
                headers={
                    "Content-Type": "application/octet-stream",
                    "Content-Length": str(length),
                    "Content-Range": f"{start}-{start + length - 1}",
                },
                content=functools.partial(self._chunks_of, blob, start, length),
                what=name,
            )
            response.close()
            self._check(response, name, "upload chunk", expected=(202,))
            location = self._location(response, name)
        response = self._request(
            "PUT",
            location,
            scopes=self._push(repository),
            params={"digest": descriptor.digest},
            headers={"Content-Length": "0"},
            what=name,
        )
        response.close()
        self._check_uploaded(response, descriptor, name)

    def _check_uploaded(self, response: httpx.Response, descriptor: Descriptor, name: str) -> None:
        self._check(response, name, "upload", expected=(201, 204))
        announced = response.headers.get("docker-content-digest", "")
        if announced and announced != descriptor.digest:
            raise RegistryError(f"{name}: the registry stored the blob as {announced}")

    def _abandon_upload(self, location: str) -> None:
        with contextlib.suppress(_Transient, RegistryError):
            self._request("DELETE", location, scopes=frozenset(), what=self.domain).close()

    def _chunks_of(self, blob: BinaryIO, start: int, length: int) -> Iterator[bytes]:
        blob.seek(start)
        left = length
        while left > 0:
            if self._cancelled.is_set():
                raise RegistryError(f"{self.domain}: upload cancelled")
            chunk = blob.read(min(READ_SIZE, left))
            if not chunk:
                raise RegistryError(
                    f"blob {blob.name!r} in the store is shorter than its descriptor; run `slipway system check`"
                )
            left -= len(chunk)
            yield chunk

    # -- downloads ---------------------------------------------------------------------------------------------

    def _ingest(
        self, response: httpx.Response, descriptor: Descriptor, into: BlobIngester, name: str
    ) -> None:
        body = _Body(response, descriptor.size, self._cancelled, name)
        try:
            with into.ingest(expected=descriptor.digest, expected_size=descriptor.size) as writer:
                writer.write_from(body)
                if body.received < descriptor.size:
                    raise _Transient(f"{name}: the registry sent {body.received} of {descriptor.size} bytes")
        except DigestMismatch as err:
            raise RegistryError(
                f"{name}: the blob does not match its digest ({err}); "
                "the registry or something between is corrupting data"
            ) from err

    def _read_limited(self, response: httpx.Response, limit: int, name: str, expected: str) -> bytes:
        parts: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > limit:
                    raise RegistryError(
                        f"{name}: the registry sent more than {limit} bytes where {expected} was expected"
                    )
                parts.append(chunk)
        except httpx.TransportError as err:
            raise _Transient(f"{name}: the connection broke ({_describe(err)})") from err
        return b"".join(parts)

    # -- requests, auth, retries -------------------------------------------------------------------------------

    def _probe(self) -> str:
        schemes = ("https", "http") if self.insecure else ("https",)
        last: Exception | None = None
        for scheme in schemes:
            base = f"{scheme}://{self.host}"
            try:
                # An insecure host is tried over TLS once, as Docker does; plain HTTP gets the full retries.
                if scheme == "https" and self.insecure:
                    response = self._send_unauthorized(base)
                else:
                    response = self._retrying(functools.partial(self._send_unauthorized, base))
            except (_Transient, RegistryError) as err:
                last = err
                continue
            if response.status_code == 401:
                challenge = challenge_of(response)
                if challenge is None:
                    raise RegistryError(
                        f"{self.domain}: /v2/ answered 401 without a WWW-Authenticate challenge"
                    )
                self._authorizer.learn(challenge)
            elif response.status_code != 200:
                raise RegistryError(
                    f"{self.domain}: {base}/v2/ answered {response.status_code}; "
                    "is this a registry (distribution API v2)?"
                )
            return base
        raise RegistryError(
            f"{self.domain}: cannot reach the registry ({last}); is it running, and is the name right?"
        )

    def _send_unauthorized(self, base: str) -> httpx.Response:
        try:
            response = self._http.get(f"{base}/v2/")
        except httpx.TransportError as err:
            raise _Transient(f"{base}/v2/: {_describe(err)}") from err
        if response.status_code in RETRY_STATUSES:
            raise _Transient(f"{base}/v2/ answered {response.status_code}", _retry_after(response))
        return response

    def _request(
        self,
        method: str,
        path: str,
        *,
        scopes: frozenset[str],
        what: str,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        content: Callable[[], bytes | Iterator[bytes]] | None = None,
        stream: bool = False,
    ) -> httpx.Response:
        self.ping()
        assert self._base is not None
        url = httpx.URL(path if "://" in path else self._base + path)
        if params:
            url = url.copy_merge_params(params)
        for attempt in (1, 2):
            request_headers = dict(headers or {})
            authorization = self._authorizer.header(scopes)
            if authorization:
                request_headers["Authorization"] = authorization
            request = self._http.build_request(
                method, url, headers=request_headers, content=content() if content is not None else None
            )
            try:
                response = self._http.send(request, stream=stream)
            except httpx.TransportError as err:
                raise _Transient(f"{what}: {method} failed: {_describe(err)}") from err
            if response.status_code == 401:
                response.close()
                challenge = challenge_of(response)
                if attempt == 2 or challenge is None:
                    raise self._authorizer.refused()
                # The token may have expired, or the registry wants a scope we did not ask for (it names it).
                self._authorizer.forget(scopes)
                self._authorizer.learn(challenge)
                if challenge.scope:
                    scopes = scopes | {challenge.scope}
                continue
            if response.status_code in RETRY_STATUSES:
                response.close()
                raise _Transient(
                    f"{what}: the registry answered {response.status_code} to {method}",
                    _retry_after(response),
                )
            return response
        raise AssertionError("unreachable")

    def _fetch_token(self, challenge: Challenge, scopes: frozenset[str]) -> Token:
        try:
            return fetch_token(
                self._http, challenge, scopes, self._authorizer.credentials, domain=self.domain
            )
        except httpx.TransportError as err:
            raise _Transient(
                f"{self.domain}: cannot reach the token server {challenge.realm}: {_describe(err)}"
            ) from err

    def _retrying(self, operation: Callable[[], T]) -> T:
        for attempt in range(1, self.retry.tries + 1):
            try:
                return operation()
            except _Transient as err:
                if attempt == self.retry.tries or self._cancelled.is_set():
                    raise RegistryError(f"{err} (gave up after {attempt} tries)") from err
                delay = self.retry.backoff * 2 ** (attempt - 1) if err.delay is None else err.delay
                delay = min(delay, self.retry.max_delay)
                log.debug("%s; trying again in %.1fs", err, delay)
                self._sleep(delay)
        raise AssertionError("unreachable")

    def _check(
        self, response: httpx.Response, name: str, what: str, expected: tuple[int, ...] = (200,)
    ) -> None:
        status = response.status_code
        if status in expected:
            return
        detail = _error_detail(response)
        if status == 403:
            raise AuthenticationError(
                f"{name}: access denied ({detail or 'forbidden'}); log in with an account that may do this"
            )
        if status == 404:
            raise RegistryError(f"{name}: {detail or what + ' not found'} (404)")
        raise RegistryError(
            f"{name}: the registry answered {status} for the {what}" + (f": {detail}" if detail else "")
        )

    def _location(self, response: httpx.Response, name: str) -> str:
        location = response.headers.get("location")
        if not location:
            raise RegistryError(f"{name}: the registry started an upload without a Location")
        return str(response.url.join(location))

    def _name(self, repository: str, reference: str) -> str:
        separator = "@" if is_digest(reference) else ":"
        return f"{self.domain}/{repository}{separator}{reference}"

    def _pull(self, repository: str) -> frozenset[str]:
        return frozenset({repository_scope(repository, self._actions)})

    def _push(self, repository: str) -> frozenset[str]:
        return frozenset({repository_scope(repository, "pull,push")})


class _Body(io.RawIOBase):
    """A blob's response body as a stream of at most `size` bytes. Each read fills the caller's buffer from
    the pieces httpx hands out (what one recv brought), so whoever reads it hashes and writes large spans."""

    def __init__(self, response: httpx.Response, size: int, cancelled: threading.Event, name: str) -> None:
        super().__init__()
        self._pieces = response.iter_raw()
        self._pending = memoryview(b"")
        self._size = size
        self._cancelled = cancelled
        self._name = name
        self.received = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(view):
            if not self._pending:
                piece = self._next_piece()
                if not piece:
                    break
                self._pending = memoryview(piece)
            count = min(len(self._pending), len(view) - filled)
            view[filled : filled + count] = self._pending[:count]
            self._pending = self._pending[count:]
            filled += count
        return filled

    def _next_piece(self) -> bytes:
        if self._cancelled.is_set():
            raise RegistryError(f"{self._name}: download cancelled")
        try:
            piece = next(self._pieces, b"")
        except httpx.TransportError as err:
            raise _Transient(
                f"{self._name}: the connection broke after {self.received} bytes ({_describe(err)})"
            ) from err
        self.received += len(piece)
        if self.received > self._size:
            raise RegistryError(
                f"{self._name}: the registry sent more than the {self._size} bytes "
                "the manifest gives for this blob"
            )
        return piece


def _media_type(content_type: str, body: bytes) -> str:
    declared = content_type.split(";", 1)[0].strip()
    if declared and declared not in ("application/json", "text/plain", "application/octet-stream"):
        return declared
    # Some registries serve every manifest as application/json: the document says what it is.
    try:
        probe = msgspec.json.decode(body, type=_MediaTypeProbe)
    except msgspec.DecodeError:
        return declared
    if probe.schema_version == 1:
        return SCHEMA1_MEDIA_TYPES[0]
    return probe.media_type or declared


def _error_detail(response: httpx.Response) -> str:
    try:
        body = (
            response.read()[:MAX_ERROR_BYTES]
            if not response.is_closed
            else response.content[:MAX_ERROR_BYTES]
        )
    except (httpx.HTTPError, httpx.StreamError):
        return ""
    try:
        errors = msgspec.json.decode(body, type=_ErrorBody).errors
    except msgspec.DecodeError:
        return ""
    return "; ".join(e.message or e.code.lower().replace("_", " ") for e in errors)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: rare from registries, and the backoff is as good


def _describe(err: httpx.TransportError) -> str:
    return str(err) or type(err).__name__
