"""Root: every path resolves as the container sees it, never outside the root, with openat2 and without."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from slipway.errors import ContextError, FileTooLarge, NotRegularFile
from slipway.worker.rootpath import Made, Root


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "usr" / "lib").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "etc" / "passwd").write_text("the root's own\n")
    (root / "lib").symlink_to("usr/lib")
    (root / "abs").symlink_to("/usr")
    (root / "up").symlink_to("../../../../..")
    (root / "hostetc").symlink_to("/etc")
    (root / "loop").symlink_to("loop")
    (root / "dangling").symlink_to("/made/here")
    return root


@pytest.fixture(params=["openat2", "walk"])
def root(request: pytest.FixtureRequest, tree: Path) -> Iterator[Root]:
    with Root(tree) as opened:
        if request.param == "walk":
            opened._has_openat2 = False  # as on a kernel before 5.6
        yield opened


def where(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/", ""),
        ("", ""),
        ("/usr/lib", "usr/lib"),
        ("lib", "usr/lib"),
        ("/abs/lib", "usr/lib"),
        ("/../../etc", "etc"),
        ("/up/etc", "etc"),
        ("/hostetc", "etc"),
        ("/usr/./lib/../lib", "usr/lib"),
        ("/lib/..", "usr"),  # ".." of a symlink's target, as the kernel resolves it
        ("/lib/../../..", ""),
    ],
)
def test_directories_resolve_inside_the_root(root: Root, tree: Path, path: str, expected: str) -> None:
    assert where(root.open_dir(path)) == str(tree.joinpath(expected) if expected else tree)


@pytest.mark.parametrize(
    "path", ["/hostetc/passwd", "/up/etc/passwd", "/../../etc/passwd", "abs/../etc/passwd"]
)
def test_files_named_through_escaping_links_are_the_root_s(root: Root, path: str) -> None:
    assert root.read(path, limit=100) == b"the root's own\n"


def test_a_symlink_loop_is_an_error(root: Root) -> None:
    with pytest.raises(ContextError, match="too many levels of symbolic links"):
        root.open_dir("/loop/x")


def test_missing_is_none_and_lstat_does_not_follow(root: Root) -> None:
    assert root.read("/nothing", limit=10) is None
    assert root.stat("/dangling") is None
    info = root.lstat("/dangling")
    assert info is not None and stat.S_ISLNK(info.st_mode)
    assert root.is_dir("/lib") and not root.is_dir("/etc/passwd")


def test_make_dirs_makes_a_dangling_link_s_target_inside_the_root(root: Root, tree: Path) -> None:
    made: list[Made] = []
    fd = root.make_dirs("/dangling/x", mode=0o750, owner=(os.getuid(), os.getgid()), created=made)
    assert where(fd) == str(tree / "made" / "here" / "x")
    assert [entry.path for entry in made] == ["/made", "/made/here", "/made/here/x"]
    assert stat.S_IMODE(os.stat(tree / "made" / "here" / "x").st_mode) == 0o750
    assert made[0].identity == (os.stat(tree / "made").st_dev, os.stat(tree / "made").st_ino)
    with pytest.raises(NotADirectoryError):
        root.make_dirs("/etc/passwd/x")


def test_parent_names_the_last_component_unfollowed(root: Root, tree: Path) -> None:
    fd, name = root.parent("/hostetc")
    assert (where(fd), name) == (str(tree), "hostetc")
    fd, name = root.parent("/hostetc/passwd")
    assert (where(fd), name) == (str(tree / "etc"), "passwd")
    fd, name = root.parent("/lib/..")
    assert (where(fd), name) == (str(tree / "usr"), "")


def test_open_exact_follows_no_symlink_at_all(root: Root, tree: Path) -> None:
    assert where(root.open_exact("/usr/lib")) == str(tree / "usr" / "lib")
    with pytest.raises(OSError):
        root.open_exact("/lib")


def test_read_refuses_what_is_not_a_regular_file_and_caps_the_size(root: Root, tree: Path) -> None:
    os.mkfifo(tree / "etc" / "fifo")  # would block an open for reading, and a read forever
    with pytest.raises(NotRegularFile, match="FIFO"):
        root.read("/etc/fifo", limit=100)
    with pytest.raises(NotRegularFile):
        root.read("/usr", limit=100)
    with pytest.raises(FileTooLarge, match="larger than 10 bytes"):
        root.read("/etc/passwd", limit=10)


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod of a character device needs root")
def test_read_refuses_a_character_device(root: Root, tree: Path) -> None:
    os.mknod(tree / "etc" / "zero", stat.S_IFCHR | 0o644, os.makedev(1, 5))  # /dev/zero: never ends
    with pytest.raises(NotRegularFile, match="character device"):
        root.read("/etc/zero", limit=100)
