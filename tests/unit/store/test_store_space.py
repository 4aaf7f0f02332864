"""The meta.db reserve and ENOSPC as DiskFull, without a full disk: the reserve's bookkeeping on the test's own
file system, SQLite's "database or disk is full" made with max_page_count, free space faked where the
decision depends on it. tests/security/test_disk_full.py fills a real tmpfs."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from slipway.errors import DiskFull
from slipway.store import Store, no_space, reporting_no_space
from slipway.store import space as space_module
from slipway.store.space import RESERVE_BYTES, SpaceReserve


def test_opening_a_store_makes_its_reserve(store: Store) -> None:
    assert SpaceReserve(store.root).held() == RESERVE_BYTES


def test_the_reserve_is_lent_and_topped_up_again(tmp_path: Path) -> None:
    reserve = SpaceReserve(tmp_path, size=4 << 20)
    assert reserve.held() == 0 and not reserve.lend(1 << 20)
    reserve.top_up()
    assert reserve.held() == 4 << 20
    assert reserve.lend(1 << 20)
    assert reserve.held() == 3 << 20
    reserve.top_up()
    assert reserve.held() == 4 << 20


def test_a_cleanup_spends_the_reserve_only_when_the_disk_is_short(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reserve = SpaceReserve(tmp_path, size=2 << 20)
    reserve.top_up()
    held_inside: list[int] = []
    with reserve.for_cleanup():
        held_inside.append(reserve.held())
    monkeypatch.setattr(space_module, "free_bytes", lambda path: 4096)
    with reserve.for_cleanup():
        held_inside.append(reserve.held())
    assert held_inside == [2 << 20, 0]
    assert reserve.held() == 2 << 20  # topped up once the cleanup is done


def test_no_space_names_what_failed_and_where(tmp_path: Path) -> None:
    full = no_space(tmp_path, "[2/2] COPY big /big", OSError(errno.ENOSPC, "No space left on device"))
    quota = no_space(tmp_path, "writing a blob", OSError(errno.EDQUOT, "Disk quota exceeded"))
    assert str(full).startswith(f"[2/2] COPY big /big: no space left on device under {tmp_path};")
    assert "slipway system prune" in str(full)
    assert f"no space left on device under {tmp_path} (disk quota exceeded)" in str(quota)


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_reporting_no_space_turns_only_a_full_disk_into_disk_full(tmp_path: Path, code: int) -> None:
    with pytest.raises(DiskFull, match="unpacking"), reporting_no_space(tmp_path, "unpacking"):
        raise OSError(code, "full")
    with pytest.raises(PermissionError), reporting_no_space(tmp_path, "unpacking"):
        raise PermissionError(errno.EACCES, "denied")


def test_a_full_metadata_database_is_disk_full_and_rolled_back(store: Store) -> None:
    # max_page_count makes SQLite answer SQLITE_FULL, as a full disk does, without filling one.
    connection = store._meta._connection()
    pages = connection.execute("PRAGMA page_count").fetchone()[0]
    connection.execute(f"PRAGMA max_page_count={pages}")
    with pytest.raises(DiskFull, match=f"no space left on device under {store.root}"):
        for number in range(2000):
            store.cache.forget([])  # a cleanup: its transaction needs no new page
            store.snapshots.prepare("step", None)
            snapshot = store.snapshots.commit("step")
            store.cache.record("k" * 500 + str(number), snapshot.id)
    assert store.check() == []
