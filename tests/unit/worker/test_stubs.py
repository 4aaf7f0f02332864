"""MountStubs: mount points made in a root, removed afterwards only where they are still what was made."""

from __future__ import annotations

import os
from pathlib import Path

from slipway.worker._stubs import MountStubs
from slipway.worker.rootpath import Root


def test_stubs_are_made_and_removed_and_the_parent_keeps_its_times(tmp_path: Path) -> None:
    root_dir = tmp_path / "root"
    (root_dir / "etc").mkdir(parents=True)
    os.utime(root_dir / "etc", ns=(1_000_000_000, 2_000_000_000))
    with Root(root_dir) as root:
        stubs = MountStubs(root)
        stubs.make("/a/b/c", is_dir=True)
        stubs.make("/etc/hosts", is_dir=False)
        assert (root_dir / "a" / "b" / "c").is_dir() and (root_dir / "etc" / "hosts").is_file()
        stubs.remove()
        stubs.remove()  # idempotent
    assert sorted(os.listdir(root_dir)) == ["etc"] and os.listdir(root_dir / "etc") == []
    assert os.stat(root_dir / "etc").st_mtime_ns == 2_000_000_000


def test_a_parent_swapped_for_a_symlink_is_not_followed_on_removal(tmp_path: Path) -> None:
    # BuildKit CVE-2024-23652: the RUN moves /a away and points /a at a host dir shaped like the stubs.
    root_dir, victim = tmp_path / "root", tmp_path / "victim"
    (victim / "b" / "c").mkdir(parents=True)
    (victim / "b" / "f").touch()
    root_dir.mkdir()
    with Root(root_dir) as root:
        stubs = MountStubs(root)
        stubs.make("/a/b/c", is_dir=True)
        stubs.make("/a/b/f", is_dir=False)
        os.rename(root_dir / "a", root_dir / "a.old")
        (root_dir / "a").symlink_to(victim)
        stubs.remove()
    assert (victim / "b" / "c").is_dir() and (victim / "b" / "f").is_file()
    assert (root_dir / "a.old" / "b" / "c").is_dir()  # moved by the "RUN": now the layer's, kept


def test_only_the_very_stub_is_removed_and_only_while_empty(tmp_path: Path) -> None:
    root_dir = tmp_path / "root"
    root_dir.mkdir()
    with Root(root_dir) as root:
        stubs = MountStubs(root)
        stubs.make("/kept/full", is_dir=True)
        stubs.make("/swapped", is_dir=True)
        (root_dir / "kept" / "full" / "made-by-run").touch()
        os.rmdir(root_dir / "swapped")
        (root_dir / "swapped").write_text("a file the RUN made\n")
        stubs.remove()
    assert (root_dir / "kept" / "full" / "made-by-run").exists()
    assert (root_dir / "swapped").read_text() == "a file the RUN made\n"


def test_a_destination_through_a_symlink_is_made_inside_the_root(tmp_path: Path) -> None:
    root_dir, outside = tmp_path / "root", tmp_path / "outside"
    root_dir.mkdir()
    outside.mkdir()
    (root_dir / "etc").mkdir()
    (root_dir / "etc" / "resolv.conf").symlink_to(f"../../../..{outside}/run/resolv.conf")
    with Root(root_dir) as root:
        stubs = MountStubs(root)
        stubs.make("/etc/resolv.conf", is_dir=False)
        assert (root_dir / str(outside).lstrip("/") / "run" / "resolv.conf").is_file()
        assert os.listdir(outside) == []
        stubs.remove()
    assert sorted(os.listdir(root_dir)) == ["etc"]
