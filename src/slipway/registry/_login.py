"""`docker login` and `docker logout`: prove credentials against the registry, then keep them as Docker does."""

from __future__ import annotations

from slipway.registry.client import RegistryClient
from slipway.registry.credentials import (
    DOCKER_HUB_SERVER,
    Credentials,
    DockerConfig,
    credential_key,
    hostname,
)
from slipway.registry.options import DOCKER_HUB_DOMAIN, RegistryOptions


def login(server: str, credentials: Credentials, *, options: RegistryOptions) -> str:
    """Checks the credentials (GET /v2/ with basic auth, or a token from the realm) and stores them in the Docker
    config (or its credential helper). Returns the key they are filed under. AuthenticationError if refused."""
    with RegistryClient(_domain(server), options=options, credentials=credentials) as client:
        client.check_login()
    DockerConfig(options.config_dir()).store(server, credentials)
    return credential_key(server)


def logout(server: str, *, options: RegistryOptions) -> bool:
    """Forgets the server's credentials; False when there were none."""
    return DockerConfig(options.config_dir()).erase(server)


def _domain(server: str) -> str:
    key = credential_key(server)
    return DOCKER_HUB_DOMAIN if key == DOCKER_HUB_SERVER else hostname(key)
