"""The ContentStore contract: blobs by digest, invisible until verified, never changed, safe from many threads."""

from __future__ import annotations

import hashlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from slipway.errors import BlobNotFound, DigestMismatch, StoreError
from slipway.image.oci import Digest
from slipway.store import ContentStore


def digest_of(data: bytes) -> Digest:
    return Digest("sha256:" + hashlib.sha256(data).hexdigest())


def test_put_then_has_read_open_and_list(blobs: ContentStore) -> None:
    digest = blobs.put(b"hello")
    assert digest == digest_of(b"hello")
    assert blobs.has(digest)
    assert blobs.read(digest) == b"hello"
    with blobs.open(digest) as blob:
        assert blob.read() == b"hello"
    assert list(blobs.digests()) == [digest]
    assert blobs.verify(digest)
    assert blobs.deferred(digest) is None


def test_put_is_idempotent(blobs: ContentStore) -> None:
    assert blobs.put(b"same") == blobs.put(b"same")
    assert list(blobs.digests()) == [digest_of(b"same")]


def test_put_with_the_wrong_digest_stores_nothing(blobs: ContentStore) -> None:
    with pytest.raises(DigestMismatch, match=digest_of(b"other")):
        blobs.put(b"data", expected=digest_of(b"other"))
    assert not blobs.has(digest_of(b"data"))
    assert list(blobs.digests()) == []


def test_a_missing_blob(blobs: ContentStore) -> None:
    missing = digest_of(b"never stored")
    assert not blobs.has(missing)
    with pytest.raises(BlobNotFound, match=missing):
        blobs.open(missing)
    with pytest.raises(BlobNotFound, match=missing):
        blobs.read(missing)


@pytest.mark.parametrize(
    "digest", ["sha256:../../etc/passwd", "md5:abc", "sha256:" + "A" * 64, "", "sha256:"]
)
def test_a_digest_never_becomes_a_path(blobs: ContentStore, digest: str) -> None:
    with pytest.raises(StoreError, match="not a sha256 digest"):
        blobs.has(Digest(digest))
    with pytest.raises(StoreError, match="not a sha256 digest"), blobs.ingest(expected=Digest(digest)):
        pass


def test_ingest_streams_and_sets_digest_and_size(blobs: ContentStore) -> None:
    chunks = [os.urandom(1 << 16) for _ in range(20)]
    with blobs.ingest() as writer:
        for chunk in chunks:
            writer.write(chunk)
        assert writer.digest is None  # not final inside the block
    content = b"".join(chunks)
    assert writer.digest == digest_of(content)
    assert writer.size == len(content)
    assert blobs.read(writer.digest) == content


def test_a_blob_is_invisible_until_verified(blobs: ContentStore) -> None:
    data = b"partial" * 1000
    with blobs.ingest(expected=digest_of(data), expected_size=len(data)) as writer:
        writer.write(data[:100])
        assert not blobs.has(digest_of(data))
        writer.write(data[100:])
        assert not blobs.has(digest_of(data))  # all written, not yet checked
        assert list(blobs.digests()) == []
    assert blobs.has(digest_of(data))


@pytest.mark.parametrize("interruption", [RuntimeError("connection lost"), KeyboardInterrupt()])
def test_an_interrupted_ingest_leaves_nothing(blobs: ContentStore, interruption: BaseException) -> None:
    with pytest.raises(type(interruption)), blobs.ingest() as writer:
        writer.write(b"half a layer")
        raise interruption
    assert not blobs.has(digest_of(b"half a layer"))
    assert list(blobs.digests()) == []


def test_an_ingest_of_other_content_than_expected_leaves_nothing(blobs: ContentStore) -> None:
    expected = digest_of(b"what the registry promised")
    with pytest.raises(DigestMismatch, match=expected), blobs.ingest(expected=expected) as writer:
        writer.write(b"what it sent")
    assert not blobs.has(digest_of(b"what it sent"))
    assert not blobs.has(expected)


def test_an_ingest_of_another_size_than_expected_leaves_nothing(blobs: ContentStore) -> None:
    with (
        pytest.raises(DigestMismatch, match="5 bytes, expected 10"),
        blobs.ingest(expected_size=10) as writer,
    ):
        writer.write(b"short")
    assert not blobs.has(digest_of(b"short"))


def test_a_write_after_the_ingest_is_refused(blobs: ContentStore) -> None:
    with blobs.ingest() as writer:
        writer.write(b"x")
    with pytest.raises(ValueError):
        writer.write(b"y")


def test_concurrent_ingests_of_one_digest_give_one_blob(blobs: ContentStore) -> None:
    data = os.urandom(1 << 18)
    everyone_writing = threading.Barrier(6)

    def ingest(_: int) -> Digest:
        with blobs.ingest(expected=digest_of(data), expected_size=len(data)) as writer:
            writer.write(data[: len(data) // 2])
            everyone_writing.wait(timeout=30)  # all six are half-way before any finishes
            writer.write(data[len(data) // 2 :])
        assert writer.digest is not None
        return writer.digest

    with ThreadPoolExecutor(max_workers=6) as pool:
        digests = list(pool.map(ingest, range(6)))
    assert digests == [digest_of(data)] * 6
    assert list(blobs.digests()) == [digest_of(data)]
    assert blobs.read(digest_of(data)) == data


def test_many_threads_put_and_ingest_at_once(blobs: ContentStore) -> None:
    payloads = [b"blob %d " % (index % 40) * (index % 7 + 1) * 1000 for index in range(200)]

    def put(index: int) -> Digest:
        if index % 2:
            return blobs.put(payloads[index])
        with blobs.ingest(expected=digest_of(payloads[index])) as writer:
            for offset in range(0, len(payloads[index]), 4096):
                writer.write(payloads[index][offset : offset + 4096])
        assert writer.digest is not None
        return writer.digest

    with ThreadPoolExecutor(max_workers=8) as pool:
        digests = list(pool.map(put, range(len(payloads))))
    for digest, payload in zip(digests, payloads, strict=True):
        assert blobs.read(digest) == payload
    assert sorted(set(digests)) == sorted(blobs.digests())


def test_remove_is_idempotent_and_says_what_it_freed(blobs: ContentStore) -> None:
    digest = blobs.put(b"x" * 5000)
    assert blobs.remove(digest) == 5000
    assert not blobs.has(digest)
    assert blobs.remove(digest) == 0
    with pytest.raises(BlobNotFound):
        blobs.read(digest)


def test_a_stream_gives_the_blob_and_checks_it_as_it_goes(blobs: ContentStore) -> None:
    data = os.urandom(100_000)
    digest = blobs.put(data)
    with blobs.stream(digest, len(data)) as stream:
        assert b"".join(iter(lambda: stream.read(7000), b"")) == data
    # A copier told a longer size than the blob has never gets a complete copy: the end is an error.
    with pytest.raises(DigestMismatch, match="ends after"), blobs.stream(digest, len(data) + 10) as stream:
        while stream.read(7000):
            pass
