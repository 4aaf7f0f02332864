"""`slipway.pull` and `slipway.push`, and the registry settings every caller resolves the same way.

slipway.registry (and httpx, ~0.2 s to import) loads only when a registry is really reached.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from slipway._api.settings import DOCKER_CONFIG_VARIABLE, registry_options
from slipway._api.stores import Image, Store, image_of, opened
from slipway.image.oci import Digest

__all__ = ["DOCKER_CONFIG_VARIABLE", "pull", "push", "registry_options"]


def pull(
    name: str,
    *,
    platform: str | None = None,
    insecure_registries: Sequence[str] = (),
    on_progress: Callable[[str], None] | None = None,
    store: Store | None = None,
) -> Image:
    """Pull `name` (as `slipway pull`) for `platform` (os/arch[/variant], default this machine's) into the
    store; the image pulled. `on_progress` receives the lines `slipway pull` prints."""
    from slipway.registry import RegistryOptions, format_platform, host_platform, pull_image

    with opened(store) as room:
        options = registry_options(room.root, insecure_registries) or RegistryOptions()
        record = pull_image(
            room,
            name,
            platform=platform or format_platform(host_platform()),
            options=options,
            on_event=on_progress,
        )
        return image_of(record)


def push(
    name: str,
    destination: str | None = None,
    *,
    insecure_registries: Sequence[str] = (),
    on_progress: Callable[[str], None] | None = None,
    store: Store | None = None,
) -> Digest:
    """Push the store's image `name` to its registry, as `destination` if given (as `slipway push`); the
    manifest digest the registry now holds."""
    from slipway.export.image import distributable
    from slipway.registry import RegistryOptions, push_image

    with opened(store) as room:
        options = registry_options(room.root, insecure_registries) or RegistryOptions()
        image = distributable(room, room.images.resolve(name))
        return push_image(room, image, destination or name, options=options, on_event=on_progress)
