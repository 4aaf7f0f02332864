"""Leases: recorded for the life of their block, respected by gc while their process lives, undone by the next
store open once it is gone."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from slipway.store import Store

# A process that opens the store, takes leases and dies without leaving any block (as kill -9 would have it).
DIES_HOLDING = """
import os, sys
from pathlib import Path
from slipway.store import Store
store = Store.open(Path(sys.argv[1]))
store.snapshots.prepare("step", None)
snapshot = store.snapshots.commit("step")
blocks = [
    store.leases.hold(),
    store.leases.mount(Path(sys.argv[1]) / "tmp" / "never-mounted", "overlay"),
    store.leases.container("slipway-gone", runtime=Path("/bin/false"), state_root=Path(sys.argv[1]) / "no-state"),
]
hold = blocks[0].__enter__()
hold.add(snapshot.id)
for block in blocks[1:]:
    block.__enter__()
print(snapshot.id, flush=True)
os._exit(0)
"""


def lease_rows(root: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(root / "meta.db") as connection:
        return [
            (str(kind), str(target)) for kind, target in connection.execute("SELECT kind, target FROM leases")
        ]


def snapshot_ids(root: Path) -> set[int]:
    return {int(path.name) for path in (root / "snapshots").iterdir()}


def test_a_lease_is_recorded_for_its_block_only(store: Store, tmp_path: Path) -> None:
    target = tmp_path / "mount-point"
    with store.leases.mount(target, "overlay"):
        assert lease_rows(store.root) == [("overlay", str(target.resolve()))]
    with (
        pytest.raises(KeyboardInterrupt),
        store.leases.container("c1", runtime=Path("/r"), state_root=tmp_path),
    ):
        assert lease_rows(store.root) == [("container", "c1")]
        raise KeyboardInterrupt
    assert lease_rows(store.root) == []
    assert store.leases.dead() == []


def test_gc_keeps_held_snapshots_while_the_hold_lasts(store: Store) -> None:
    store.snapshots.prepare("step", None)
    snapshot = store.snapshots.commit("step")
    with store.leases.hold() as hold:
        assert hold.add(snapshot.id)
        store.gc()
        assert snapshot_ids(store.root) == {snapshot.id}
    store.gc()
    assert snapshot_ids(store.root) == set()


def test_a_hold_on_a_snapshot_that_is_gone_says_so(store: Store) -> None:
    gone = int(store.snapshots.prepare("step", None).upper.parent.name)  # type: ignore[union-attr]
    store.snapshots.remove("step")
    with store.leases.hold() as hold:
        assert not hold.add(gone)


def test_the_next_open_undoes_what_a_dead_process_leased(tmp_path: Path) -> None:
    root = tmp_path / "root"
    Store.open(root).close()
    killed = subprocess.run(
        [sys.executable, "-c", DIES_HOLDING, str(root)], capture_output=True, text=True, check=False
    )
    assert killed.returncode == 0, killed.stderr
    held = int(killed.stdout)
    assert {kind for kind, _ in lease_rows(root)} == {"hold", "overlay", "container"}
    assert snapshot_ids(root) == {held}

    with Store.open(root) as store:
        assert lease_rows(root) == []
        assert sorted(line.split(" ")[0] for line in store.recovered) == ["container", "overlay", "work"]
        assert snapshot_ids(root) == set(), "the dead process's hold kept its snapshot after it died"
        assert store.check() == []
        assert len(list((root / "tmp").iterdir())) == 1, "only this open store's own work dir is left"


def test_gc_says_once_whom_it_waits_for(store: Store) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from slipway.store import Store\n"
            "with Store.open(Path(sys.argv[1])) as store, store.lease():\n"
            "    print('holding', flush=True)\n"
            "    sys.stdin.read()\n",
            str(store.root),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdin is not None
    assert holder.stdout.readline() == "holding\n"
    waits: list[list[int]] = []

    def release_when_told(pids: list[int]) -> None:
        waits.append(pids)
        assert holder.stdin is not None
        holder.stdin.close()  # the holder ends its lease: the gc goes on

    collector = threading.Thread(target=store.gc, kwargs={"on_wait": release_when_told})
    collector.start()
    collector.join(timeout=60)
    holder.wait(timeout=60)
    assert not collector.is_alive()
    assert waits == [[holder.pid]]
