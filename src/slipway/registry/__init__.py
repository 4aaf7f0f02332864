"""slipway.registry: the OCI distribution client: pull, push, login and logout, as Docker does them."""

from slipway.registry.client import RegistryClient
from slipway.registry.credentials import Credentials, DockerConfig
from slipway.registry.login import login, logout
from slipway.registry.options import RegistryOptions, RetryPolicy, read_insecure_registries
from slipway.registry.platforms import format_platform, host_platform, parse_platform, select_manifest
from slipway.registry.pull import fetch_image_config, pull_image
from slipway.registry.push import push_image
from slipway.store import REGISTRIES_FILE

__all__ = [
    "REGISTRIES_FILE",
    "Credentials",
    "DockerConfig",
    "RegistryClient",
    "RegistryOptions",
    "RetryPolicy",
    "fetch_image_config",
    "format_platform",
    "host_platform",
    "login",
    "logout",
    "parse_platform",
    "pull_image",
    "push_image",
    "read_insecure_registries",
    "select_manifest",
]
