"""slipway.registry: the OCI distribution client: pull, push, login and logout, as Docker does them; and the
resolver of a build's FROM images (the store, then a registry by pull policy).

Names load on first use: the client brings httpx (about 0.2 s to import), which only a build or a command that
reaches a registry pays for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from slipway._lazy import lazy_attributes
from slipway.store import REGISTRIES_FILE

if TYPE_CHECKING:
    from slipway.image.platforms import format_platform, host_platform, parse_platform, select_manifest
    from slipway.registry._login import login, logout
    from slipway.registry.client import RegistryClient
    from slipway.registry.credentials import Credentials, DockerConfig
    from slipway.registry.options import RegistryOptions, RetryPolicy, read_insecure_registries
    from slipway.registry.pull import fetch_image_config, pull_image
    from slipway.registry.push import push_image, push_index
    from slipway.registry.resolver import StoreResolver

__all__ = [
    "REGISTRIES_FILE",
    "Credentials",
    "DockerConfig",
    "RegistryClient",
    "RegistryOptions",
    "RetryPolicy",
    "StoreResolver",
    "fetch_image_config",
    "format_platform",
    "host_platform",
    "login",
    "logout",
    "parse_platform",
    "pull_image",
    "push_image",
    "push_index",
    "read_insecure_registries",
    "select_manifest",
]

_LAZY = {
    "RegistryClient": "slipway.registry.client",
    "Credentials": "slipway.registry.credentials",
    "DockerConfig": "slipway.registry.credentials",
    "login": "slipway.registry._login",
    "logout": "slipway.registry._login",
    "RegistryOptions": "slipway.registry.options",
    "RetryPolicy": "slipway.registry.options",
    "read_insecure_registries": "slipway.registry.options",
    "format_platform": "slipway.image.platforms",
    "host_platform": "slipway.image.platforms",
    "parse_platform": "slipway.image.platforms",
    "select_manifest": "slipway.image.platforms",
    "fetch_image_config": "slipway.registry.pull",
    "pull_image": "slipway.registry.pull",
    "push_image": "slipway.registry.push",
    "push_index": "slipway.registry.push",
    "StoreResolver": "slipway.registry.resolver",
}

__getattr__ = lazy_attributes(__name__, _LAZY)
