"""overlay_mount on real overlayfs: writable and read-only views, whiteouts, unmount on every exit."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from slipway.errors import MountError
from slipway.worker.snapshots import overlay_mount, unmount

pytestmark = pytest.mark.root


def make_tree(root: Path, files: dict[str, str]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return root


def test_writable_overlay_shows_the_lowers_top_first_and_writes_to_upper(
    tmp_path: Path, mounts_under: Any
) -> None:
    bottom = make_tree(tmp_path / "bottom", {"shared.txt": "bottom\n", "bottom-only.txt": "b\n"})
    top = make_tree(tmp_path / "top", {"shared.txt": "top\n"})
    upper, work = tmp_path / "upper", tmp_path / "work"
    upper.mkdir()
    work.mkdir()
    with overlay_mount([bottom, top], tmp_path / "root", upper=upper, work=work, ledger=None) as root:
        assert (root / "shared.txt").read_text() == "top\n"
        assert (root / "bottom-only.txt").read_text() == "b\n"
        (root / "new.txt").write_text("new\n")
        (root / "shared.txt").write_text("changed\n")
        assert mounts_under(root) == [str(root)]
    assert (upper / "new.txt").read_text() == "new\n"
    assert (upper / "shared.txt").read_text() == "changed\n"
    assert (top / "shared.txt").read_text() == "top\n", "a lower dir was written"
    assert mounts_under(tmp_path) == []


def test_deleting_a_lower_file_leaves_a_whiteout_in_upper(tmp_path: Path) -> None:
    lower = make_tree(tmp_path / "lower", {"gone.txt": "x", "dir/inside.txt": "y"})
    upper, work = tmp_path / "upper", tmp_path / "work"
    upper.mkdir()
    work.mkdir()
    with overlay_mount([lower], tmp_path / "root", upper=upper, work=work, ledger=None) as root:
        (root / "gone.txt").unlink()
        assert not (root / "gone.txt").exists()
    whiteout = os.lstat(upper / "gone.txt")
    assert stat.S_ISCHR(whiteout.st_mode) and whiteout.st_rdev == 0
    assert (lower / "gone.txt").exists()


@pytest.mark.parametrize("count", [1, 2])
def test_read_only_view_refuses_writes(tmp_path: Path, count: int, mounts_under: Any) -> None:
    lowers = [
        make_tree(tmp_path / f"lower{index}", {f"file{index}.txt": str(index)}) for index in range(count)
    ]
    with overlay_mount(lowers, tmp_path / "view", ledger=None) as view:
        assert sorted(os.listdir(view)) == [f"file{index}.txt" for index in range(count)]
        with pytest.raises(OSError) as raised:
            (view / "new.txt").write_text("no")
        assert raised.value.errno == 30  # EROFS
    assert mounts_under(tmp_path) == []
    assert not (lowers[0] / "new.txt").exists()


def test_an_upper_with_no_lowers(tmp_path: Path) -> None:
    upper, work = tmp_path / "upper", tmp_path / "work"
    upper.mkdir()
    work.mkdir()
    with overlay_mount([], tmp_path / "root", upper=upper, work=work, ledger=None) as root:
        assert os.listdir(root) == []
        (root / "file").write_text("data")
    assert (upper / "file").read_text() == "data"
    assert sorted(os.listdir(tmp_path)) == ["root", "upper", "work"], "the empty lower dir was left"


def test_unmounted_when_the_body_raises(tmp_path: Path, mounts_under: Any) -> None:
    lower = make_tree(tmp_path / "lower", {"a": "a"})
    with pytest.raises(RuntimeError), overlay_mount([lower], tmp_path / "view", ledger=None) as view:
        assert mounts_under(view)
        raise RuntimeError("boom")
    assert mounts_under(tmp_path) == []


def test_unmounted_on_keyboard_interrupt(tmp_path: Path, mounts_under: Any) -> None:
    lowers = [make_tree(tmp_path / name, {name: name}) for name in ("a", "b")]
    upper, work = tmp_path / "upper", tmp_path / "work"
    upper.mkdir()
    work.mkdir()
    with (
        pytest.raises(KeyboardInterrupt),
        overlay_mount(lowers, tmp_path / "root", upper=upper, work=work, ledger=None),
    ):
        raise KeyboardInterrupt
    assert mounts_under(tmp_path) == []


def test_unmount_is_idempotent_and_a_busy_mount_is_detached(tmp_path: Path, mounts_under: Any) -> None:
    lower = make_tree(tmp_path / "lower", {"a": "a"})
    with overlay_mount([lower], tmp_path / "view", ledger=None) as view:
        held = os.open(view / "a", os.O_RDONLY)  # keeps the mount busy
        try:
            unmount(view)
            assert mounts_under(tmp_path) == []
        finally:
            os.close(held)
    unmount(view)
    unmount(tmp_path / "never-mounted")


def test_paths_with_colons_and_commas_are_escaped(tmp_path: Path) -> None:
    lowers = [make_tree(tmp_path / "we:ird,one", {"x": "1"}), make_tree(tmp_path / "plain", {"y": "2"})]
    with overlay_mount(lowers, tmp_path / "view", ledger=None) as view:
        assert sorted(os.listdir(view)) == ["x", "y"]


def test_a_deep_chain_under_a_long_root_mounts_with_relative_lower_dirs(
    tmp_path: Path, mounts_under: Any
) -> None:
    base = tmp_path / ("d" * 200)
    lowers = []
    for index in range(30):
        lowers.append(make_tree(base / f"{index:03d}", {f"f{index}": str(index)}))
    with overlay_mount(lowers, tmp_path / "view", ledger=None) as view:
        assert len(os.listdir(view)) == 30
        assert (view / "f29").read_text() == "29"
    assert mounts_under(tmp_path) == []


def test_too_many_layers_for_one_page_is_a_clear_error(tmp_path: Path, mounts_under: Any) -> None:
    lowers = [make_tree(tmp_path / f"{index:03d}-{'l' * 60}", {"f": str(index)}) for index in range(80)]
    with (
        pytest.raises(MountError, match="shorter store root"),
        overlay_mount(lowers, tmp_path / "view", ledger=None),
    ):
        pass
    assert mounts_under(tmp_path) == []
