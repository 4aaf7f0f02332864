"""A fetched blob measured on the way: in the fetching thread, from the bytes written, and a blob that fails its
digest says so before its measure can."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import BinaryIO

import pytest

from slipway.errors import ArchiveError, DigestMismatch
from slipway.image.layers import measure_layer
from slipway.image.oci import Digest
from slipway.registry._measured import Measured
from slipway.store import Store


def digest_of(data: bytes) -> Digest:
    return Digest("sha256:" + hashlib.sha256(data).hexdigest())


def layer_tar(size: int) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        info = tarfile.TarInfo("file")
        info.size = size
        tar.addfile(info, io.BytesIO(os.urandom(size)))
    return out.getvalue()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "root") as opened:
        yield opened


def test_a_layer_is_measured_in_the_thread_that_ingests_it(store: Store) -> None:
    tar = layer_tar(3_000_000)
    blob = gzip.compress(tar, compresslevel=1)
    threads: set[int] = set()

    def measure(stream: BinaryIO) -> tuple[str, int, int]:
        threads.add(threading.get_ident())
        return measure_layer(stream, "application/vnd.oci.image.layer.v1.tar+gzip", decompress_ahead=False)

    before = threading.active_count()
    with store.blobs.batch() as batch:
        measured = Measured(batch, measure)
        with measured.ingest(digest_of(blob), len(blob)) as sink:
            sink.write_from(io.BytesIO(blob))
            assert threading.active_count() == before  # no thread beside the fetch
    assert threads == {threading.get_ident()}
    assert measured.result == (digest_of(tar), len(tar), 3_000_000)
    assert store.blobs.read(digest_of(blob)) == blob


def test_a_blob_that_fails_its_digest_says_so_before_its_measure_fails(store: Store) -> None:
    garbage = os.urandom(100_000)  # no gzip stream: the measure fails too, but the digest speaks first
    measured = Measured(store.blobs, partial(measure_layer, media_type="x+gzip", decompress_ahead=False))
    with pytest.raises(DigestMismatch), measured.ingest(digest_of(b"promised"), len(garbage)) as sink:
        sink.write_from(io.BytesIO(garbage))
    assert not store.blobs.has(digest_of(garbage))


def test_a_blob_that_is_whole_but_no_layer_fails_its_measure_after_the_whole_copy(store: Store) -> None:
    blob = gzip.compress(b"not a tar" * 1000)
    measured = Measured(store.blobs, partial(measure_layer, media_type="x+gzip", decompress_ahead=False))
    with pytest.raises(ArchiveError), measured.ingest(digest_of(blob), len(blob)) as sink:
        sink.write_from(io.BytesIO(blob))
    with pytest.raises(RuntimeError):
        measured.result  # noqa: B018 - nothing was measured
