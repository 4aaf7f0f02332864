"""What `convert` is given: its options, and the resolver that says what a base image is."""

from __future__ import annotations

from typing import Protocol

import msgspec

from slipway.choices import DEFAULT_PLATFORM
from slipway.frontend.named_contexts import NamedContext
from slipway.graph.run_limits import RunLimits
from slipway.image.oci import Digest, ImageConfig


class BaseImage(msgspec.Struct, frozen=True):
    ref: str  # normalized reference as the store knows it
    manifest_digest: Digest
    config: (
        ImageConfig  # the base image's full config (env, cmd, history, onbuild triggers, rootfs.diff_ids ...)
    )


class ImageResolver(Protocol):
    """Answers what an image reference is, for FROM and COPY --from / RUN --mount from=<image>."""

    def resolve(self, ref: str, platform: str) -> BaseImage: ...  # ImageNotFound; `ref` as written, expanded


class ConvertOptions(msgspec.Struct, frozen=True):
    dockerfile: str = "Dockerfile"  # the path shown in errors and step names
    target: str | None = None  # --target (stage name, case-insensitive)
    build_args: tuple[tuple[str, str], ...] = ()  # --build-arg K=V
    labels: tuple[tuple[str, str], ...] = ()  # --label K=V, applied to the target's config
    target_platform: str = DEFAULT_PLATFORM
    build_platform: str = DEFAULT_PLATFORM
    network: str = "default"  # --network: default for RUNs without --network
    exclude: tuple[str, ...] = ()  # .dockerignore patterns, carried into ContextSource.exclude
    entitlements: frozenset[str] = frozenset()  # --allow: what steps may be granted (choices.ENTITLEMENTS)
    show_platform: bool = False  # step names start with the stage's platform (a build for several platforms)
    run_limits: RunLimits | None = None  # --add-host, --shm-size, --ulimit: every RUN's
    named_contexts: tuple[NamedContext, ...] = ()  # --build-context
    context_epoch: int | None = None  # the build context's own date (SOURCE_DATE_EPOCH=context); None: local
