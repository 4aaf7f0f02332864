"""Deferred layers: a built layer is measured, not written; its blob is packed from its snapshot when first read,
exactly as measured, and never when nobody reads it."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest
from _store_images import add_image, commit_files, snapshot_id_of, written_tree

from slipway.errors import StoreError
from slipway.image.layers import LayerInfo, measure_tree, pack_layer
from slipway.image.oci import MEDIA_OCI_LAYER
from slipway.store import SnapshotRecord, Store


def blob_files(store: Store) -> set[str]:
    return {"sha256:" + path.name for path in (store.root / "blobs" / "sha256").iterdir()}


def built_snapshot(store: Store, files: dict[str, bytes]) -> tuple[SnapshotRecord, LayerInfo]:
    """A committed snapshot holding `files`, its layer deferred as the image exporter defers it."""
    snapshot = commit_files(store.snapshots, files)
    info = measure_tree(snapshot.path)
    store.snapshots.set_layer(snapshot.id, info, deferred=True)
    return store.snapshots.get(snapshot.id), info


def test_measure_tree_gives_what_pack_layer_would_write(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "file").write_bytes(b"x" * 70_000)
    (tmp_path / "link").symlink_to("dir/file")
    packed = io.BytesIO()
    written = pack_layer(tmp_path, packed, compression="none")
    measured = measure_tree(tmp_path)
    assert measured == written
    assert (
        measured.descriptor.digest
        == measured.diff_id
        == "sha256:" + hashlib.sha256(packed.getvalue()).hexdigest()
    )
    assert measured.descriptor.media_type == MEDIA_OCI_LAYER


def test_a_deferred_layer_is_written_only_when_read(store: Store) -> None:
    _, info = built_snapshot(store, {"app/hello": b"hello\n" * 1000})
    image = add_image(store.images, [info], ["built"])
    digest = info.descriptor.digest
    assert digest not in blob_files(store)
    assert store.blobs.has(digest)
    assert store.check() == []

    with store.blobs.open(digest) as blob:
        data = blob.read()
    assert "sha256:" + hashlib.sha256(data).hexdigest() == digest
    assert len(data) == info.descriptor.size
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert tar.extractfile("app/hello").read() == b"hello\n" * 1000  # type: ignore[union-attr]
    assert digest in blob_files(store)
    assert store.images.resolve("built").id == image.id
    assert store.check() == []


def test_gc_keeps_a_deferred_layer_while_an_image_needs_it(store: Store) -> None:
    snapshot, info = built_snapshot(store, {"kept": b"k" * 5000})
    image = add_image(store.images, [info], ["kept"])
    store.gc()
    assert store.blobs.has(info.descriptor.digest)
    assert store.blobs.read(info.descriptor.digest)
    store.images.remove(image)
    store.gc()
    assert not store.blobs.has(info.descriptor.digest)
    assert not snapshot.path.exists()
    assert blob_files(store) == set()
    assert store.check() == []


def test_a_snapshot_changed_after_the_build_is_refused_and_leaves_no_blob(store: Store) -> None:
    snapshot, info = built_snapshot(store, {"file": b"original"})
    add_image(store.images, [info], ["built"])
    (snapshot.path / "file").write_bytes(b"tampered")
    with pytest.raises(StoreError, match=rf"snapshot {snapshot.id} .* no longer packs to it"):
        store.blobs.read(info.descriptor.digest)
    assert (
        blob_files(store) - {store.images.resolve("built").manifest_digest, store.images.resolve("built").id}
        == set()
    )


def test_only_a_committed_snapshot_can_defer_its_layer(store: Store) -> None:
    plan = store.snapshots.prepare("step", None)
    (written_tree(plan) / "file").write_bytes(b"data")
    with pytest.raises(StoreError, match="committed"):
        store.snapshots.set_layer(snapshot_id_of(plan), measure_tree(written_tree(plan)), deferred=True)


def test_a_deferred_layer_streams_into_an_archive_without_touching_the_disk(store: Store) -> None:
    _, info = built_snapshot(store, {"big": bytes(range(256)) * 4000, "dir/small": b"s"})
    digest, size = info.descriptor.digest, info.descriptor.size
    with store.blobs.stream(digest, size) as stream:
        data = b"".join(iter(lambda: stream.read(7000), b""))
    assert len(data) == size
    assert "sha256:" + hashlib.sha256(data).hexdigest() == digest
    assert digest not in blob_files(store)


def test_a_stream_of_a_changed_snapshot_fails_at_its_end(store: Store) -> None:
    snapshot, info = built_snapshot(store, {"file": b"a" * 10_000})
    (snapshot.path / "file").write_bytes(b"a" * 20_000)  # more than recorded: the packer must not hang
    with (
        pytest.raises(StoreError, match="no longer packs to it"),
        store.blobs.stream(info.descriptor.digest, info.descriptor.size) as stream,
    ):
        while stream.read(4096):
            pass
    (snapshot.path / "file").write_bytes(b"b" * 10_000)  # same size, other bytes
    with (
        pytest.raises(StoreError, match="no longer packs to it"),
        store.blobs.stream(info.descriptor.digest, info.descriptor.size) as stream,
    ):
        while stream.read(4096):
            pass
