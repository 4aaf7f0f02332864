"""The Snapshotter contract, as containerd's snapshot testsuite checks every snapshotter: an active key on a
committed parent (or none), a mount plan handed out and never mounted, commit or remove, remove idempotent."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor

import pytest
from _store_images import commit_files, written_tree

from slipway.errors import StoreError
from slipway.image.layers import LayerInfo
from slipway.image.oci import MEDIA_OCI_LAYER, Descriptor, DiffID, Digest, chain_ids
from slipway.store import NewTree, SnapshotRecord, Snapshotter
from slipway.worker.mount_plan import Direct, Overlay


def files_in(snapshot: SnapshotRecord) -> dict[str, bytes]:
    return {
        str(path.relative_to(snapshot.path)): path.read_bytes()
        for path in sorted(snapshot.path.rglob("*"))
        if path.is_file()
    }


def test_prepare_hands_out_an_overlay_plan_and_mounts_nothing(snapshots: Snapshotter) -> None:
    base = commit_files(snapshots, {"etc/os-release": b"base"})
    plan = snapshots.prepare("step", base.id)
    assert isinstance(plan, Overlay)
    assert plan.lowers == (base.path,)
    assert plan.upper is not None and plan.work is not None
    assert list(plan.upper.iterdir()) == [] and list(plan.work.iterdir()) == []
    assert plan.upper.parent == plan.work.parent  # overlay needs both on one file system
    snapshots.remove("step")


def test_commit_makes_a_snapshot_later_ones_build_on(snapshots: Snapshotter) -> None:
    plan = snapshots.prepare("base", None)
    assert isinstance(plan, Overlay) and plan.lowers == ()
    (written_tree(plan) / "file").write_bytes(b"from a RUN")
    base = snapshots.commit("base")
    assert base.committed and base.parent is None and base.chain_id is None
    assert files_in(base) == {"file": b"from a RUN"}
    child = commit_files(snapshots, {"other": b"2"}, base)
    assert child.parent == base.id
    assert snapshots.get(child.id) == child
    assert snapshots.chain(child.id) == [base, child]
    assert snapshots.view(child.id) == Overlay((base.path, child.path))
    assert snapshots.view(None) == Overlay(())


def test_a_key_is_active_once(snapshots: Snapshotter) -> None:
    first = snapshots.prepare("key", None)
    with pytest.raises(StoreError, match="'key' is active already"):
        snapshots.prepare("key", None)
    assert written_tree(first).is_dir()  # the first is untouched
    committed = snapshots.commit("key")
    assert committed.path == written_tree(first)
    again = snapshots.prepare("key", committed.id)  # committed: the key is free again
    assert written_tree(again) != committed.path
    snapshots.remove("key")


def test_commit_needs_an_active_key(snapshots: Snapshotter) -> None:
    with pytest.raises(StoreError, match="no active snapshot 'never'"):
        snapshots.commit("never")
    snapshots.prepare("once", None)
    snapshots.commit("once")
    with pytest.raises(StoreError, match="no active snapshot 'once'"):
        snapshots.commit("once")


def test_remove_of_a_committed_key_is_a_no_op(snapshots: Snapshotter) -> None:
    snapshots.prepare("step", None)
    committed = snapshots.commit("step")
    snapshots.remove("step")
    assert snapshots.get(committed.id) == committed
    assert committed.path.is_dir()


def test_remove_is_idempotent_and_leaves_nothing(snapshots: Snapshotter) -> None:
    snapshots.remove("never prepared")
    plan = snapshots.prepare("step", None)
    (written_tree(plan) / "half").write_bytes(b"written before the step failed")
    snapshots.remove("step")
    snapshots.remove("step")
    assert not written_tree(plan).exists()
    assert isinstance(snapshots.prepare("step", None), Overlay)  # the key is free again
    snapshots.remove("step")


@pytest.mark.parametrize("parent", [12345, -1])
def test_prepare_on_no_committed_snapshot_is_refused(snapshots: Snapshotter, parent: int) -> None:
    with pytest.raises(
        StoreError, match=f"cannot create a snapshot on {parent}: it is not a committed snapshot"
    ):
        snapshots.prepare("step", parent)
    snapshots.prepare("step", None)  # the failed prepare left the key free
    snapshots.remove("step")


def test_a_new_tree_under_a_name_nothing_below_has_is_written_directly(snapshots: Snapshotter) -> None:
    base = commit_files(snapshots, {"etc/passwd": b"root:x:0:0::/:/bin/sh\n"})
    plan = snapshots.prepare("copy", base.id, NewTree("app"))
    assert isinstance(plan, Direct)
    (plan.path / "app").mkdir()
    (plan.path / "app" / "main").write_bytes(b"binary")
    copied = snapshots.commit("copy")
    assert copied.path == plan.path and copied.parent == base.id
    assert files_in(copied) == {"app/main": b"binary"}
    assert snapshots.view(copied.id) == Overlay((base.path, copied.path))


def test_a_new_tree_under_a_name_below_keeps_the_overlay(snapshots: Snapshotter) -> None:
    base = commit_files(snapshots, {"etc/passwd": b"root"})
    child = commit_files(snapshots, {"app/old": b"old"}, base)
    for name in ("etc", "app"):  # in the parent, or deeper down the chain
        plan = snapshots.prepare(f"copy-{name}", child.id, NewTree(name))
        assert isinstance(plan, Overlay) and plan.lowers == (base.path, child.path)
        snapshots.remove(f"copy-{name}")
    assert isinstance(snapshots.prepare("on-nothing", None, NewTree("etc")), Direct)
    snapshots.remove("on-nothing")


@pytest.mark.parametrize("name", ["", ".", "..", "a/b"])
def test_a_new_tree_is_one_top_level_name(snapshots: Snapshotter, name: str) -> None:
    base = commit_files(snapshots, {"file": b"x"})
    with pytest.raises(ValueError, match="one top-level name"):
        snapshots.prepare("copy", base.id, NewTree(name))


def test_threads_prepare_and_commit_their_own_keys(snapshots: Snapshotter) -> None:
    base = commit_files(snapshots, {"base": b"b"})

    def step(index: int) -> SnapshotRecord:
        return commit_files(snapshots, {f"file-{index}": str(index).encode()}, base)

    with ThreadPoolExecutor(max_workers=6) as pool:
        made = list(pool.map(step, range(24)))
    assert len({snapshot.id for snapshot in made}) == 24
    assert all(snapshots.chain(snapshot.id) == [base, snapshot] for snapshot in made)


def test_set_layer_gives_chain_ids_bottom_up(snapshots: Snapshotter) -> None:
    base = commit_files(snapshots, {"a": b"a"})
    child = commit_files(snapshots, {"b": b"b"}, base)
    with pytest.raises(StoreError, match="parent .* has no layer yet"):
        snapshots.set_layer(child.id, layer_info("child"))
    base = snapshots.set_layer(base.id, layer_info("base"))
    child = snapshots.set_layer(child.id, layer_info("child"))
    assert base.chain_id == layer_info("base").diff_id
    assert child.chain_id == chain_ids([layer_info("base").diff_id, layer_info("child").diff_id])[1]
    assert snapshots.chain(child.id) == [base, child]


def test_usage_counts_the_snapshot_s_own_tree(snapshots: Snapshotter) -> None:
    base = commit_files(snapshots, {"big": bytes(10_000)})
    child = commit_files(snapshots, {"small": bytes(100), "dir/more": bytes(20)}, base)
    assert snapshots.usage(base.id) == 10_000
    assert snapshots.usage(child.id) == 120


def test_get_of_no_snapshot(snapshots: Snapshotter) -> None:
    with pytest.raises(StoreError, match="no snapshot 999"):
        snapshots.get(999)


def layer_info(name: str) -> LayerInfo:
    diff_id = DiffID("sha256:" + hashlib.sha256(name.encode()).hexdigest())
    digest = Digest("sha256:" + hashlib.sha256(b"blob " + name.encode()).hexdigest())
    return LayerInfo(
        diff_id=diff_id,
        descriptor=Descriptor(media_type=MEDIA_OCI_LAYER, digest=digest, size=1),
        uncompressed_size=1,
    )
