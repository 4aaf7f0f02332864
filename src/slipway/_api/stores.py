"""`slipway.Store` and `slipway.Image`: a store opened by root, and read-only views of its images.

The public Store is a thin face on slipway.store.Store: it hands out `Image` values, not the store's parts
(blobs, snapshots, cache records ...), so those can change without breaking a caller. The verbs
(`slipway.build`, `run`, `pull` ...) take one with `store=`, or open the default root for the call.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from slipway._api.settings import RUNTIME_VARIABLE, runtime_for
from slipway.image.oci import ContainerConfig, DiffID, Digest, History, ImageConfig
from slipway.store import ROOT_VARIABLE, default_root
from slipway.store import Store as StoreRoom
from slipway.store.records import ImageRecord

__all__ = ["RUNTIME_VARIABLE", "Image", "Layer", "Store", "image_of", "opened", "runtime_for"]


@dataclass(frozen=True, slots=True)
class Layer:
    """One layer of an image, bottom first: its blob and the digest of its uncompressed tar."""

    digest: Digest  # of the blob, as the manifest lists it
    diff_id: DiffID  # of the uncompressed tar, as the config's rootfs lists it
    media_type: str
    size: int  # the blob's bytes


@dataclass(frozen=True, slots=True)
class Image:
    """An image of the store, as `slipway inspect` shows it; a value: it does not change if the store does."""

    id: Digest  # the config's digest, as Docker's image ID
    names: tuple[str, ...]  # normalized ("docker.io/library/golang:1.24"), sorted
    size: int  # unpacked bytes, the SIZE of `slipway images`
    created: str  # RFC 3339, "" when the config has none
    manifest_digest: Digest
    config: ImageConfig  # the OCI image config: platform, rootfs, history
    layers: tuple[Layer, ...]

    @property
    def container_config(self) -> ContainerConfig:
        """What a container from the image starts with: Env, Cmd, Entrypoint, WorkingDir, User, Labels ..."""
        return self.config.config

    @property
    def history(self) -> tuple[History, ...]:
        """One entry per Dockerfile step (and per step of its base images), oldest first."""
        return self.config.history


def image_of(record: ImageRecord) -> Image:
    layers = tuple(
        Layer(
            digest=descriptor.digest, diff_id=diff_id, media_type=descriptor.media_type, size=descriptor.size
        )
        for descriptor, diff_id in zip(record.manifest.layers, record.config.rootfs.diff_ids, strict=True)
    )
    return Image(
        id=record.id,
        names=record.names,
        size=record.size,
        created=record.created,
        manifest_digest=record.manifest_digest,
        config=record.config,
        layers=layers,
    )


class Store:
    """The images under one store root, as `slipway --root ROOT` sees them.

    `Store.open()` opens the root the command line would use (`$SLIPWAY_ROOT`, else /var/lib/slipway as
    root, else $XDG_DATA_HOME/slipway); close it with `close()` or a `with` block. Several processes, and
    several Stores in one process, may have a root open at once.
    """

    __slots__ = ("_room",)

    def __init__(self, room: StoreRoom) -> None:
        self._room = room  # use Store.open

    @classmethod
    def open(cls, root: str | os.PathLike[str] | None = None) -> Store:
        explicit = os.fspath(root) if root is not None else os.environ.get(ROOT_VARIABLE)
        return cls(StoreRoom.open(default_root(explicit)))

    @property
    def root(self) -> Path:
        return self._room.root

    def image(self, ref: str) -> Image:
        """The image `ref` names: a name[:tag], name@digest, an image ID or an unambiguous ID prefix.
        slipway.errors.ImageNotFound if none."""
        return image_of(self._room.images.resolve(ref))

    def images(self) -> tuple[Image, ...]:
        """Every image of the store, newest first."""
        return tuple(image_of(record) for record in self._room.images.list())

    def close(self) -> None:
        """Idempotent."""
        self._room.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"slipway.Store({str(self.root)!r})"


@contextmanager
def opened(store: Store | None) -> Iterator[StoreRoom]:
    """The store room behind `store`, or the default root's, opened for the block and closed after it."""
    if store is not None:
        yield store._room
        return
    with Store.open() as own:
        yield own._room
