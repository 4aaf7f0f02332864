"""What the store does with damage: blobs checked as they are copied out (and a corrupt one removed), a
failed lease's blobs collected, leftovers of dead processes reported by check and removed by gc, a damaged
meta.db or image record reported as StoreDamaged."""

from __future__ import annotations

import hashlib
import io
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from _store_images import add_image, blob_file, make_layer

from slipway.errors import DigestMismatch, StoreDamaged
from slipway.image.oci import Digest
from slipway.store import Store
from slipway.store.blob_files import CorruptBlob, VerifiedReader


def digest_of(data: bytes) -> Digest:
    return Digest("sha256:" + hashlib.sha256(data).hexdigest())


def reader(data: bytes, digest: Digest, size: int | None = None) -> VerifiedReader:
    return VerifiedReader(io.BytesIO(data), digest, len(data) if size is None else size, Path("/blob"))


def read_in_chunks(stream: VerifiedReader, chunk: int) -> bytes:
    out = bytearray()
    while data := stream.read(chunk):
        out += data
    return bytes(out)


def test_a_sound_blob_reads_whole() -> None:
    data = os.urandom(100_000)
    assert read_in_chunks(reader(data, digest_of(data)), 4096) == data


def test_a_corrupt_blob_fails_before_its_last_bytes_are_handed_out() -> None:
    data = bytearray(os.urandom(10_000))
    digest = digest_of(bytes(data))
    data[9_000] ^= 1
    stream = reader(bytes(data), digest)
    handed_out = bytearray()
    with pytest.raises(CorruptBlob, match=f"blob {digest} .* is corrupt: its content is sha256:"):
        while chunk := stream.read(4096):
            handed_out += chunk
    assert len(handed_out) == 8192  # never the whole blob


def test_a_truncated_blob_fails_naming_what_is_missing() -> None:
    data = os.urandom(10_000)
    with pytest.raises(CorruptBlob, match="it ends after 6000 of 10000 bytes"):
        read_in_chunks(reader(data[:6000], digest_of(data), size=10_000), 4096)


def test_a_retried_upload_reads_again_from_the_start() -> None:
    data = os.urandom(50_000)
    stream = reader(data, digest_of(data))
    stream.read(30_000)
    stream.seek(0)
    assert read_in_chunks(stream, 7000) == data
    stream.seek(10_000)
    assert stream.read(5) == data[10_000:10_005]


def test_a_seek_forward_still_checks_what_it_skipped() -> None:
    data = bytearray(os.urandom(20_000))
    digest = digest_of(bytes(data))
    data[100] ^= 1
    stream = reader(bytes(data), digest)
    stream.seek(15_000)
    with pytest.raises(CorruptBlob):
        stream.read(5000)


def corrupt(path: Path) -> None:
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_a_blob_found_corrupt_is_removed_so_the_next_put_restores_it(store: Store, tmp_path: Path) -> None:
    layer = make_layer(store.blobs, tmp_path, {"a": os.urandom(5000)})
    image = add_image(store.images, [layer], ["app"])
    config = image.manifest.config
    good = store.blobs.read(config.digest)
    corrupt(blob_file(store, config.digest))

    with pytest.raises(DigestMismatch, match="it was removed from the store"):
        store.blobs.read(config.digest)
    assert not store.blobs.has(config.digest)
    assert any(f"missing blob {config.digest}" in problem for problem in store.check())
    store.blobs.put(good, expected=config.digest)
    assert store.check() == []

    corrupt(blob_file(store, layer.descriptor.digest))
    with (
        pytest.raises(DigestMismatch, match="removed from the store"),
        store.blobs.stream(layer.descriptor.digest, layer.descriptor.size) as stream,
    ):
        stream.read()
    assert not store.blobs.has(layer.descriptor.digest)


def test_a_failed_lease_takes_back_the_blobs_it_put(store: Store, tmp_path: Path) -> None:
    kept = add_image(store.images, [make_layer(store.blobs, tmp_path, {"kept": b"k"})], ["kept"])
    before = set(os.listdir(store.root / "blobs" / "sha256"))
    with pytest.raises(RuntimeError), store.lease():
        make_layer(store.blobs, tmp_path, {"half": os.urandom(1000)})
        store.blobs.put(b"a config that never became an image")
        raise RuntimeError("the pull broke off")
    assert set(os.listdir(store.root / "blobs" / "sha256")) == before
    assert store.check() == []
    assert store.images.resolve("kept") == kept


def test_a_failed_lease_leaves_its_blobs_while_another_lease_is_held(store: Store, tmp_path: Path) -> None:
    with Store.open(store.root) as other, other.lease():
        with pytest.raises(RuntimeError), store.lease():
            orphan = store.blobs.put(b"put while another build runs")
            raise RuntimeError("broke off")
        assert store.blobs.has(orphan)  # gc would wait for the other lease: the next gc takes it
    store.gc()
    assert not store.blobs.has(orphan)


def test_check_reports_and_gc_removes_what_dead_processes_left(store: Store) -> None:
    left = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, sys; from pathlib import Path; from slipway.store import Store\n"
            "store = Store.open(Path(sys.argv[1]))\n"
            "plan = store.snapshots.prepare('step', None)\n"
            "(plan.upper / 'half-copied').write_bytes(b'x' * 1000)\n"
            "print(plan.upper.parent.name, flush=True)\n"
            "os._exit(1)  # killed in the middle of a step\n",
            str(store.root),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    snapshot_id = int(left.stdout)
    stray_dir = store.root / "snapshots" / "999"
    stray_dir.mkdir()

    problems = store.check()

    assert any(f"unfinished snapshot {snapshot_id}" in problem for problem in problems)
    assert any(f"orphaned snapshot directory {stray_dir}" in problem for problem in problems)
    assert any(problem.startswith("work dir ") and "process that is gone" in problem for problem in problems)
    assert len(problems) == 3
    assert store.gc() >= 1000
    assert store.check() == []
    assert os.listdir(store.root / "snapshots") == []


def test_a_garbage_meta_db_is_reported_as_damaged(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "meta.db").write_bytes(os.urandom(8192))
    with pytest.raises(StoreDamaged, match=f"the store's metadata at {root / 'meta.db'} is damaged"):
        Store.open(root)
    assert os.listdir(root / "tmp") == []


def test_a_damaged_image_record_is_reported_not_raised_by_check(store: Store, tmp_path: Path) -> None:
    image = add_image(store.images, [make_layer(store.blobs, tmp_path, {"a": b"a"})], ["app"])
    with sqlite3.connect(store.root / "meta.db") as connection:
        connection.execute("UPDATE images SET config = ? WHERE id = ?", (b"{not json", image.id))
    with pytest.raises(StoreDamaged, match=f"the record of image {image.id} in meta.db is damaged"):
        store.images.list()
    assert any(f"the record of image {image.id}" in problem for problem in store.check())


def test_check_runs_sqlites_integrity_check_without_false_alarms(store: Store) -> None:
    # registry_blobs is a WITHOUT ROWID table: SQLite 3.40's quick_check reports NULLs in it that are not there.
    store.blob_sources.record("registry.test", "team/app", [Digest("sha256:" + "a" * 64)])
    store.blob_sources.record("registry.test", "team/other", [Digest("sha256:" + "a" * 64)])
    assert store.check() == []
