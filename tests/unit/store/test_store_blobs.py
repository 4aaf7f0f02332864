"""Blobs: content-addressed, verified, never partially visible, safe from many threads."""

from __future__ import annotations

import hashlib
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from slipway.errors import BlobNotFound, DigestMismatch, StoreError
from slipway.image.oci import Digest
from slipway.store import Store


def digest_of(data: bytes) -> Digest:
    return Digest("sha256:" + hashlib.sha256(data).hexdigest())


def leftovers(store: Store) -> list[Path]:
    """Files anywhere under <root>/tmp: temp files of ingests that should be gone."""
    return [path for path in (store.root / "tmp").rglob("*") if path.is_file()]


def test_put_then_read_open_and_path(store: Store) -> None:
    digest = store.put_blob(b"hello")
    assert digest == digest_of(b"hello")
    assert store.has_blob(digest)
    assert store.read_blob(digest) == b"hello"
    with store.open_blob(digest) as blob:
        assert blob.read() == b"hello"
    path = store.blob_path(digest)
    assert path == store.root / "blobs" / "sha256" / digest.removeprefix("sha256:")
    assert not path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)  # blobs never change


def test_put_is_idempotent(store: Store) -> None:
    assert store.put_blob(b"same") == store.put_blob(b"same")
    assert len(list((store.root / "blobs" / "sha256").iterdir())) == 1


def test_put_with_the_wrong_digest_stores_nothing(store: Store) -> None:
    with pytest.raises(DigestMismatch, match=digest_of(b"other")):
        store.put_blob(b"data", expected=digest_of(b"other"))
    assert not store.has_blob(digest_of(b"data"))
    assert leftovers(store) == []


def test_missing_blob(store: Store) -> None:
    missing = digest_of(b"never stored")
    assert not store.has_blob(missing)
    for read in (store.blob_path, store.open_blob, store.read_blob):
        with pytest.raises(BlobNotFound, match=missing):
            read(missing)


@pytest.mark.parametrize(
    "digest", ["sha256:../../etc/passwd", "md5:abc", "sha256:" + "A" * 64, "", "sha256:"]
)
def test_a_digest_never_becomes_a_path(store: Store, digest: str) -> None:
    with pytest.raises(StoreError, match="not a sha256 digest"):
        store.has_blob(Digest(digest))


def test_ingest_streams_and_sets_digest_and_size(store: Store) -> None:
    chunks = [os.urandom(1 << 16) for _ in range(20)]
    with store.ingest() as writer:
        for chunk in chunks:
            writer.write(chunk)
        assert writer.digest is None  # not final inside the block
    content = b"".join(chunks)
    assert writer.digest == digest_of(content)
    assert writer.size == len(content)
    assert store.read_blob(writer.digest) == content
    assert leftovers(store) == []


def test_blob_is_invisible_until_the_ingest_ends(store: Store) -> None:
    data = b"partial" * 1000
    with store.ingest(expected=digest_of(data)) as writer:
        writer.write(data[:100])
        assert not store.has_blob(digest_of(data))
        writer.write(data[100:])
        assert not store.has_blob(digest_of(data))
    assert store.has_blob(digest_of(data))


def test_a_failed_ingest_leaves_no_blob_and_no_temp_file(store: Store) -> None:
    data = b"half a layer"
    with pytest.raises(RuntimeError, match="connection lost"), store.ingest() as writer:
        writer.write(data)
        raise RuntimeError("connection lost")
    assert not store.has_blob(digest_of(data))
    assert leftovers(store) == []
    assert list((store.root / "blobs" / "sha256").iterdir()) == []


def test_ingest_interrupted_by_ctrl_c_leaves_nothing(store: Store) -> None:
    with pytest.raises(KeyboardInterrupt), store.ingest() as writer:
        writer.write(b"data")
        raise KeyboardInterrupt
    assert leftovers(store) == []
    assert list((store.root / "blobs" / "sha256").iterdir()) == []


def test_ingest_digest_mismatch(store: Store) -> None:
    expected = digest_of(b"what the registry promised")
    with pytest.raises(DigestMismatch, match=expected), store.ingest(expected=expected) as writer:
        writer.write(b"what it sent")
    assert not store.has_blob(digest_of(b"what it sent"))
    assert not store.has_blob(expected)
    assert leftovers(store) == []


def test_ingest_size_mismatch(store: Store) -> None:
    data = b"short"
    with (
        pytest.raises(DigestMismatch, match="5 bytes, expected 10"),
        store.ingest(expected_size=10) as writer,
    ):
        writer.write(data)
    assert not store.has_blob(digest_of(data))


def test_write_after_the_block_is_refused(store: Store) -> None:
    with store.ingest() as writer:
        writer.write(b"x")
    with pytest.raises(ValueError):
        writer.write(b"y")


def test_temp_files_live_in_the_store_tmp_dir(store: Store) -> None:
    with store.ingest() as writer:
        writer.write(b"x")
        assert len(leftovers(store)) == 1


def test_many_threads_put_and_ingest_at_once(store: Store) -> None:
    payloads = [b"blob %d " % (index % 40) * (index % 7 + 1) * 1000 for index in range(200)]

    def put(index: int) -> Digest:
        if index % 2:
            return store.put_blob(payloads[index])
        with store.ingest(expected=digest_of(payloads[index])) as writer:
            for offset in range(0, len(payloads[index]), 4096):
                writer.write(payloads[index][offset : offset + 4096])
        assert writer.digest is not None
        return writer.digest

    with ThreadPoolExecutor(max_workers=8) as pool:
        digests = list(pool.map(put, range(len(payloads))))
    for digest, payload in zip(digests, payloads, strict=True):
        assert store.read_blob(digest) == payload
    assert len(set(digests)) == len(list((store.root / "blobs" / "sha256").iterdir()))
    assert leftovers(store) == []
