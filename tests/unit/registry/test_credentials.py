from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

import pytest

from slipway.errors import RegistryError
from slipway.registry.credentials import DOCKER_HUB_SERVER, Credentials, DockerConfig, credential_key


@pytest.mark.parametrize(
    ("server", "key"),
    [
        ("docker.io", DOCKER_HUB_SERVER),
        ("index.docker.io", DOCKER_HUB_SERVER),
        ("https://index.docker.io/v1/", DOCKER_HUB_SERVER),
        ("registry-1.docker.io", DOCKER_HUB_SERVER),
        ("localhost:5000", "localhost:5000"),
        ("https://ghcr.io/v2/", "ghcr.io"),
    ],
)
def test_credential_keys_as_docker_files_them(server: str, key: str) -> None:
    assert credential_key(server) == key


def test_store_writes_docker_format_with_mode_0600_and_keeps_other_keys(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"psFormat": "table {{.ID}}", "auths": {"other:1": {}}}))
    config = DockerConfig(tmp_path)
    config.store("docker.io", Credentials("alice", "pa:ss"))
    written = json.loads((tmp_path / "config.json").read_text())
    assert written["auths"][DOCKER_HUB_SERVER] == {"auth": "YWxpY2U6cGE6c3M="}
    assert written["psFormat"] == "table {{.ID}}" and "other:1" in written["auths"]
    assert stat.S_IMODE((tmp_path / "config.json").stat().st_mode) == 0o600
    assert config.get("index.docker.io") == Credentials("alice", "pa:ss")
    assert config.erase("docker.io") is True
    assert config.get("docker.io") is None
    assert config.erase("docker.io") is False


def test_keys_with_scheme_are_found_by_host(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(
        json.dumps({"auths": {"https://reg.example:5000/v1/": {"auth": "dTpw"}}})
    )
    assert DockerConfig(tmp_path).get("reg.example:5000") == Credentials("u", "p")
    assert DockerConfig(tmp_path / "missing").get("reg.example:5000") is None


def test_bad_config_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(RegistryError, match="not a valid Docker config"):
        DockerConfig(tmp_path).get("x")


HELPER = """#!{python}
import json, sys, pathlib
store = pathlib.Path({store!r})
data = json.loads(store.read_text()) if store.exists() else {{}}
verb = sys.argv[1]
text = sys.stdin.read()
if verb == "store":
    entry = json.loads(text)
    data[entry["ServerURL"]] = [entry["Username"], entry["Secret"]]
elif verb == "get":
    if text.strip() not in data:
        print("credentials not found in native keychain"); sys.exit(1)
    user, secret = data[text.strip()]
    print(json.dumps({{"ServerURL": text.strip(), "Username": user, "Secret": secret}}))
elif verb == "erase":
    if text.strip() not in data:
        print("credentials not found in native keychain"); sys.exit(1)
    del data[text.strip()]
store.write_text(json.dumps(data))
"""


@pytest.fixture
def helper_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    store = tmp_path / "helper-store.json"
    for name in ("testhelper", "otherhelper"):
        program = bin_dir / f"docker-credential-{name}"
        program.write_text(HELPER.format(python=sys.executable, store=str(store) + "." + name))
        program.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    return store


def test_creds_store_and_cred_helpers(tmp_path: Path, helper_store: Path) -> None:
    config_dir = tmp_path / "docker"
    config_dir.mkdir()
    (config_dir / "config.json").write_text(
        json.dumps({"credsStore": "testhelper", "credHelpers": {"special.example": "otherhelper"}})
    )
    config = DockerConfig(config_dir)
    config.store("localhost:5000", Credentials("bob", "secret"))
    config.store("special.example", Credentials("carol", "other"))
    written = json.loads((config_dir / "config.json").read_text())
    assert written["auths"] == {
        "localhost:5000": {},
        "special.example": {},
    }  # secrets are in the helpers only
    assert json.loads(Path(f"{helper_store}.testhelper").read_text()) == {"localhost:5000": ["bob", "secret"]}
    assert json.loads(Path(f"{helper_store}.otherhelper").read_text()) == {
        "special.example": ["carol", "other"]
    }
    assert config.get("localhost:5000") == Credentials("bob", "secret")
    assert config.get("special.example") == Credentials("carol", "other")
    assert config.get("nobody.example") is None
    assert config.erase("localhost:5000") is True
    assert config.get("localhost:5000") is None


def test_missing_helper_is_named(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"credsStore": "no-such-helper-here"}))
    with pytest.raises(RegistryError, match="docker-credential-no-such-helper-here"):
        DockerConfig(tmp_path).get("localhost:5000")
