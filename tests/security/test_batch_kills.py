"""kill -9 inside the window a blob batch opens (pull and load write their blobs in one: store/blob_batch.py):
after the one sync, between the renames into place, and after the renames before the image record. The
next command finds a whole store (`system check` clean, no image half-made, nothing in tmp/), and the same
load then succeeds. The kill is the process's own, at the exact moment, from a patch of the store's code."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from _crash import DirectSlipway, assert_store_is_whole, describe, helpers, store_with_busybox

pytestmark = pytest.mark.root

busybox_rootfs = helpers.busybox_rootfs
busybox_tar = helpers.busybox_tar

# Loads `archive` into the store at `root` through the Python API, killing itself with SIGKILL at `moment`.
KILLED_LOAD = """
import os, signal, sys
from pathlib import Path
from slipway.export.docker_archive import load_archive
from slipway.store import Store, blob_files, images
from slipway.worker import snapshots

root, archive, moment = Path(sys.argv[1]), sys.argv[2], sys.argv[3]

def die():
    os.kill(os.getpid(), signal.SIGKILL)

real_sync, real_place, real_add = snapshots.sync_filesystem, blob_files.BlobFiles.place, images.Images.add
placed = []

def sync(path):
    real_sync(path)
    if moment == "after-sync":
        die()

def place(self, path, digest):
    placed.append(real_place(self, path, digest))
    if moment == "between-renames" and len(placed) == 2:
        die()
    return placed[-1]

def add(self, *args, **kwargs):
    if moment == "before-records":
        die()
    return real_add(self, *args, **kwargs)

snapshots.sync_filesystem, blob_files.BlobFiles.place, images.Images.add = sync, place, add
with Store.open(root) as store, open(archive, "rb") as source:
    load_archive(store, source, archive)
print("not killed")
"""


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, busybox_tar: Path) -> Path:
    work = tmp_path_factory.mktemp("batch-kills")
    source = store_with_busybox(work / "source", busybox_tar)
    saved = work / "busybox.tar"
    source.ok("save", "-o", str(saved), "busybox:test")
    return saved


@pytest.fixture
def slipway(tmp_path: Path) -> Iterator[DirectSlipway]:
    yield DirectSlipway(tmp_path / "store")


@pytest.mark.parametrize("moment", ["after-sync", "between-renames", "before-records"])
def test_a_load_killed_inside_its_blob_batch_leaves_a_whole_store(
    slipway: DirectSlipway, archive: Path, moment: str
) -> None:
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_LOAD, str(slipway.root), str(archive), moment],
        capture_output=True,
        text=True,
        check=False,
    )
    assert killed.returncode == -9, describe(killed)

    assert_store_is_whole(slipway)
    assert "busybox" not in slipway.ok("images").stdout  # no record of a half-loaded image
    assert not list((slipway.root / "blobs" / "sha256").iterdir())  # what it placed was collected
    assert "Loaded image: busybox:test" in slipway.ok("load", "-i", str(archive)).stdout
    assert slipway.run_output("busybox:test", "echo", "whole") == "whole\n"
