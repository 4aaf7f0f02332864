"""--ssh's grammar (docker buildx's)."""

from __future__ import annotations

import os

import pytest

from slipway.errors import SecretError
from slipway.session.ssh import parse_ssh


def test_parse_ssh() -> None:
    assert parse_ssh("default", {"SSH_AUTH_SOCK": "/run/agent.sock"})[:2] == ("default", ("/run/agent.sock",))
    assert parse_ssh("work=/a/key,/b/key", {})[:2] == ("work", ("/a/key", "/b/key"))
    assert parse_ssh("=/a/sock", {})[:2] == ("default", ("/a/sock",))
    assert parse_ssh("gh=rel/key", {}).paths == (os.path.abspath("rel/key"),)
    assert parse_ssh("gh", {"SSH_AUTH_SOCK": "/s"}).paths == ("/s",)


def test_ssh_without_an_agent_says_what_to_set() -> None:
    with pytest.raises(SecretError, match="make sure SSH_AUTH_SOCK is set"):
        parse_ssh("default", {})
