"""Registry authentication as Docker does it: the `WWW-Authenticate` challenge of /v2/, then either basic auth on
every request or bearer tokens fetched from the challenge's realm, one per set of scopes, reused until they expire.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import httpx
import msgspec

from slipway.errors import AuthenticationError, RegistryError
from slipway.registry.credentials import Credentials

# Tokens are refreshed a little before they expire, so a request never carries one that lapses in flight.
EXPIRY_MARGIN_SECONDS = 5.0
# Docker's token handler: a token without expires_in, or with less, lives 60 seconds.
MINIMUM_TOKEN_SECONDS = 60

_PARAMETER = re.compile(r'\s*([A-Za-z0-9_.\-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?')


@dataclass(frozen=True, slots=True)
class Challenge:
    scheme: str  # lower-case: "basic" or "bearer"
    realm: str = ""
    service: str = ""
    scope: str = ""
    error: str = ""  # "insufficient_scope", "invalid_token", ...


@dataclass(frozen=True, slots=True)
class Token:
    value: str
    expires_at: float  # on the monotonic clock


class _TokenResponse(msgspec.Struct, frozen=True):
    token: str = ""
    access_token: str = ""
    expires_in: int = 0


def parse_challenge(header: str) -> Challenge | None:
    """One `WWW-Authenticate` value: `Bearer realm="...",service="...",scope="..."`; None if it is not one."""
    scheme, _, rest = header.strip().partition(" ")
    if not scheme:
        return None
    parameters: dict[str, str] = {}
    position = 0
    while position < len(rest):
        match = _PARAMETER.match(rest, position)
        if match is None or match.end() == position:
            break
        quoted, bare = match.group(2), match.group(3)
        value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
        parameters[match.group(1).lower()] = value
        position = match.end()
    return Challenge(
        scheme=scheme.lower(),
        realm=parameters.get("realm", ""),
        service=parameters.get("service", ""),
        scope=parameters.get("scope", ""),
        error=parameters.get("error", ""),
    )


def challenge_of(response: httpx.Response) -> Challenge | None:
    """The challenge a 401 carries: bearer preferred over basic, as Docker does."""
    challenges = [
        c for c in map(parse_challenge, response.headers.get_list("www-authenticate")) if c is not None
    ]
    for scheme in ("bearer", "basic"):
        for challenge in challenges:
            if challenge.scheme == scheme:
                return challenge
    return None


def repository_scope(repository: str, actions: str) -> str:
    """`repository:library/busybox:pull` or `...:pull,push`."""
    return f"repository:{repository}:{actions}"


def basic_header(credentials: Credentials) -> str:
    token = base64.b64encode(f"{credentials.username}:{credentials.password}".encode()).decode()
    return f"Basic {token}"


def fetch_token(
    http: httpx.Client,
    challenge: Challenge,
    scopes: Iterable[str],
    credentials: Credentials | None,
    *,
    domain: str,
    clock: Callable[[], float] = time.monotonic,
) -> Token:
    """GET the realm with service and scopes (basic credentials if known) -> `token` or `access_token`."""
    if not challenge.realm:
        raise RegistryError(
            f"{domain}: the registry asks for a bearer token but names no realm to get it from"
        )
    params: list[tuple[str, str | int | float | bool | None]] = []
    if challenge.service:
        params.append(("service", challenge.service))
    params.extend(("scope", scope) for scope in sorted(scopes))
    headers = {}
    if credentials is not None:
        params.append(("account", credentials.username))
        headers["Authorization"] = basic_header(credentials)
    started = clock()
    response = http.get(challenge.realm, params=params, headers=headers)
    if response.status_code in (401, 403):
        raise AuthenticationError(_refused(domain, credentials))
    if response.status_code != 200:
        raise RegistryError(f"{domain}: the token server {challenge.realm} answered {response.status_code}")
    try:
        decoded = msgspec.json.decode(response.content, type=_TokenResponse)
    except msgspec.DecodeError as err:
        raise RegistryError(
            f"{domain}: the token server {challenge.realm} sent no valid token ({err})"
        ) from err
    value = decoded.token or decoded.access_token
    if not value:
        raise RegistryError(f"{domain}: the token server {challenge.realm} sent an empty token")
    lifetime = max(decoded.expires_in, MINIMUM_TOKEN_SECONDS)
    return Token(value=value, expires_at=started + lifetime - EXPIRY_MARGIN_SECONDS)


def _refused(domain: str, credentials: Credentials | None) -> str:
    if credentials is None:
        return f"{domain}: authentication required; run `slipway login {domain}`"
    return f"{domain}: the registry refused the credentials of {credentials.username!r}; check them with `slipway login {domain}`"


class Authorizer:
    """Hands out the Authorization header for a set of scopes on one registry. Safe to share between threads.

    It knows nothing until `learn` sees a 401 (the ping of /v2/ or any later request); tokens are cached per scope
    set and dropped by `forget` when the registry rejects one.
    """

    def __init__(
        self,
        domain: str,
        credentials: Credentials | None,
        fetch: Callable[[Challenge, frozenset[str]], Token],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.domain = domain
        self.credentials = credentials
        self._fetch = fetch
        self._clock = clock
        self._lock = threading.Lock()
        self._challenge: Challenge | None = None
        self._tokens: dict[frozenset[str], Token] = {}

    @property
    def challenge(self) -> Challenge | None:
        return self._challenge

    def learn(self, challenge: Challenge) -> None:
        with self._lock:
            self._challenge = challenge

    def header(self, scopes: frozenset[str]) -> str | None:
        challenge = self._challenge
        if challenge is None:
            return None
        if challenge.scheme == "basic":
            return basic_header(self.credentials) if self.credentials is not None else None
        if challenge.scheme != "bearer":
            raise RegistryError(f"{self.domain}: unsupported authentication scheme {challenge.scheme!r}")
        return f"Bearer {self._token(challenge, scopes).value}"

    def forget(self, scopes: frozenset[str]) -> None:
        with self._lock:
            self._tokens.pop(scopes, None)

    def _token(self, challenge: Challenge, scopes: frozenset[str]) -> Token:
        # One lock for fetching too: tokens are few, and parallel layer downloads would otherwise each fetch one.
        with self._lock:
            cached = self._tokens.get(scopes)
            if cached is not None and cached.expires_at > self._clock():
                return cached
            token = self._fetch(challenge, scopes)
            self._tokens[scopes] = token
            return token

    def refused(self) -> AuthenticationError:
        return AuthenticationError(_refused(self.domain, self.credentials))
