"""A cold multi-stage build does the build stage's work and no more: the stage the image does not ship (the seed's
`go build` stage) is run and cached, but its snapshots are never tarred, measured, compressed or written as a
blob, by the build, by a rebuild that hits the cache, or by an export of the image. Counted, never timed."""

from __future__ import annotations

import os
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from tests.integration.conftest import Slipway, make_context

import slipway
from slipway.export import image as export_image
from sync_counts import SyncCounts

pytestmark = pytest.mark.root

# The seed's shape: a build stage writing a cache of many files beside its one product, a final stage copying
# only the product.
DOCKERFILE = """\
FROM busybox:test AS build
WORKDIR /src
RUN mkdir -p /root/cache && for i in $(seq 1 60); do head -c 4096 /dev/urandom > /root/cache/$i; done \\
    && echo hello > /bin/hello
FROM scratch
COPY --from=build /bin/hello /bin/hello
"""


@dataclass
class LayerWork:
    """The trees the image exporter measured or packed (and the blobs it compressed), by snapshot path."""

    measured: list[Path] = field(default_factory=list)
    packed: list[Path] = field(default_factory=list)
    compressed: int = 0


@pytest.fixture
def layer_work(monkeypatch: pytest.MonkeyPatch) -> Iterator[LayerWork]:
    work = LayerWork()
    real_measure, real_pack, real_compress = (
        export_image.measure_tree,
        export_image.pack_layer,
        export_image.compress_layer,
    )

    def measure(path: Path) -> Any:
        work.measured.append(Path(path))
        return real_measure(path)

    def pack(path: Path, *args: Any, **kwargs: Any) -> Any:
        work.packed.append(Path(path))
        return real_pack(path, *args, **kwargs)

    def compress(*args: Any, **kwargs: Any) -> Any:
        work.compressed += 1
        return real_compress(*args, **kwargs)

    monkeypatch.setattr(export_image, "measure_tree", measure)
    monkeypatch.setattr(export_image, "pack_layer", pack)
    monkeypatch.setattr(export_image, "compress_layer", compress)
    yield work


def blob_names(root: Path) -> set[str]:
    return {"sha256:" + name for name in os.listdir(root / "blobs" / "sha256")}


def snapshot_trees(root: Path) -> set[Path]:
    return {path / "fs" for path in (root / "snapshots").iterdir() if path.name.isdigit()}


def test_the_build_stage_is_never_tarred_measured_or_written(
    own_store: Slipway, tmp_path: Path, layer_work: LayerWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    context = make_context(tmp_path / "context", DOCKERFILE)
    blobs_before, trees_before = blob_names(own_store.root), snapshot_trees(own_store.root)
    syncs = SyncCounts(monkeypatch)
    with slipway.Store.open(own_store.root) as store:
        built = slipway.build(context, tags=["stage-layers:1"], store=store)

    assert built.image is not None and len(built.image.layers) == 1
    made = snapshot_trees(own_store.root) - trees_before
    shipped = [tree for tree in made if os.listdir(tree) == ["bin"]]
    cache = [tree for tree in made if (tree / "root" / "cache").is_dir()]  # the build stage's RUN
    assert len(shipped) == 1 and len(cache) == 1 and len(os.listdir(cache[0] / "root" / "cache")) == 60
    # Only the shipped layer was measured (once); nothing was packed or compressed.
    assert layer_work.measured == shipped and layer_work.packed == [] and layer_work.compressed == 0
    # The new blobs are the image's config and manifest: no layer blob, none of the build stage's.
    assert blob_names(own_store.root) - blobs_before == {built.image.id, built.image.manifest_digest}
    # One syncfs per tree the build wrote (the base's unpack syncs its own way), each in the background: no
    # unmount synced the file system on a step's way (the overlays are volatile). Four fsyncs: the config and
    # the manifest, each blob and its directory; none per layer or per file.
    written = made - {tree for tree in made if (tree / "bin" / "busybox").exists()}
    assert sorted(syncs.syncfs) == sorted(written) and len(written) == 3 and syncs.fsyncs == 4


def test_a_rebuild_and_an_export_pack_only_the_shipped_layer(
    own_store: Slipway, tmp_path: Path, layer_work: LayerWork
) -> None:
    context = make_context(tmp_path / "context", DOCKERFILE)
    with slipway.Store.open(own_store.root) as store:
        first = slipway.build(context, tags=["stage-layers:2"], store=store)
        cold = list(layer_work.measured)
        blobs_built = blob_names(own_store.root)
        again = slipway.build(context, tags=["stage-layers:2"], store=store)
        assert again.image_id == first.image_id
        assert layer_work.measured == cold and layer_work.packed == []  # all cached: nothing measured again
        assert blob_names(own_store.root) == blobs_built

        archive = tmp_path / "image.tar"
        slipway.build(context, tags=["stage-layers:2"], output=f"type=docker,dest={archive}", store=store)
    # The docker archive needs the shipped layer's bytes: that one tree is packed, the build stage's never.
    assert layer_work.packed == cold and layer_work.measured == cold
    with tarfile.open(archive) as saved:
        names = saved.getnames()
    assert "manifest.json" in names
