"""The resolver of a build's FROM and COPY --from images: the local store first, a registry by pull policy
(`never`, `missing`, `always`), each pull reported as a build step."""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from slipway.choices import PullPolicy
from slipway.errors import ImageNotFound, RegistryError
from slipway.frontend.convert import BaseImage
from slipway.image.oci import Digest, ImageConfig
from slipway.image.platforms import format_platform, image_platform, parse_platform, runs_on
from slipway.image.reference import parse_reference
from slipway.progress.events import Discard, EventSink, step
from slipway.store import Store

if TYPE_CHECKING:
    from slipway.registry.options import RegistryOptions

__all__ = ["StoreResolver"]


class StoreResolver(msgspec.Struct, frozen=True):
    """Answers FROM and COPY --from image references from the local store, pulling them by `pull` policy
    (with `config_only`, an image to evaluate, not to build: from its registry only its config is fetched)."""

    store: Store
    pull: PullPolicy = "never"
    registry: RegistryOptions | None = None
    events: EventSink | None = None
    config_only: bool = False

    def resolve(self, ref: str, platform: str) -> BaseImage:
        if self.pull == "always":
            try:
                image = self._pull(ref, platform)
            except RegistryError as err:
                raise RegistryError(f"cannot check {ref} for a newer version (--pull): {err}") from err
        else:
            image = self._local(ref, platform)
        try:
            name = ref if ref.startswith("sha256:") else str(parse_reference(ref))
        except Exception:  # an image ID: keep it as written
            name = ref
        return BaseImage(ref=name, manifest_digest=image[0], config=image[1])

    def _local(self, ref: str, platform: str) -> tuple[Digest, ImageConfig]:
        try:
            image = self.store.images.resolve(ref, parse_platform(platform))
            return image.manifest_digest, image.config
        except ImageNotFound as err:
            if self.pull == "never":
                other = self._other_platform(ref)
                if other is not None:
                    # As BuildKit: the base is used, the build checks warn (InvalidBaseImagePlatform) and the
                    # converter refuses a RUN on it, whose programs are not the build platform's.
                    return other
                raise ImageNotFound(
                    f"image {ref!r} is not in the local store and the pull policy is never; get it with "
                    f"`slipway pull {ref}`, `slipway load -i FILE` or `slipway import ROOTFS.tar {ref}`"
                ) from err
        try:
            return self._pull(ref, platform)
        except RegistryError as err:
            raise ImageNotFound(
                f"image {ref!r} is not in the local store, and pulling it failed: {err}"
            ) from err

    def _other_platform(self, ref: str) -> tuple[Digest, ImageConfig] | None:
        try:
            image = self.store.images.resolve(ref)
        except ImageNotFound:
            return None
        return image.manifest_digest, image.config

    def _pull(self, ref: str, platform: str) -> tuple[Digest, ImageConfig]:
        from slipway.registry.options import RegistryOptions
        from slipway.registry.pull import fetch_image_config, pull_image  # httpx: only when pulling

        options = self.registry or RegistryOptions()
        name = f"[internal] load metadata for {parse_reference(ref)}"
        with step(self.events or Discard(), f"pull:{ref}", name) as pulling:
            if self.config_only:
                found = fetch_image_config(self.store, ref, platform=platform, options=options)
            else:
                image = pull_image(self.store, ref, platform=platform, options=options, on_event=pulling.log)
                found = image.manifest_digest, image.config
        actual = image_platform(found[1])
        if not runs_on(actual, parse_platform(platform)):
            # docker pulls such an image with a warning; a build on it would be another platform's image.
            raise ImageNotFound(
                f"image {ref!r} in its registry is for {format_platform(actual)} only, not for {platform}"
            )
        return found
