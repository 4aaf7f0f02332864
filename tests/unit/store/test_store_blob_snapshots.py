"""Snapshots.record_layers: an imported chain as committed snapshots that are only their layer blobs, unpacked
once, in place, when something first reads a tree."""

from __future__ import annotations

from pathlib import Path

import pytest
from _store_images import make_layer
from test_store_snapshot_for_layers import Fetcher, files_in

from slipway.errors import DigestMismatch
from slipway.image.layers import LayerInfo
from slipway.image.oci import DiffID
from slipway.store import Store


def trees(store: Store) -> list[str]:
    return sorted(entry.name for entry in (store.root / "snapshots").iterdir() if (entry / "fs").is_dir())


def test_recorded_layers_are_committed_snapshots_without_trees(store: Store, tmp_path: Path) -> None:
    layers = [
        make_layer(store.blobs, tmp_path, {"base": b"b"}),
        make_layer(store.blobs, tmp_path, {"app": b"a"}),
    ]

    top = store.snapshots.record_layers(layers)

    assert top is not None and top.committed and not top.unpacked
    assert [snapshot.diff_id for snapshot in store.snapshots.chain(top.id)] == [
        layer.diff_id for layer in layers
    ]
    assert trees(store) == []
    assert store.check() == []
    # Shared by chain id like unpacked ones: an image with these layers gets the same snapshot.
    assert store.snapshots.unpack_layers(layers) == top

    view = store.snapshots.view(top.id)

    assert [files_in(snapshot) for snapshot in store.snapshots.chain(top.id)] == [
        {"base": b"b"},
        {"app": b"a"},
    ]
    assert list(view.lowers) == [snapshot.path for snapshot in store.snapshots.chain(top.id)]
    assert store.snapshots.unpacked(top.id).unpacked
    assert len(trees(store)) == 2


def test_a_tree_left_by_a_crashed_unpack_is_redone(store: Store, tmp_path: Path) -> None:
    layer = make_layer(store.blobs, tmp_path, {"file": b"content"})
    top = store.snapshots.record_layers([layer])
    assert top is not None
    top.path.mkdir(parents=True)  # as a process killed mid-unpack leaves it: the row still says "blob"
    (top.path / "half").write_bytes(b"partial")

    assert files_in(store.snapshots.unpacked(top.id)) == {"file": b"content"}


def test_a_cache_record_keeps_a_blob_snapshot_and_its_blob_through_gc(store: Store, tmp_path: Path) -> None:
    layer = make_layer(store.blobs, tmp_path, {"kept": b"yes"})
    top = store.snapshots.record_layers([layer])
    assert top is not None
    store.cache.record("step-key", top.id)

    store.gc()

    assert store.cache.lookup("step-key") == top
    assert files_in(store.snapshots.unpacked(top.id)) == {"kept": b"yes"}


def test_a_blob_that_is_not_its_diff_id_records_nothing(store: Store, tmp_path: Path) -> None:
    source = Store.open(tmp_path / "source")
    with source:
        real = make_layer(source.blobs, tmp_path, {"file": b"content"})
        lying = LayerInfo(
            DiffID("sha256:" + "0" * 64), real.descriptor, uncompressed_size=real.uncompressed_size
        )

        with pytest.raises(DigestMismatch):
            store.snapshots.record_layers([lying], fetch=Fetcher(source, store))
        assert store.images.layer(lying.diff_id) is None
        # No snapshot claims the lying chain: asking again checks again.
        with pytest.raises(DigestMismatch):
            store.snapshots.record_layers([lying], fetch=Fetcher(source, store))


def test_check_reports_a_blob_snapshot_whose_blob_is_gone(store: Store, tmp_path: Path) -> None:
    """Its tree can no longer be made: `system check` says so before a build or `run` trips on it."""
    layer = make_layer(store.blobs, tmp_path, {"file": b"content"})
    top = store.snapshots.record_layers([layer])
    assert top is not None and store.check() == []

    (store.root / "blobs" / "sha256" / layer.descriptor.digest.split(":", 1)[1]).unlink()

    problems = store.check()
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"missing blob {layer.descriptor.digest}: the layer of snapshot {top.id}")


def test_check_counts_every_blob_of_a_layer_as_used(store: Store, tmp_path: Path) -> None:
    """A layer kept uncompressed and pushed gzipped has two blobs for one diff_id: neither is an orphan."""
    import gzip

    import msgspec

    from slipway.image.oci import MEDIA_OCI_LAYER_GZIP, Descriptor

    layer = make_layer(store.blobs, tmp_path, {"file": b"content"})
    top = store.snapshots.record_layers([layer])
    assert top is not None
    with store.blobs.open(layer.descriptor.digest) as plain:
        packed = gzip.compress(plain.read(), mtime=0)
    digest = store.blobs.put(packed)
    gzipped = msgspec.structs.replace(
        layer, descriptor=Descriptor(media_type=MEDIA_OCI_LAYER_GZIP, digest=digest, size=len(packed))
    )
    with store._meta.transaction() as tx:  # as a push records the blob it made
        tx.put_layer(gzipped)

    assert store.check() == []
    (store.root / "blobs" / "sha256" / layer.descriptor.digest.split(":", 1)[1]).unlink()
    assert store.check() == []  # the gzipped blob still makes the snapshot's tree
