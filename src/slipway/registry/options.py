"""What a caller decides about registries: which hosts may speak plain HTTP, where credentials live, parallelism."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

import msgspec

from slipway.errors import UsageError

# Docker Hub's names: what users type, and the host that actually serves the distribution API.
DOCKER_HUB_DOMAIN = "docker.io"
DOCKER_HUB_API_HOST = "registry-1.docker.io"
DOCKER_HUB_ALIASES = ("docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """For 429, 5xx and dropped connections: `tries` attempts in all, waiting `backoff` seconds before the second
    and twice as long before each further one, or what Retry-After asks up to `max_delay`."""

    tries: int = 3
    backoff: float = 0.5
    max_delay: float = 10.0


@dataclass(frozen=True, slots=True)
class RegistryOptions:
    insecure_registries: tuple[
        str, ...
    ] = ()  # hosts allowed over plain HTTP besides localhost/127.0.0.0/8/::1
    docker_config: Path | None = None  # the $DOCKER_CONFIG dir (the CLI resolves it; default ~/.docker)
    max_parallel: int = 4
    retry: RetryPolicy = RetryPolicy()

    def config_dir(self) -> Path:
        return self.docker_config if self.docker_config is not None else Path.home() / ".docker"

    def is_insecure(self, domain: str) -> bool:
        """True when `domain` may be reached over plain HTTP (and HTTPS without verification), as Docker allows."""
        host = split_host(domain)
        if host == "localhost" or domain in self.insecure_registries or host in self.insecure_registries:
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False


def api_host(domain: str) -> str:
    """The host:port that serves /v2/ for a reference's domain."""
    return DOCKER_HUB_API_HOST if domain in DOCKER_HUB_ALIASES else domain


def split_host(domain: str) -> str:
    """The host part of "host", "host:port", "[::1]:5000"."""
    if domain.startswith("["):
        return domain[1 : domain.find("]")] if "]" in domain else domain
    if domain.count(":") == 1:
        return domain.split(":", 1)[0]
    return domain


class _RegistriesFile(msgspec.Struct, frozen=True):
    insecure_registries: tuple[str, ...] = msgspec.field(default=(), name="insecure-registries")


def read_insecure_registries(path: Path) -> tuple[str, ...]:
    """`{"insecure-registries": ["host:port", ...]}` (the key of Docker's daemon.json); () when the file is absent."""
    try:
        return msgspec.json.decode(path.read_bytes(), type=_RegistriesFile).insecure_registries
    except FileNotFoundError:
        return ()
    except (OSError, msgspec.DecodeError) as err:
        raise UsageError(f'{path}: {err}; expected {{"insecure-registries": ["host:port"]}}') from err
