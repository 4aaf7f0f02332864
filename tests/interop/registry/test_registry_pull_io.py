"""What a pull costs the disk, counted: each blob is written once and never read back (its diff_id is measured
as it arrives), and the whole pull syncs its data once and the blobs directory once before the image record."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from _registry_images import make_image
from _registry_servers import Registry

from slipway.image import layers as image_layers
from slipway.registry import RegistryOptions, pull_image, push_image
from slipway.registry import pull as registry_pull
from slipway.store import Store
from slipway.store import images as store_images
from slipway.store.blob_files import BlobFiles, BlobWriter
from sync_counts import SyncCounts

pytestmark = pytest.mark.interop


class DiskCounts(SyncCounts):
    """Syncs, blob files opened for reading (by digest) and layer measures from now on."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        super().__init__(monkeypatch)
        self.opened: Counter[str] = Counter()
        self.measured = 0
        real_open, real_measure = BlobFiles.open, image_layers.measure_layer

        def open_blob(files: BlobFiles, digest: str):  # type: ignore[no-untyped-def]
            self.opened[digest] += 1
            return real_open(files, digest)  # type: ignore[arg-type]

        def measure(*args, **kwargs):  # type: ignore[no-untyped-def]
            self.measured += 1
            return real_measure(*args, **kwargs)

        monkeypatch.setattr(BlobFiles, "open", open_blob)
        for module in (image_layers, registry_pull, store_images):  # each imported it by name
            monkeypatch.setattr(module, "measure_layer", measure)


@pytest.fixture
def pushed(
    registry: Registry, store: Store, options: RegistryOptions, repository: str, tmp_path: Path
) -> str:
    image = make_image(store, tmp_path / "image", "app:v1", random_sizes=(300_000, 200_000, 100_000))
    name = f"{registry.host}/{repository}:v1"
    push_image(store, image, name, options=options)
    return name


@pytest.fixture
def empty_store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "pulled") as opened:
        yield opened


def test_a_pull_writes_each_blob_once_and_syncs_once(
    pushed: str, empty_store: Store, options: RegistryOptions, monkeypatch: pytest.MonkeyPatch
) -> None:
    counts = DiskCounts(monkeypatch)
    image = pull_image(empty_store, pushed, options=options)

    layers = [layer.digest for layer in image.manifest.layers]
    assert len(layers) == 4
    assert len(counts.syncfs) == 1  # every blob's bytes, once
    assert counts.fsyncs == 1  # the blobs directory, once, after the renames
    assert not any(counts.opened[digest] for digest in layers)  # no layer read back from the disk
    assert counts.measured == len(layers)  # each measured once, as it arrived
    for layer, diff_id in zip(image.manifest.layers, image.config.rootfs.diff_ids, strict=True):
        recorded = empty_store.images.layer(diff_id)
        assert recorded is not None and recorded.descriptor.digest == layer.digest
        assert recorded.uncompressed_size > 0
    assert empty_store.check() == []


def test_a_pull_of_layers_already_there_fetches_and_syncs_nothing_more(
    pushed: str, empty_store: Store, options: RegistryOptions, monkeypatch: pytest.MonkeyPatch
) -> None:
    pull_image(empty_store, pushed, options=options)
    counts = DiskCounts(monkeypatch)
    pull_image(empty_store, pushed, options=options)
    assert not counts.syncfs and counts.fsyncs == 0 and counts.measured == 0


def test_a_pull_measures_each_layer_in_its_fetching_thread_in_large_spans(
    registry: Registry,
    store: Store,
    empty_store: Store,
    options: RegistryOptions,
    repository: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    image = make_image(store, tmp_path / "image", "big:v1", random_sizes=(3_000_000, 2_000_000))
    name = f"{registry.host}/{repository}:v1"
    push_image(store, image, name, options=options)
    started: list[str] = []
    writes: list[int] = []
    real_start, real_write = threading.Thread.start, BlobWriter.write

    def start(thread: threading.Thread) -> None:
        started.append(thread.name)
        real_start(thread)

    def write(writer: BlobWriter, data: bytes | memoryview) -> int:
        writes.append(len(data))
        return real_write(writer, data)

    monkeypatch.setattr(threading.Thread, "start", start)
    monkeypatch.setattr(BlobWriter, "write", write)
    pulled = pull_image(empty_store, name, options=options)

    layers = pulled.manifest.layers
    assert len(layers) == 3
    # The pool's threads only: no thread of its own per layer for the measure.
    assert started and all(thread.startswith("slipway-blob") for thread in started)
    assert len(started) <= options.max_parallel
    # Each layer is written in spans of the decompressor's reads (512 KiB, or 1 MiB) rather than in the
    # network's pieces (64 KiB): a handful of writes per MiB.
    total = sum(layer.size for layer in layers)
    assert sum(writes) >= total
    assert len(writes) <= total // (512 << 10) + 4 * len(layers) + 2
