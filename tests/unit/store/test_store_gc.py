"""gc keeps what images, cache records and live builds need; check finds what is broken; dead processes'
leftovers are cleaned."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from _store_images import add_image, blob_file, commit_files, make_layer, snapshot_id_of

from slipway.errors import StoreError
from slipway.store import Store


def blob_names(store: Store) -> set[str]:
    return {"sha256:" + path.name for path in (store.root / "blobs" / "sha256").iterdir()}


def snapshot_ids(store: Store) -> set[int]:
    return {int(path.name) for path in (store.root / "snapshots").iterdir()}


def run_python(code: str, root: Path) -> str:
    completed = subprocess.run(
        [sys.executable, "-c", code, str(root)], capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout.strip()


def test_gc_keeps_what_images_need_and_frees_the_rest(store: Store, tmp_path: Path) -> None:
    shared = make_layer(store.blobs, tmp_path, {"lib/libc.so": b"c" * 10_000})
    kept_layer = make_layer(store.blobs, tmp_path, {"kept": b"k" * 5_000})
    gone_layer = make_layer(store.blobs, tmp_path, {"gone": b"g" * 200_000})
    kept = add_image(store.images, [shared, kept_layer], ["kept"])
    dangling = add_image(store.images, [shared], [], label="untagged but still an image")
    gone = add_image(store.images, [shared, gone_layer], ["gone"])
    assert store.snapshots.unpack_image(kept) is not None
    gone_top = store.snapshots.unpack_image(gone)
    assert gone_top is not None
    store.images.remove(gone)
    stray = store.blobs.put(b"a blob no image uses")

    freed = store.gc()

    expected = {gone.manifest_digest, gone.id, gone_layer.descriptor.digest, stray}
    assert blob_names(store) == {
        kept.manifest_digest,
        kept.id,
        dangling.manifest_digest,
        dangling.id,
        shared.descriptor.digest,
        kept_layer.descriptor.digest,
    }
    assert not blob_names(store) & expected
    assert gone_top.id not in snapshot_ids(store)
    assert freed >= gone_layer.descriptor.size + 200_000  # the blob and the unpacked file
    assert store.images.resolve("kept") == kept
    assert store.images.resolve(dangling.id) == dangling
    top = store.snapshots.unpack_image(kept)
    assert top is not None and (top.path / "kept").read_bytes() == b"k" * 5_000
    assert store.check() == []
    assert store.gc() == 0


def test_gc_keeps_cached_snapshots_and_their_layers(store: Store, tmp_path: Path) -> None:
    snapshot = commit_files(store.snapshots, {"built": b"by a RUN"})
    layer = make_layer(store.blobs, tmp_path, {"built": b"by a RUN"})
    store.snapshots.set_layer(snapshot.id, layer)
    store.cache.record("step-key", snapshot.id)
    uncached = commit_files(store.snapshots, {})

    store.gc()

    assert store.cache.lookup("step-key") is not None
    assert store.blobs.has(layer.descriptor.digest)
    assert uncached.id not in snapshot_ids(store)
    assert store.cache.clear() == 1
    store.gc()
    assert snapshot_ids(store) == set()
    assert blob_names(store) == set()


def test_gc_keeps_active_snapshots_of_live_processes_only(store: Store) -> None:
    mine = snapshot_id_of(store.snapshots.prepare("mine", None))
    dead = int(
        run_python(
            "import sys; from pathlib import Path; from slipway.store import Store\n"
            "store = Store.open(Path(sys.argv[1])); plan = store.snapshots.prepare('step', None)\n"
            "print(plan.upper.parent.name)\n"
            "import os; os._exit(0)  # dies without cleaning up",
            store.root,
        )
    )
    assert snapshot_ids(store) == {mine, dead}
    store.gc()
    assert snapshot_ids(store) == {mine}


def test_open_removes_temp_dirs_of_dead_processes(tmp_path: Path) -> None:
    root = tmp_path / "root"
    killed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, os; from pathlib import Path; from slipway.store import Store\n"
            "store = Store.open(Path(sys.argv[1]))\n"
            "scope = store.temp_dir('build')\n"
            "temp = scope.__enter__()\n"
            "(temp / 'work').write_text('x')\n"
            "print(temp, flush=True)\n"
            "with store.blobs.ingest() as writer:\n"
            "    writer.write(b'half')\n"
            "    os._exit(1)  # killed in the middle of a build and a download\n",
            str(root),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert killed.returncode == 1, killed.stderr
    temp = Path(killed.stdout.strip())
    assert temp.is_relative_to(root / "tmp") and temp.exists()
    with Store.open(root) as store:
        assert not temp.exists()
        assert [path for path in (root / "tmp").rglob("*") if path.is_file()] == []
        assert store.check() == []


def test_close_removes_the_store_temp_dir(tmp_path: Path) -> None:
    with Store.open(tmp_path / "root") as store, store.temp_dir("work") as work:
        (work / "file").write_text("x")
    assert list((tmp_path / "root" / "tmp").iterdir()) == []


def test_temp_dir_is_removed_on_exit(store: Store) -> None:
    with store.temp_dir("unpack") as work:
        assert work.is_dir() and work.name.startswith("unpack-")
        assert work.is_relative_to(store.root / "tmp")
        (work / "sub").mkdir()
        (work / "sub" / "file").write_text("x")
    assert not work.exists()


def test_check_finds_corrupt_missing_and_orphaned_blobs(store: Store, tmp_path: Path) -> None:
    layer = make_layer(store.blobs, tmp_path, {"a": b"a" * 1000})
    image = add_image(store.images, [layer], ["app"])
    assert store.check() == []
    path = blob_file(store, layer.descriptor.digest)
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    blob_file(store, image.manifest_digest).unlink()
    orphan = store.blobs.put(b"nobody uses me")
    problems = store.check()
    assert any(f"corrupt blob {layer.descriptor.digest}" in problem for problem in problems)
    assert any(
        f"missing blob {image.manifest_digest}" in problem and "manifest" in problem for problem in problems
    )
    assert any(f"orphaned blob {orphan}" in problem for problem in problems)
    assert len(problems) == 3


def test_gc_inside_a_lease_is_refused(store: Store) -> None:
    with store.lease(), pytest.raises(StoreError, match="lease"):
        store.gc()


def test_a_lease_keeps_gc_off_blobs_until_the_image_is_added(store: Store, tmp_path: Path) -> None:
    layer_put = threading.Event()
    gc_started = threading.Event()
    result: list[object] = []

    def build() -> None:
        with store.lease():
            layer = make_layer(store.blobs, tmp_path, {"app": b"app"})
            layer_put.set()
            gc_started.wait()
            time.sleep(0.3)  # give gc the chance to run now if the lease did not hold it back
            result.append(add_image(store.images, [layer], ["app"]))

    builder = threading.Thread(target=build)
    builder.start()
    layer_put.wait()
    collector = threading.Thread(target=store.gc)
    collector.start()
    gc_started.set()
    builder.join()
    collector.join()
    assert store.images.resolve("app") == result[0]
    assert store.check() == []
