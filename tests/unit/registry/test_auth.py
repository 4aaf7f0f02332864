from __future__ import annotations

import httpx
import pytest

from slipway.errors import AuthenticationError
from slipway.registry.auth import Authorizer, Challenge, Token, challenge_of, fetch_token, parse_challenge
from slipway.registry.credentials import Credentials


def test_parse_bearer_challenge_with_quoted_commas() -> None:
    header = (
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:library/busybox:pull,push",error="insufficient_scope"'
    )
    assert parse_challenge(header) == Challenge(
        scheme="bearer",
        realm="https://auth.docker.io/token",
        service="registry.docker.io",
        scope="repository:library/busybox:pull,push",
        error="insufficient_scope",
    )


def test_parse_basic_challenge_and_escapes() -> None:
    assert parse_challenge('Basic realm="a \\"quoted\\" realm"') == Challenge(
        scheme="basic", realm='a "quoted" realm'
    )
    assert parse_challenge("Basic") == Challenge(scheme="basic")
    assert parse_challenge("") is None


def test_bearer_is_preferred_over_basic() -> None:
    response = httpx.Response(
        401,
        headers=[
            ("WWW-Authenticate", 'Basic realm="x"'),
            ("WWW-Authenticate", 'Bearer realm="https://r/token"'),
        ],
    )
    challenge = challenge_of(response)
    assert challenge is not None and challenge.scheme == "bearer" and challenge.realm == "https://r/token"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_tokens_are_reused_per_scope_until_they_expire() -> None:
    clock = Clock()
    fetched: list[frozenset[str]] = []

    def fetch(challenge: Challenge, scopes: frozenset[str]) -> Token:
        fetched.append(scopes)
        return Token(value=f"t{len(fetched)}", expires_at=clock() + 60)

    authorizer = Authorizer("r.example", None, fetch, clock=clock)
    pull = frozenset({"repository:a:pull"})
    assert authorizer.header(pull) is None  # nothing learnt yet: anonymous
    authorizer.learn(Challenge(scheme="bearer", realm="https://r/token"))
    assert authorizer.header(pull) == "Bearer t1"
    assert authorizer.header(pull) == "Bearer t1"
    assert authorizer.header(frozenset({"repository:b:pull"})) == "Bearer t2"
    clock.now += 61
    assert authorizer.header(pull) == "Bearer t3"
    authorizer.forget(pull)
    assert authorizer.header(pull) == "Bearer t4"


def test_basic_challenge_sends_credentials() -> None:
    authorizer = Authorizer("r", Credentials("user", "pa:ss"), lambda c, s: pytest.fail("no token for basic"))
    authorizer.learn(Challenge(scheme="basic"))
    assert authorizer.header(frozenset()) == "Basic dXNlcjpwYTpzcw=="


def token_server(status: int, body: bytes, seen: list[httpx.Request]) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, content=body)

    return httpx.Client(transport=httpx.MockTransport(handler))


def test_fetch_token_sends_service_scopes_and_basic_auth_and_reads_access_token() -> None:
    seen: list[httpx.Request] = []
    http = token_server(200, b'{"access_token": "abc", "expires_in": 3600}', seen)
    challenge = Challenge(scheme="bearer", realm="https://auth.example/token", service="reg")
    token = fetch_token(
        http,
        challenge,
        {"repository:x:pull,push", "repository:y:pull"},
        Credentials("u", "p"),
        domain="reg.example",
        clock=lambda: 0.0,
    )
    assert token.value == "abc" and 3500 < token.expires_at <= 3600
    params = seen[0].url.params
    assert params.get_list("scope") == ["repository:x:pull,push", "repository:y:pull"]
    assert params["service"] == "reg" and params["account"] == "u"
    assert seen[0].headers["authorization"].startswith("Basic ")


def test_short_lived_tokens_live_a_minute_and_refusals_are_authentication_errors() -> None:
    challenge = Challenge(scheme="bearer", realm="https://auth.example/token")
    token = fetch_token(
        token_server(200, b'{"token": "t"}', []), challenge, (), None, domain="r", clock=lambda: 0.0
    )
    assert token.expires_at > 50
    with pytest.raises(AuthenticationError, match="refused the credentials of 'u'"):
        fetch_token(token_server(401, b"", []), challenge, (), Credentials("u", "bad"), domain="r")
