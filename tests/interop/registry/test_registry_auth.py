"""Authentication as Docker does it, against real registries: htpasswd basic auth, and a bearer-token challenge
whose tokens a test token server signs; `slipway login`/`logout` writing Docker's config.json, which skopeo reads."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from _registry_images import make_image
from _registry_servers import (
    PASSWORD,
    USER,
    Registry,
    TokenIssuer,
    TokenServer,
    htpasswd_auth,
    running_registry,
    running_token_server,
    skopeo_inspect,
    token_auth,
)

from slipway.errors import AuthenticationError
from slipway.registry import Credentials, RegistryOptions, login, logout, pull_image, push_image
from slipway.store import Store

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def basic_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    directory = tmp_path_factory.mktemp("basic-registry")
    with running_registry(directory, htpasswd_auth(directory)) as server:
        yield server


@pytest.fixture(scope="module")
def token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Registry, TokenServer]]:
    directory = tmp_path_factory.mktemp("token-registry")
    issuer = TokenIssuer.create(directory)
    with (
        running_token_server(issuer) as tokens,
        running_registry(directory, token_auth(issuer, tokens.realm)) as server,
    ):
        yield server, tokens


def slipway(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "slipway", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_cli_login_writes_docker_config_that_skopeo_uses_and_logout_removes_it(
    basic_registry: Registry, tmp_path: Path, repository: str
) -> None:
    config_dir = tmp_path / "docker"
    env = {"PATH": "/usr/bin:/bin", "DOCKER_CONFIG": str(config_dir), "HOME": str(tmp_path)}
    if "PYTHONPATH" in os.environ:  # the slipway under test, not whichever one is installed
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    root = str(tmp_path / "root")

    wrong = slipway(
        env, "--root", root, "login", "-u", USER, "--password-stdin", basic_registry.host, stdin="wrong\n"
    )
    assert wrong.returncode == 1
    assert f"refused the credentials of '{USER}'" in wrong.stderr and "Traceback" not in wrong.stderr
    assert not (config_dir / "config.json").exists()

    right = slipway(
        env,
        "--root",
        root,
        "login",
        "-u",
        USER,
        "--password-stdin",
        basic_registry.host,
        stdin=PASSWORD + "\n",
    )
    assert right.returncode == 0, right.stderr
    assert right.stdout.strip() == "Login Succeeded"
    config = json.loads((config_dir / "config.json").read_text())
    assert config == {
        "auths": {basic_registry.host: {"auth": base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}}
    }
    assert stat.S_IMODE((config_dir / "config.json").stat().st_mode) == 0o600

    with Store.open(tmp_path / "root") as store:
        image = make_image(store, tmp_path / "image", "app:v1", busybox=False)
    pushed = slipway(env, "--root", root, "push", "app:v1", f"{basic_registry.host}/{repository}:v1")
    assert pushed.returncode == 0, pushed.stderr
    seen = skopeo_inspect(
        f"{basic_registry.host}/{repository}:v1", "--authfile", str(config_dir / "config.json")
    )
    assert seen["Digest"] == image.manifest_digest

    out = slipway(env, "--root", root, "logout", basic_registry.host)
    assert (
        out.returncode == 0 and out.stdout.strip() == f"Removing login credentials for {basic_registry.host}"
    )
    assert json.loads((config_dir / "config.json").read_text()) == {"auths": {}}
    refused = slipway(
        env, "--root", str(tmp_path / "other-root"), "pull", f"{basic_registry.host}/{repository}:v1"
    )
    assert refused.returncode == 1
    assert f"authentication required; run `slipway login {basic_registry.host}`" in refused.stderr


def test_basic_auth_pull_and_push_with_stored_credentials(
    basic_registry: Registry, store: Store, options: RegistryOptions, repository: str, tmp_path: Path
) -> None:
    image = make_image(store, tmp_path / "image", None, busybox=False)
    name = f"{basic_registry.host}/{repository}:v1"
    with pytest.raises(AuthenticationError, match="authentication required"):
        push_image(store, image, name, options=options)
    login(basic_registry.host, Credentials(USER, PASSWORD), options=options)
    assert push_image(store, image, name, options=options) == image.manifest_digest
    with Store.open(tmp_path / "second") as second:
        assert pull_image(second, name, options=options).id == image.id
    assert logout(basic_registry.host, options=options) is True
    assert logout(basic_registry.host, options=options) is False


def test_bearer_tokens_are_fetched_per_scope_and_reused(
    token_registry: tuple[Registry, TokenServer],
    store: Store,
    options: RegistryOptions,
    repository: str,
    tmp_path: Path,
) -> None:
    registry, tokens = token_registry
    login(registry.host, Credentials(USER, PASSWORD), options=options)
    image = make_image(store, tmp_path / "image", None, busybox=False, random_sizes=(10, 20, 30))
    name = f"{registry.host}/{repository}:v1"
    tokens.requests.clear()
    push_image(store, image, name, options=options)
    # One token for the whole push (four blobs, a manifest): repository:NAME:pull,push, reused.
    assert tokens.requests == [(USER, (f"repository:{repository}:pull,push",))]

    tokens.requests.clear()
    with Store.open(tmp_path / "second") as second:
        assert pull_image(second, name, options=options).manifest_digest == image.manifest_digest
    assert tokens.requests == [(USER, (f"repository:{repository}:pull",))]


def test_bearer_mount_asks_for_both_repositories(
    token_registry: tuple[Registry, TokenServer],
    store: Store,
    options: RegistryOptions,
    repository: str,
    tmp_path: Path,
) -> None:
    registry, tokens = token_registry
    login(registry.host, Credentials(USER, PASSWORD), options=options)
    image = make_image(store, tmp_path / "image", None, busybox=False)
    push_image(store, image, f"{registry.host}/{repository}/a:v1", options=options)
    tokens.requests.clear()
    events: list[str] = []
    push_image(store, image, f"{registry.host}/{repository}/b:v1", options=options, on_event=events.append)
    assert any(line.endswith(f"Mounted from {repository}/a") for line in events)
    assert (
        USER,
        (f"repository:{repository}/a:pull", f"repository:{repository}/b:pull,push"),
    ) in tokens.requests


def test_bearer_access_token_field_and_refusals(
    token_registry: tuple[Registry, TokenServer],
    store: Store,
    options: RegistryOptions,
    repository: str,
    tmp_path: Path,
) -> None:
    registry, tokens = token_registry
    image = make_image(store, tmp_path / "image", None, busybox=False)
    name = f"{registry.host}/{repository}:v1"
    with pytest.raises(
        AuthenticationError, match=f"{registry.host}/{repository}:v1: .*authentication required"
    ):
        push_image(store, image, name, options=options)  # anonymous: the token grants nothing
    with pytest.raises(AuthenticationError, match=f"refused the credentials of '{USER}'"):
        login(registry.host, Credentials(USER, "wrong"), options=options)
    assert not (tmp_path / "docker-config" / "config.json").exists()

    tokens.field_name = "access_token"
    try:
        login(registry.host, Credentials(USER, PASSWORD), options=options)
        assert push_image(store, image, name, options=options) == image.manifest_digest
    finally:
        tokens.field_name = "token"
