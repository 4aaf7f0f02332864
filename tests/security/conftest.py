"""Fixtures of the security regression corpus: a fresh store with busybox, and a watch on the host.

Every case attacks the host from a Dockerfile, a context or an image, so every case checks the host: canary
files and directories in a tmp dir outside the store (what an escape would hit: the attacks aim at them by
absolute path and by ".." chains), and checksums of a few files under /etc. Nothing may change, and nothing
may stay mounted under the store.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _host import Host, helpers

busybox_rootfs = helpers.busybox_rootfs
busybox_tar = helpers.busybox_tar


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    canaries = tmp_path / "host"
    (canaries / "sub" / "b" / "c").mkdir(parents=True)  # what `mkdir -p /tmp/victim/sub/b/c` leaves
    (canaries / "sub" / "b" / "f").touch()  # an empty file, as a file mount's stub would be
    (canaries / "secret.txt").write_text(f"host-secret-{os.getpid()}-{os.urandom(4).hex()}\n")
    (canaries / "empty").mkdir()
    guard = Host(canaries)
    guard.before = guard.state()
    yield guard
    guard.assert_intact()


@pytest.fixture(scope="session")
def store_template(tmp_path_factory: pytest.TempPathFactory, busybox_tar: Path) -> Path:
    """A store holding busybox:test, made once: each case starts from a copy of it."""
    slipway = helpers.Slipway(tmp_path_factory.mktemp("security-template") / "store")
    helpers.import_busybox(slipway, busybox_tar)
    return slipway.root


@pytest.fixture
def store(tmp_path: Path, store_template: Path) -> Iterator[Any]:
    """A fresh store with busybox:test; nothing may stay mounted under it."""
    slipway = helpers.Slipway(tmp_path / "store")
    shutil.copytree(store_template, slipway.root, symlinks=True)
    yield slipway
    left = helpers.mounts_under(slipway.root)
    for line in reversed(left):  # only so one failure does not leave mounts on the machine
        subprocess.run(["umount", "--lazy", line.split()[1]], capture_output=True, check=False)
    assert not left, f"left mounted: {left}"
