"""Docker's credential configuration: `config.json` (`auths`, `credsStore`, `credHelpers`) and credential helpers.

Files written here are read by `docker` and `skopeo` and the other way round, so the format is Docker's exactly:
`{"auths": {"host": {"auth": base64("user:pass")}}}`, mode 0600, Docker Hub under "https://index.docker.io/v1/".
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from slipway.errors import RegistryError
from slipway.registry.options import DOCKER_HUB_ALIASES

DOCKER_HUB_SERVER = "https://index.docker.io/v1/"
HELPER_TIMEOUT_SECONDS = 60


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: str = field(repr=False)


class _AuthEntry(msgspec.Struct, frozen=True):
    auth: str = ""
    username: str = ""
    password: str = ""


class _ConfigView(msgspec.Struct, frozen=True, rename="camel"):
    """The keys of config.json this module reads; the others are kept untouched when writing."""

    auths: dict[str, _AuthEntry] = {}
    creds_store: str = ""
    cred_helpers: dict[str, str] = {}


class _HelperCredentials(msgspec.Struct, frozen=True, rename="pascal"):
    server_url: str = msgspec.field(default="", name="ServerURL")
    username: str = ""
    secret: str = ""


def credential_key(server: str) -> str:
    """The key Docker files a server's credentials under: Docker Hub's legacy URL, else the bare host[:port]."""
    host = hostname(server)
    return DOCKER_HUB_SERVER if host in DOCKER_HUB_ALIASES else host


def hostname(server: str) -> str:
    """Docker's ConvertToHostname: "https://host:5000/v1/" -> "host:5000"."""
    for prefix in ("http://", "https://"):
        if server.startswith(prefix):
            server = server[len(prefix) :]
            break
    return server.split("/", 1)[0]


class DockerConfig:
    """Credentials in a Docker config directory (`$DOCKER_CONFIG`, default ~/.docker)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / "config.json"

    def get(self, server: str) -> Credentials | None:
        key = credential_key(server)
        helper = self._helper_for(key)
        if helper:
            return _helper_get(helper, key)
        view = self._view()
        entry = view.auths.get(key)
        if entry is None:
            # Keys written by older clients carry a scheme or path ("https://host/v1/"): match on the host.
            entry = next((e for k, e in view.auths.items() if credential_key(k) == key), None)
        return None if entry is None else _decode_entry(entry, key, self.path)

    def store(self, server: str, credentials: Credentials) -> None:
        key = credential_key(server)
        helper = self._helper_for(key)
        raw = self._raw()
        auths = raw.setdefault("auths", {})
        if not isinstance(auths, dict):
            raise RegistryError(f'{self.path}: "auths" is not an object; fix or remove the file')
        if helper:
            _helper_run(
                helper,
                "store",
                json.dumps(
                    {"ServerURL": key, "Username": credentials.username, "Secret": credentials.password}
                ),
            )
            auths[key] = {}  # as Docker does: the entry says a helper holds the secret
        else:
            token = base64.b64encode(f"{credentials.username}:{credentials.password}".encode()).decode()
            auths[key] = {"auth": token}
        self._write(raw)

    def erase(self, server: str) -> bool:
        """Forgets the server's credentials; False when none were stored."""
        key = credential_key(server)
        helper = self._helper_for(key)
        raw = self._raw()
        auths = raw.get("auths")
        removed = False
        if isinstance(auths, dict):
            for name in [k for k in auths if credential_key(k) == key]:
                del auths[name]
                removed = True
        if helper:
            removed = _helper_erase(helper, key) or removed
        if removed:
            self._write(raw)
        return removed

    def _helper_for(self, key: str) -> str:
        view = self._view()
        return view.cred_helpers.get(key) or view.creds_store

    def _read(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as err:
            raise RegistryError(f"cannot read {self.path}: {err.strerror}") from err

    def _view(self) -> _ConfigView:
        data = self._read()
        if not data or not data.strip():
            return _ConfigView()
        try:
            return msgspec.json.decode(data, type=_ConfigView)
        except msgspec.DecodeError as err:
            raise RegistryError(
                f"{self.path} is not a valid Docker config file ({err}); fix or remove it"
            ) from err

    def _raw(self) -> dict[str, object]:
        data = self._read()
        if not data or not data.strip():
            return {}
        self._view()  # validates the keys this module understands
        raw = json.loads(data)
        if not isinstance(raw, dict):
            raise RegistryError(f"{self.path} is not a JSON object; fix or remove it")
        return raw

    def _write(self, raw: dict[str, object]) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = self.path.with_name(f".config.json.{os.getpid()}.tmp")
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                json.dump(raw, out, indent="\t")
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
        except OSError as err:
            raise RegistryError(f"cannot write {self.path}: {err.strerror}") from err
        finally:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()


def _decode_entry(entry: _AuthEntry, key: str, path: Path) -> Credentials | None:
    if entry.auth:
        try:
            username, _, password = base64.b64decode(entry.auth, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError) as err:
            raise RegistryError(
                f"{path}: the auth of {key} is not base64 of user:password; log in again"
            ) from err
        return Credentials(username, password)
    if entry.username:
        return Credentials(entry.username, entry.password)
    return None


def _helper_argv(helper: str, verb: str) -> list[str]:
    program = f"docker-credential-{helper}"
    path = shutil.which(program)
    if path is None:
        raise RegistryError(
            f"credential helper {program} (from the Docker config) is not on PATH; install it "
            "or remove credsStore/credHelpers from config.json"
        )
    return [path, verb]


def _helper_run(helper: str, verb: str, stdin: str) -> subprocess.CompletedProcess[str]:
    argv = _helper_argv(helper, verb)
    try:
        completed = subprocess.run(
            argv, input=stdin, capture_output=True, text=True, timeout=HELPER_TIMEOUT_SECONDS, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise RegistryError(f"docker-credential-{helper} {verb} failed: {err}") from err
    if completed.returncode != 0 and not _not_found(completed):
        output = (completed.stdout + completed.stderr).strip()
        raise RegistryError(f"docker-credential-{helper} {verb} exited {completed.returncode}: {output}")
    return completed


def _not_found(completed: subprocess.CompletedProcess[str]) -> bool:
    # The helpers' protocol: "credentials not found in native keychain" on stdout, non-zero exit.
    return completed.returncode != 0 and "credentials not found" in (completed.stdout + completed.stderr)


def _helper_get(helper: str, key: str) -> Credentials | None:
    completed = _helper_run(helper, "get", key)
    if _not_found(completed):
        return None
    try:
        found = msgspec.json.decode(completed.stdout.encode(), type=_HelperCredentials)
    except msgspec.DecodeError as err:
        raise RegistryError(f"docker-credential-{helper} get printed no valid credentials: {err}") from err
    return Credentials(found.username, found.secret)


def _helper_erase(helper: str, key: str) -> bool:
    return not _not_found(_helper_run(helper, "erase", key))
