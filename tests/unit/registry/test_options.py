from __future__ import annotations

from pathlib import Path

import pytest

from slipway.errors import UsageError
from slipway.registry.options import RegistryOptions, api_host, read_insecure_registries


@pytest.mark.parametrize(
    ("domain", "insecure"),
    [
        ("localhost", True),
        ("localhost:5000", True),
        ("127.0.0.1:5000", True),
        ("127.1.2.3", True),
        ("[::1]:5000", True),
        ("registry.example:5000", True),
        ("ghcr.io", False),
        ("10.0.0.1:5000", False),
        ("docker.io", False),
    ],
)
def test_plain_http_only_for_loopback_and_listed_hosts(domain: str, insecure: bool) -> None:
    options = RegistryOptions(insecure_registries=("registry.example:5000",))
    assert options.is_insecure(domain) is insecure


def test_docker_hub_api_host() -> None:
    assert api_host("docker.io") == "registry-1.docker.io"
    assert api_host("localhost:5000") == "localhost:5000"


def test_registries_file(tmp_path: Path) -> None:
    path = tmp_path / "registries.json"
    assert read_insecure_registries(path) == ()
    path.write_text('{"insecure-registries": ["a:5000", "b"]}')
    assert read_insecure_registries(path) == ("a:5000", "b")
    path.write_text("[1]")
    with pytest.raises(UsageError, match="insecure-registries"):
        read_insecure_registries(path)
