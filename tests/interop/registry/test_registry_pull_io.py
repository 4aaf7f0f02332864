"""What a pull costs the disk, counted: each blob is written once and never read back (its diff_id is measured
as it arrives), and the whole pull syncs its data once and the blobs directory once before the image record."""

from __future__ import annotations

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
from slipway.store.blob_files import BlobFiles
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
