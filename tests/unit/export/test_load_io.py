"""What a load costs the disk, counted: each file of the archive is written once into the store's tmp/ and checked
as a layer while it is written; its layers are then moved into place, not copied or read again; and the whole
load syncs its data once and the blobs directory once before the image records."""

from __future__ import annotations

import builtins
import io
import os
import tarfile
from pathlib import Path

import pytest
from _archive_images import add_image

from slipway.export import _extraction
from slipway.export.docker_archive import load_archive, write_docker_archive
from slipway.export.selection import select_images
from slipway.image import _streams
from slipway.store import Store
from sync_counts import SyncCounts

BIG = 256 << 10  # layer files are bigger than this; configs and manifests far smaller


class DiskCounts(SyncCounts):
    """Syncs, archive files checked as layers, and big files under the store opened for reading."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, store_root: Path) -> None:
        super().__init__(monkeypatch)
        self.checked = 0
        self.big_reads: list[str] = []
        real_open, real_facts = builtins.open, _extraction.layer_facts

        def opening(file, mode="r", *args, **kwargs):  # type: ignore[no-untyped-def]
            is_ours = isinstance(file, (str, Path)) and str(file).startswith(str(store_root))
            if is_ours and "r" in mode and os.path.getsize(file) > BIG:
                self.big_reads.append(str(file))
            return real_open(file, mode, *args, **kwargs)

        def facts(stream):  # type: ignore[no-untyped-def]
            self.checked += 1
            return real_facts(stream)

        monkeypatch.setattr(builtins, "open", opening)
        monkeypatch.setattr(io, "open", opening)
        monkeypatch.setattr(_extraction, "layer_facts", facts)


def test_a_load_writes_each_blob_once_and_syncs_once(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layers = [{f"data/{n}.bin": os.urandom(BIG + n)} for n in range(3)]
    image = add_image(store, layers, ["app:1"])
    out = io.BytesIO()
    write_docker_archive(store, select_images(store, ["app:1"]), out)
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as archive:
        files = sum(1 for member in archive if member.isreg())

    with Store.open(tmp_path / "other") as other:
        counts = DiskCounts(monkeypatch, other.root)
        loaded = load_archive(other, io.BytesIO(out.getvalue()), "app.tar")
        monkeypatch.undo()

        assert [item.image.id for item in loaded] == [image.id]
        assert len(counts.syncfs) == 1  # every blob's bytes, once
        assert counts.fsyncs == 1  # the blobs directory, once, after the renames
        assert counts.checked == files  # each file of the archive checked once, as it was extracted
        assert counts.big_reads == []  # no layer read back from the disk
        for layer in image.manifest.layers:
            assert other.blobs.read(layer.digest) == store.blobs.read(layer.digest)
        assert other.check() == []
        assert not list(other.root.glob("tmp/*/*"))


def test_a_load_reads_its_tars_in_large_blocks(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The archive and each layer inside it are read through tarfile's stream mode in blocks of TAR_READ_SIZE
    (64 KiB): with tarfile's own 10 KiB every MiB of a layer took ~100 reads, each a Python call, a bytes
    object and a join, in the thread that also copies the archive."""
    layers = [{"data/big.bin": os.urandom(3 << 20)}, {"data/other.bin": os.urandom(2 << 20)}]
    add_image(store, layers, ["app:1"])
    out = io.BytesIO()
    write_docker_archive(store, select_images(store, ["app:1"]), out)
    reads: list[int] = []
    real_read = _streams.EndGuard.read

    def read(guard: _streams.EndGuard, size: int = -1) -> bytes:
        data = real_read(guard, size)
        reads.append(len(data))
        return data

    monkeypatch.setattr(_streams.EndGuard, "read", read)
    with Store.open(tmp_path / "other") as other:
        load_archive(other, io.BytesIO(out.getvalue()), "app.tar")
    # Every byte passes an end guard twice (the archive's tar, then the layer's tar inside it)...
    tar_bytes = len(out.getvalue()) + sum(len(data) for layer in layers for data in layer.values())
    assert sum(reads) >= tar_bytes
    # ...in blocks of 64 KiB, but for headers and the blocks' ends: far fewer reads than 10 KiB blocks take.
    assert len(reads) < tar_bytes // (32 << 10)
