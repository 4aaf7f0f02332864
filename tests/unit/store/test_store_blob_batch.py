"""Blob batches: many blobs written (from several threads), verified, invisible until the batch ends, then all
placed with one sync of their bytes and one of the blobs directory; nothing of a failed batch stays."""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from slipway.errors import DigestMismatch, StoreError
from slipway.image.oci import Digest
from slipway.store import Store
from slipway.worker import snapshots as worker_snapshots
from sync_counts import SyncCounts


def digest_of(data: bytes) -> Digest:
    return Digest("sha256:" + hashlib.sha256(data).hexdigest())


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "root") as opened:
        yield opened


@pytest.fixture
def syncs(monkeypatch: pytest.MonkeyPatch) -> SyncCounts:
    return SyncCounts(monkeypatch)


def leftovers(store: Store) -> list[str]:
    """Files and directories the store's work dirs hold (a batch's temp files would be there)."""
    return sorted(str(path.relative_to(store.root)) for path in (store.root / "tmp").glob("*/*"))


def test_blobs_of_a_batch_appear_together_after_one_sync_of_each_kind(
    store: Store, syncs: SyncCounts
) -> None:
    contents = [os.urandom(100_000 + n) for n in range(12)]

    def ingest(data: bytes) -> None:
        with batch.ingest(digest_of(data), len(data)) as writer:
            for start in range(0, len(data), 4096):
                writer.write(data[start : start + 4096])

    with store.blobs.batch() as batch, ThreadPoolExecutor(4) as pool:
        list(pool.map(ingest, contents))
        batch.put(b"config", expected=digest_of(b"config"))
        assert not any(store.blobs.has(digest_of(data)) for data in contents)  # invisible until the end
        assert syncs.fsyncs == 0 and not syncs.syncfs

    assert syncs.syncfs == [syncs.syncfs[0]] and syncs.fsyncs == 1  # the data once, the directory once
    for data in [*contents, b"config"]:
        assert store.blobs.read(digest_of(data)) == data
    assert leftovers(store) == []


def test_a_batch_that_fails_leaves_nothing(store: Store, syncs: SyncCounts) -> None:
    with pytest.raises(RuntimeError, match="cut"), store.blobs.batch() as batch:
        batch.put(b"first")
        with batch.ingest() as writer:
            writer.write(b"second, cut short")
            raise RuntimeError("cut")
    assert list(store.blobs.digests()) == []
    assert leftovers(store) == []
    assert syncs.fsyncs == 0 and not syncs.syncfs


def test_a_blob_that_does_not_match_its_digest_fails_the_batch(store: Store) -> None:
    with pytest.raises(DigestMismatch, match=digest_of(b"expected")), store.blobs.batch() as batch:
        batch.put(b"good")
        with batch.ingest(digest_of(b"expected"), 8) as writer:
            writer.write(b"tampered")
    assert list(store.blobs.digests()) == []
    assert leftovers(store) == []


def test_a_failed_sync_places_nothing(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(path: Path) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(worker_snapshots, "sync_filesystem", failing)
    with pytest.raises(StoreError, match="cannot write the blobs to disk"), store.blobs.batch() as batch:
        batch.put(b"data")
    assert list(store.blobs.digests()) == []
    assert leftovers(store) == []


def test_adopting_moves_a_file_once_and_keeps_blobs_already_there(store: Store, syncs: SyncCounts) -> None:
    present = store.blobs.put(b"already")
    fsyncs_before = syncs.fsyncs
    with store.temp_dir("work") as work:
        first, second = work / "a", work / "b"
        first.write_bytes(b"adopted")
        second.write_bytes(b"adopted")
        with store.blobs.batch() as batch:
            batch.adopt(first, digest_of(b"adopted"))
            batch.adopt(second, digest_of(b"adopted"))
            batch.put(b"already", expected=present)
        assert not first.exists()
    assert store.blobs.read(digest_of(b"adopted")) == b"adopted"
    assert sorted(store.blobs.digests()) == sorted([present, digest_of(b"adopted")])
    assert syncs.fsyncs - fsyncs_before == 1
    assert leftovers(store) == []


def test_an_empty_batch_syncs_nothing(store: Store, syncs: SyncCounts) -> None:
    with store.blobs.batch():
        pass
    assert syncs.fsyncs == 0 and not syncs.syncfs


def test_a_batch_writes_each_blob_to_the_disk_as_it_arrives_past_the_page_cache(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one sync at the end waits for the tail only: every whole MiB goes to the disk (O_DIRECT) as soon as
    it is gathered, and only the tail of each blob through the page cache."""
    writes: list[tuple[int, bool]] = []  # (bytes, direct) of each write(2)
    real_write = os.write

    def write(fd: int, data: bytes | memoryview) -> int:
        writes.append((len(data), bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT)))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)
    data = os.urandom((20 << 20) + 517)
    with store.blobs.batch() as batch:
        with batch.ingest(digest_of(data), len(data)) as writer:
            for start in range(0, len(data), 64 << 10):
                writer.write(data[start : start + (64 << 10)])
                if start == 9 << 20:
                    assert writes == [(1 << 20, True)] * 9  # the first 9 MiB went before the blob was done
        assert writes == [(1 << 20, True)] * 20 + [(517, False)]
    assert store.blobs.read(digest_of(data)) == data
