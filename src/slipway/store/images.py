"""Images: records of manifests and configs, their names, and the layer blobs they are made of.

Words: an *image* is identified by its config digest (Docker's image ID) and recorded with its manifest; a
*name* ("docker.io/library/golang:1.24") points at one image at a time; a *layer record* says which diff_id
(uncompressed content) a layer blob holds. Lifecycle: `add` stores the config and manifest blobs, records the
layers and names in one transaction, and needs every layer blob in the content store first; a name moves
with `tag` or `add` and goes with `untag`; `remove` forgets the record and its names (and the memos that
answer with it), never blobs or snapshots: gc collects what no image needs any more.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Protocol

import msgspec

from slipway.errors import DigestMismatch, ImageNotFound, SlipwayError, StoreError
from slipway.image.layers import LayerInfo, measure_layer
from slipway.image.oci import (
    Descriptor,
    DiffID,
    Digest,
    ImageConfig,
    Manifest,
    Platform,
    decode_json,
    encode_json,
)
from slipway.image.platforms import format_platform, host_platform, image_platform, select_image
from slipway.store._syncs import Syncs
from slipway.store.blobs import ContentStore
from slipway.store.meta import ImageRow, MetaDB, Transaction
from slipway.store.names import find_image, tag_name
from slipway.store.records import ImageRecord
from slipway.store.space import SpaceReserve

__all__ = ["ImageStore", "Images", "image_record"]


class ImageStore(Protocol):
    """Image records, names and layer records (see the module docstring for the lifecycle)."""

    def add(
        self,
        manifest: Manifest,
        config: ImageConfig,
        names: Sequence[str] = (),
        *,
        manifest_digest: Digest | None = None,
        replace_platforms: bool = False,
        measured: Sequence[LayerInfo] = (),
    ) -> ImageRecord: ...

    # a name, an ID or prefix, name@digest (for a name, its image for `platform`); ImageNotFound
    def resolve(self, ref: str, platform: Platform | None = None) -> ImageRecord: ...

    def members(self, name: str) -> builtins.list[ImageRecord]: ...  # a name's images, one per platform

    def set_members(
        self, name: str, images: Sequence[ImageRecord]
    ) -> None: ...  # exactly these, the 1st shown

    def list(self) -> builtins.list[ImageRecord]: ...  # newest first

    def tag(self, image: ImageRecord, name: str) -> None: ...

    def untag(
        self, name: str, image: ImageRecord | None = None
    ) -> ImageRecord | None: ...  # see Images.untag

    def remove(self, image: ImageRecord) -> None: ...  # ImageNotFound if gone already

    def record_layer(self, info: LayerInfo) -> None: ...

    def layer(self, diff_id: DiffID) -> LayerInfo | None: ...  # a layer blob in the store with this diff_id

    def layers(self, diff_id: DiffID) -> builtins.list[LayerInfo]: ...  # all of them, oldest first


class Images:
    """The image records of one store root."""

    def __init__(
        self,
        meta: MetaDB,
        blobs: ContentStore,
        reserve: SpaceReserve,
        syncs: Syncs,
        lease: Callable[[], AbstractContextManager[None]],
    ) -> None:
        self._meta = meta
        self._blobs = blobs
        self._reserve = reserve
        self._syncs = syncs
        self._lease = lease  # the store's gc lease: what `add` puts stays until the record points at it

    def add(
        self,
        manifest: Manifest,
        config: ImageConfig,
        names: Sequence[str] = (),
        *,
        manifest_digest: Digest | None = None,
        replace_platforms: bool = False,
        measured: Sequence[LayerInfo] = (),
    ) -> ImageRecord:
        """Store the config and manifest blobs, record the layers' diff_ids and tag `names`, in one transaction.

        Every layer blob must be in the store already (StoreError otherwise). A name that pointed at another
        image moves; the old image stays, untagged. A name holds one image per platform: it keeps its images of
        other platforms (busybox pulled for arm64 and for amd64 is both), unless `replace_platforms` (a build:
        its result is all the name holds). To keep digests of images from outside byte-exact, put the
        original config (and manifest) bytes in the content store first: a config blob already stored under
        `manifest.config.digest` is used as is, and `manifest_digest` names the stored manifest blob.
        `measured`: layers the caller measured as it wrote their blobs (a pull, a load), recorded in the same
        transaction instead of read back; a layer neither measured nor recorded before is read and measured.
        """
        self._syncs.publish()  # the image points at its snapshots' chains: their trees are on disk first
        tags = [tag_name(name) for name in names]
        diff_ids = config.rootfs.diff_ids
        if len(manifest.layers) != len(diff_ids):
            raise StoreError(
                f"image {manifest.config.digest}: the manifest lists {len(manifest.layers)} layers but the config "
                f"has {len(diff_ids)} diff_ids; the image is inconsistent"
            )
        missing = [layer.digest for layer in manifest.layers if not self._blobs.has(layer.digest)]
        if missing:
            raise StoreError(
                f"image {manifest.config.digest}: layer blobs {', '.join(missing)} are not in the store; "
                "put every layer blob before adding the image"
            )
        with self._lease():
            config_bytes = self._config_blob(manifest.config, config)
            manifest_bytes, digest = self._manifest_blob(manifest, manifest_digest)
            given = {info.descriptor.digest: info for info in measured}
            layers = [
                self._layer_info(layer, diff_id, given.get(layer.digest))
                for layer, diff_id in zip(manifest.layers, diff_ids, strict=True)
            ]
            row = ImageRow(
                id=manifest.config.digest,
                manifest_digest=digest,
                manifest=manifest_bytes,
                config=config_bytes,
                created=config.created or "",
                size=sum(info.shown_size for info in layers),
                names=(),
            )
            return image_record(self._put(row, layers, tags, replace_platforms))

    def _put(
        self, row: ImageRow, layers: builtins.list[LayerInfo], tags: builtins.list[str], replace: bool
    ) -> ImageRow:
        with self._meta.transaction() as tx:
            previous = tx.image(row.id)
            for info in layers:
                tx.put_layer(info)
            tx.put_image(row)
            for tag in tags:
                _name_image(tx, tag, row, replace=replace)
            stored = tx.image(row.id)
            old_manifest = previous.manifest_digest if previous is not None else row.manifest_digest
            if old_manifest != row.manifest_digest and not tx.images_by_manifest(old_manifest):
                # The same image under a new manifest (its layers compressed for a push): the old
                # manifest blob names nothing any more.
                self._blobs.remove(old_manifest)
        assert stored is not None
        return stored

    def resolve(self, ref: str, platform: Platform | None = None) -> ImageRecord:
        """A name ("golang:1.24"), a full or unique-prefix image ID ("sha256:ab12...", "ab12"), or
        "name@sha256:<manifest digest>"; ImageNotFound naming `ref` otherwise. With `platform`, a name
        answers with its image that runs there (the exact variant first), never another platform's."""
        name = _name_in(ref.strip())
        with self._meta.snapshot() as tx:
            row = find_image(tx, ref.strip())
            members = tx.name_members(name) if row is not None and name and platform is not None else []
        if row is None:
            raise ImageNotFound(f"no image {ref!r} in the store; `slipway images` lists the images there")
        if platform is None:
            return image_record(row)
        named = members or [row]
        chosen = select_image(named, platform, lambda m: image_platform(m.decoded()[1]))
        if chosen is None:
            have = ", ".join(sorted({format_platform(image_platform(m.decoded()[1])) for m in named}))
            raise ImageNotFound(
                f"image {ref!r} is in the store for {have}, not for {format_platform(platform)}; pull or load "
                f"it for that platform (slipway pull --platform {format_platform(platform)} {ref})"
            )
        return image_record(chosen)

    def members(self, name: str) -> builtins.list[ImageRecord]:
        """The images `name` holds, one per platform, the one it shows first; [] for no such name."""
        with self._meta.snapshot() as tx:
            rows = tx.name_members(tag_name(name))
        return [image_record(row) for row in rows]

    def set_members(self, name: str, images: Sequence[ImageRecord]) -> None:
        """`name` holds exactly `images` (a multi-platform build's), and shows the first."""
        tag = tag_name(name)
        with self._meta.transaction() as tx:
            tx.delete_name(tag)
            for image in reversed(images):
                tx.set_name(tag, image.id)

    def list(self) -> builtins.list[ImageRecord]:
        """Newest first, as `docker images` orders them."""
        with self._meta.snapshot() as tx:
            rows = tx.images()
        return [image_record(row) for row in rows]

    def tag(self, image: ImageRecord, name: str) -> None:
        tag = tag_name(name)
        with self._meta.transaction() as tx:
            row = tx.image(image.id)
            if row is None:
                raise ImageNotFound(f"cannot tag {image.id} as {tag}: the image is no longer in the store")
            _name_image(tx, tag, row, replace=False)

    def untag(self, name: str, image: ImageRecord | None = None) -> ImageRecord | None:
        """Remove a name (with every platform's image it held); the image it showed (without it), or None if
        no image had that name. With `image`: only that image leaves the name, which keeps its others."""
        tag = tag_name(name)
        with self._reserve.for_cleanup(), self._meta.transaction() as tx:
            if image is not None:
                tx.drop_member(tag, image.id)
                image_id: str | None = image.id
            else:
                image_id = tx.delete_name(tag)
            row = tx.image(image_id) if image_id else None
        return image_record(row) if row else None

    def remove(self, image: ImageRecord) -> None:
        """The record and its names; blobs and snapshots go at gc."""
        with self._reserve.for_cleanup(), self._meta.transaction() as tx:
            if not tx.delete_image(image.id):
                raise ImageNotFound(f"cannot remove image {image.id}: it is not in the store")

    def record_layer(self, info: LayerInfo) -> None:
        with self._meta.transaction() as tx:
            tx.put_layer(info)

    def layer(self, diff_id: DiffID) -> LayerInfo | None:
        """A recorded layer blob with this diff_id that is in the store (the first recorded, if several)."""
        found = self.layers(diff_id)
        return found[0] if found else None

    def layers(self, diff_id: DiffID) -> builtins.list[LayerInfo]:
        """Every recorded layer blob with this diff_id that is in the store (deferred ones too), oldest first."""
        with self._meta.snapshot() as tx:
            candidates = tx.layers_by_diff_id(diff_id)
        return [info for info in candidates if self._blobs.has(info.descriptor.digest)]

    def _config_blob(self, descriptor: Descriptor, config: ImageConfig) -> bytes:
        if self._blobs.has(descriptor.digest):
            data = self._blobs.read(descriptor.digest)
            if decode_json(data, ImageConfig) != config:
                raise DigestMismatch(
                    f"the config blob {descriptor.digest} in the store is not the image config given to add"
                )
        else:
            data = encode_json(config)
            self._blobs.put(data, expected=descriptor.digest)
        if len(data) != descriptor.size:
            raise DigestMismatch(
                f"the manifest says config {descriptor.digest} is {descriptor.size} bytes; it is {len(data)}"
            )
        return data

    def _manifest_blob(self, manifest: Manifest, digest: Digest | None) -> tuple[bytes, Digest]:
        if digest is None:
            data = encode_json(manifest)
            return data, self._blobs.put(data)
        data = self._blobs.read(digest)
        try:
            stored = decode_json(data, Manifest)
        except msgspec.DecodeError as err:
            raise DigestMismatch(f"the blob {digest} given as the manifest is not a manifest: {err}") from err
        if stored != manifest:
            raise DigestMismatch(f"the manifest blob {digest} in the store is not the manifest given to add")
        return data, digest

    def _layer_info(self, descriptor: Descriptor, diff_id: DiffID, known: LayerInfo | None) -> LayerInfo:
        if known is not None and known.descriptor.size != descriptor.size:
            raise DigestMismatch(
                f"layer {descriptor.digest} is {known.descriptor.size} bytes; the manifest says {descriptor.size}"
            )
        if known is None:
            with self._meta.snapshot() as tx:
                known = tx.layer(descriptor.digest)
        if known is None:
            with self._blobs.open(descriptor.digest) as blob:
                size = os.fstat(blob.fileno()).st_size
                if size != descriptor.size:
                    raise DigestMismatch(
                        f"layer {descriptor.digest} is {size} bytes; the manifest says {descriptor.size}"
                    )
                measured, uncompressed_size, content_size = measure_layer(blob, descriptor.media_type)
            known = LayerInfo(
                diff_id=measured,
                descriptor=Descriptor(
                    media_type=descriptor.media_type, digest=descriptor.digest, size=descriptor.size
                ),
                uncompressed_size=uncompressed_size,
                content_size=content_size,
            )
        if known.diff_id != diff_id:
            raise DigestMismatch(
                f"layer {descriptor.digest} unpacks to {known.diff_id}, but the image config says {diff_id}"
            )
        return known


def image_record(row: ImageRow) -> ImageRecord:
    manifest, config = row.decoded()
    return ImageRecord(
        id=row.id,
        manifest_digest=row.manifest_digest,
        manifest=manifest,
        config=config,
        names=row.names,
        created=row.created,
        size=row.size,
    )


def _name_image(tx: Transaction, name: str, row: ImageRow, *, replace: bool) -> None:
    """`name` shows `row`; unless `replace`, it keeps its images of other platforms, and then goes on
    showing its image for this machine, if it has one (as docker picks the host's image of an index)."""
    platform = image_platform(row.decoded()[1])
    native = None
    for member in tx.name_members(name):
        if member.id == row.id:
            continue
        member_platform = image_platform(member.decoded()[1])
        if replace or member_platform == platform:
            tx.drop_member(name, member.id)
        elif member_platform == host_platform():
            native = member
    tx.set_name(name, row.id)
    if native is not None and platform != host_platform():
        tx.set_name(name, native.id)


def _name_in(ref: str) -> str | None:
    """The stored name `ref` would be, or None when it is not a name (an ID, name@digest)."""
    try:
        return tag_name(ref)
    except SlipwayError:
        return None
