"""The blob files under the store's content store (the contract itself: contracts/test_content_store.py): where a
blob lives, read-only, and no temp file left by any ingest, finished or not."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest

from slipway.errors import DigestMismatch
from slipway.image.oci import Digest
from slipway.store import Store


def digest_of(data: bytes) -> Digest:
    return Digest("sha256:" + hashlib.sha256(data).hexdigest())


def leftovers(store: Store) -> list[Path]:
    """Files anywhere under <root>/tmp: temp files of ingests that should be gone."""
    return [path for path in (store.root / "tmp").rglob("*") if path.is_file()]


def test_a_blob_is_a_read_only_file_named_by_its_digest(store: Store) -> None:
    digest = store.blobs.put(b"hello")
    path = store.root / "blobs" / "sha256" / digest.removeprefix("sha256:")
    assert path.read_bytes() == b"hello"
    assert not path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)  # blobs never change
    assert leftovers(store) == []


def test_temp_files_live_in_the_store_tmp_dir(store: Store) -> None:
    with store.blobs.ingest() as writer:
        writer.write(b"x")
        assert len(leftovers(store)) == 1
    assert leftovers(store) == []


@pytest.mark.parametrize("interruption", [RuntimeError("connection lost"), KeyboardInterrupt()])
def test_an_interrupted_ingest_leaves_no_temp_file(store: Store, interruption: BaseException) -> None:
    with pytest.raises(type(interruption)), store.blobs.ingest() as writer:
        writer.write(b"data")
        raise interruption
    assert leftovers(store) == []
    assert list((store.root / "blobs" / "sha256").iterdir()) == []


def test_a_mismatched_ingest_leaves_no_temp_file(store: Store) -> None:
    with pytest.raises(DigestMismatch), store.blobs.ingest(expected=digest_of(b"promised")) as writer:
        writer.write(b"sent")
    assert leftovers(store) == []
