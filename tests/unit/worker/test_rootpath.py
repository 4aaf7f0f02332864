"""resolve_in_root: symlinks resolve as the container sees them, never outside the root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from slipway.errors import ContextError
from slipway.worker.rootpath import resolve_in_root


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "usr" / "lib").mkdir(parents=True)
    (tmp_path / "lib").symlink_to("usr/lib")
    (tmp_path / "abs").symlink_to("/usr")
    (tmp_path / "up").symlink_to("../../../../..")
    (tmp_path / "hostetc").symlink_to("/etc")
    (tmp_path / "loop").symlink_to("loop")
    return tmp_path


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/", ""),
        ("", ""),
        ("/usr/lib/x", "usr/lib/x"),
        ("lib/x", "usr/lib/x"),
        ("/abs/lib", "usr/lib"),
        ("/../../etc/passwd", "etc/passwd"),
        ("/up/etc/passwd", "etc/passwd"),
        ("/hostetc/passwd", "etc/passwd"),
        ("/missing/../usr", "usr"),
        ("/usr/./lib/../lib", "usr/lib"),
        ("/lib/../..", ""),
    ],
)
def test_resolution(root: Path, path: str, expected: str) -> None:
    resolved = resolve_in_root(root, path)
    assert resolved == root.joinpath(expected) if expected else resolved == root
    assert os.path.commonpath([resolved, root]) == str(root)


def test_a_symlink_loop_is_an_error(root: Path) -> None:
    with pytest.raises(ContextError, match="too many levels of symbolic links"):
        resolve_in_root(root, "/loop/x")
