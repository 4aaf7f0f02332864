"""Deferred layers: a built layer is measured, not written; its blob is packed from its snapshot when first read,
exactly as measured, and never when nobody reads it."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest
from _store_images import add_image

from slipway.errors import StoreError
from slipway.image.layers import LayerInfo, measure_tree, pack_layer
from slipway.image.oci import MEDIA_OCI_LAYER
from slipway.store import SnapshotRecord, Store


def blob_files(store: Store) -> set[str]:
    return {"sha256:" + path.name for path in (store.root / "blobs" / "sha256").iterdir()}


def built_snapshot(store: Store, files: dict[str, bytes]) -> tuple[SnapshotRecord, LayerInfo]:
    """A committed snapshot holding `files`, its layer deferred as the image exporter defers it."""
    snapshot = store.create_snapshot(None)
    for name, content in files.items():
        path = snapshot.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    store.commit_snapshot(snapshot.id)
    info = measure_tree(snapshot.path)
    store.set_snapshot_layer(snapshot.id, info, deferred=True)
    return store.get_snapshot(snapshot.id), info


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
    image = add_image(store, [info], ["built"])
    digest = info.descriptor.digest
    assert digest not in blob_files(store)
    assert store.has_blob(digest)
    assert store.check() == []

    with store.open_blob(digest) as blob:
        data = blob.read()
    assert "sha256:" + hashlib.sha256(data).hexdigest() == digest
    assert len(data) == info.descriptor.size
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert tar.extractfile("app/hello").read() == b"hello\n" * 1000  # type: ignore[union-attr]
    assert digest in blob_files(store)
    assert store.resolve_image("built").id == image.id
    assert store.check() == []


def test_gc_keeps_a_deferred_layer_while_an_image_needs_it(store: Store) -> None:
    snapshot, info = built_snapshot(store, {"kept": b"k" * 5000})
    image = add_image(store, [info], ["kept"])
    store.gc()
    assert store.has_blob(info.descriptor.digest)
    assert store.read_blob(info.descriptor.digest)
    store.remove_image(image)
    store.gc()
    assert not store.has_blob(info.descriptor.digest)
    assert not snapshot.path.exists()
    assert blob_files(store) == set()
    assert store.check() == []


def test_a_snapshot_changed_after_the_build_is_refused_and_leaves_no_blob(store: Store) -> None:
    snapshot, info = built_snapshot(store, {"file": b"original"})
    add_image(store, [info], ["built"])
    (snapshot.path / "file").write_bytes(b"tampered")
    with pytest.raises(StoreError, match=rf"snapshot {snapshot.id} .* no longer packs to it"):
        store.read_blob(info.descriptor.digest)
    assert (
        blob_files(store) - {store.resolve_image("built").manifest_digest, store.resolve_image("built").id}
        == set()
    )


def test_only_a_committed_snapshot_can_defer_its_layer(store: Store) -> None:
    snapshot = store.create_snapshot(None)
    (snapshot.path / "file").write_bytes(b"data")
    with pytest.raises(StoreError, match="committed"):
        store.set_snapshot_layer(snapshot.id, measure_tree(snapshot.path), deferred=True)


def test_a_deferred_layer_streams_into_an_archive_without_touching_the_disk(store: Store) -> None:
    _, info = built_snapshot(store, {"big": bytes(range(256)) * 4000, "dir/small": b"s"})
    digest, size = info.descriptor.digest, info.descriptor.size
    with store.blob_stream(digest, size) as stream:
        data = b"".join(iter(lambda: stream.read(7000), b""))
    assert len(data) == size
    assert "sha256:" + hashlib.sha256(data).hexdigest() == digest
    assert digest not in blob_files(store)


def test_a_stream_of_a_changed_snapshot_fails_at_its_end(store: Store) -> None:
    snapshot, info = built_snapshot(store, {"file": b"a" * 10_000})
    (snapshot.path / "file").write_bytes(b"a" * 20_000)  # more than recorded: the packer must not hang
    with (
        pytest.raises(StoreError, match="no longer packs to it"),
        store.blob_stream(info.descriptor.digest, info.descriptor.size) as stream,
    ):
        while stream.read(4096):
            pass
    (snapshot.path / "file").write_bytes(b"b" * 10_000)  # same size, other bytes
    with (
        pytest.raises(StoreError, match="no longer packs to it"),
        store.blob_stream(info.descriptor.digest, info.descriptor.size) as stream,
    ):
        while stream.read(4096):
            pass


def test_a_cache_record_waits_for_its_snapshot_to_be_on_disk(tmp_path: Path) -> None:
    from concurrent.futures import Future

    root = tmp_path / "root"
    with Store.open(root) as store:
        snapshot = store.create_snapshot(None)
        synced: Future[None] = Future()
        store.commit_snapshot(snapshot.id, synced=synced)
        store.cache_record("key", snapshot.id)
        assert store.cache_lookup("key") is None  # held: the tree may not be on disk yet
        synced.set_result(None)
    with Store.open(root) as store:
        found = store.cache_lookup("key")
        assert found is not None and found.id == snapshot.id


def test_a_failed_sync_leaves_no_cache_record(tmp_path: Path) -> None:
    from concurrent.futures import Future

    root = tmp_path / "root"
    store = Store.open(root)
    snapshot = store.create_snapshot(None)
    synced: Future[None] = Future()
    store.commit_snapshot(snapshot.id, synced=synced)
    store.cache_record("key", snapshot.id)
    synced.set_exception(OSError(5, "Input/output error"))
    with pytest.raises(OSError, match="Input/output error"):
        store.close()
    with Store.open(root) as reopened:
        assert reopened.cache_lookup("key") is None
