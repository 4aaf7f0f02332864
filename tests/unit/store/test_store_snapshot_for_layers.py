"""Store.snapshot_for_layers: a chain of layers (a build cache record) as snapshots, fetching only missing blobs."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from _store_images import blob_file, make_layer

from slipway.errors import DigestMismatch
from slipway.image.layers import LayerInfo
from slipway.image.oci import DiffID, chain_ids
from slipway.store import SnapshotRecord, Store


@pytest.fixture
def source(tmp_path: Path) -> Iterator[Store]:
    """Where the blobs are: another store, as a registry would be."""
    with Store.open(tmp_path / "source") as opened:
        yield opened


class Fetcher:
    """Copies a blob from `source` into `target`, as a registry fetch would (verified by digest and size)."""

    def __init__(self, source: Store, target: Store) -> None:
        self.source, self.target = source, target
        self.fetched: list[DiffID] = []

    def __call__(self, layer: LayerInfo) -> None:
        self.fetched.append(layer.diff_id)
        with (
            self.source.blobs.open(layer.descriptor.digest) as blob,
            self.target.blobs.ingest(
                expected=layer.descriptor.digest, expected_size=layer.descriptor.size
            ) as writer,
        ):
            shutil.copyfileobj(blob, writer)


def files_in(snapshot: SnapshotRecord) -> dict[str, bytes]:
    return {
        str(path.relative_to(snapshot.path)): path.read_bytes()
        for path in snapshot.path.rglob("*")
        if path.is_file()
    }


def test_layers_are_fetched_unpacked_and_recorded(store: Store, source: Store, tmp_path: Path) -> None:
    layers = [
        make_layer(source.blobs, tmp_path, {"base": b"b"}),
        make_layer(source.blobs, tmp_path, {"app": b"a"}),
    ]
    fetch = Fetcher(source, store)

    top = store.snapshots.unpack_layers(layers, fetch=fetch)

    assert top is not None and top.committed
    chain = store.snapshots.chain(top.id)
    assert [snapshot.chain_id for snapshot in chain] == list(chain_ids([layer.diff_id for layer in layers]))
    assert [files_in(snapshot) for snapshot in chain] == [{"base": b"b"}, {"app": b"a"}]
    assert fetch.fetched == [layer.diff_id for layer in layers]
    # Recorded: an image exporter finds these very blobs by diff_id.
    assert [store.images.layer(layer.diff_id) for layer in layers] == layers

    assert store.snapshots.unpack_layers(layers, fetch=fetch) == top
    assert len(fetch.fetched) == 2


def test_a_chain_with_a_snapshot_is_not_fetched_again(store: Store, source: Store, tmp_path: Path) -> None:
    base, app = (
        make_layer(source.blobs, tmp_path, {"base": b"b"}),
        make_layer(source.blobs, tmp_path, {"app": b"a"}),
    )
    fetch = Fetcher(source, store)
    bottom = store.snapshots.unpack_layers([base], fetch=fetch)
    assert bottom is not None
    # The blob is gone (as after gc), the snapshot stays: the base layer needs no fetch.
    blob_file(store, base.descriptor.digest).unlink()

    top = store.snapshots.unpack_layers([base, app], fetch=fetch)

    assert top is not None and top.parent == bottom.id
    assert fetch.fetched == [base.diff_id, app.diff_id]


def test_a_blob_in_the_store_is_not_fetched(store: Store, tmp_path: Path) -> None:
    layer = make_layer(store.blobs, tmp_path, {"here": b"already"})

    def refuse(layer: LayerInfo) -> None:
        raise AssertionError(f"fetched {layer.diff_id}")

    top = store.snapshots.unpack_layers([layer], fetch=refuse)

    assert top is not None and files_in(top) == {"here": b"already"}


def test_a_wrong_diff_id_leaves_no_snapshot_and_no_record(
    store: Store, source: Store, tmp_path: Path
) -> None:
    real = make_layer(source.blobs, tmp_path, {"file": b"content"})
    lying = LayerInfo(
        diff_id=DiffID("sha256:" + "0" * 64),
        descriptor=real.descriptor,
        uncompressed_size=real.uncompressed_size,
    )

    with pytest.raises(DigestMismatch):
        store.snapshots.unpack_layers([lying], fetch=Fetcher(source, store))

    assert list((store.root / "snapshots").iterdir()) == []
    assert store.images.layer(lying.diff_id) is None


def test_no_layers_is_the_empty_file_system(store: Store) -> None:
    assert store.snapshots.unpack_layers([]) is None
