"""A store on a small tmpfs filled by COPY, RUN, import, load and pull: each ends in one clean error naming
the step and "no space left on device under <root>", exits non-zero, and leaves the store exactly as it was
(images listed, `system check` clean, nothing in tmp/, nothing mounted, an earlier image still runs); once
space is freed the same command succeeds. And a disk filled by someone else still lets a user list, check
and free space.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from _store_helpers import (
    Registry,
    Slipway,
    StoreState,
    assert_nothing_left,
    describe,
    fill_until,
    import_busybox,
    make_busybox_tar,
    make_context,
    random_file,
    reserve_held,
    running_registry,
    small_tmpfs,
)

pytestmark = pytest.mark.root

MIB = 1 << 20
RESERVE = 8 * MIB  # slipway.store.space.RESERVE_BYTES
TOO_BIG = 16 * MIB  # what each failing command writes ...
FREE = 8 * MIB  # ... into this much free space


@dataclass(frozen=True)
class SmallStore:
    slipway: Slipway
    fs: Path  # the tmpfs the store lives on


@pytest.fixture(scope="module")
def busybox_tar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_busybox_tar(tmp_path_factory.mktemp("busybox"))


@pytest.fixture(scope="module")
def big_context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An image of two layers: 2 MiB, then TOO_BIG (random bytes: compression does not shrink them)."""
    context = make_context(
        tmp_path_factory.mktemp("big") / "context", "FROM busybox:test\nCOPY small /small\nCOPY big /big\n"
    )
    random_file(context / "small", 2 * MIB, seed=1)
    random_file(context / "big", TOO_BIG, seed=2)
    return context


@pytest.fixture(scope="module")
def big_store(tmp_path_factory: pytest.TempPathFactory, busybox_tar: Path, big_context: Path) -> Slipway:
    """A store on the ordinary disk with the big image, as `big:1`."""
    slipway = Slipway(tmp_path_factory.mktemp("big-store") / "store")
    import_busybox(slipway, busybox_tar)
    slipway.build_ok(big_context, "-t", "big:1")
    return slipway


@pytest.fixture
def small_store(tmp_path: Path, busybox_tar: Path) -> Iterator[SmallStore]:
    """A store on a 64 MiB tmpfs holding busybox and an image built from it (`earlier:1`)."""
    with small_tmpfs(tmp_path / "fs") as fs:
        slipway = Slipway(fs / "store")
        import_busybox(slipway, busybox_tar)
        context = make_context(tmp_path / "earlier", "FROM busybox:test\nRUN echo earlier > /earlier\n")
        slipway.build_ok(context, "-t", "earlier:1")
        yield SmallStore(slipway, fs)


def assert_clean_failure(result: subprocess.CompletedProcess[str], root: Path, *what: str) -> None:
    """One error line naming what failed and the full file system; non-zero exit; no traceback."""
    assert result.returncode == 1, describe(result)
    assert "Traceback" not in result.stderr, describe(result)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, describe(result)
    assert f"no space left on device under {root}" in errors[0], describe(result)
    for part in what:
        assert part in errors[0], describe(result)


def assert_intact(store: SmallStore, before: StoreState) -> None:
    assert_nothing_left(store.slipway, before)
    assert store.slipway.run_output("earlier:1", "cat", "/earlier") == "earlier\n"


def test_a_copy_that_fills_the_disk(small_store: SmallStore, big_context: Path, tmp_path: Path) -> None:
    slipway = small_store.slipway
    context = make_context(tmp_path / "ctx", "FROM busybox:test\nCOPY big /big\n")
    (context / "big").hardlink_to(big_context / "big")
    before = StoreState.of(slipway)
    filler = fill_until(small_store.fs, FREE)

    result = slipway.build(context, "-t", "big:1")

    assert_clean_failure(result, slipway.root, "COPY big /big")
    assert_intact(small_store, before)
    filler.unlink()
    slipway.build_ok(context, "-t", "big:1")
    assert slipway.run_output("big:1", "wc", "-c", "/big").split()[0] == str(TOO_BIG)
    assert reserve_held(slipway) == RESERVE


@pytest.mark.parametrize("count", ["count=16", "count=1000000"], ids=["bounded", "until-full"])
def test_a_run_that_fills_the_disk(small_store: SmallStore, tmp_path: Path, count: str) -> None:
    slipway = small_store.slipway
    context = make_context(
        tmp_path / "ctx", f"FROM busybox:test\nRUN dd if=/dev/urandom of=/fill bs=1M {count}\n"
    )
    before = StoreState.of(slipway)
    filler = fill_until(small_store.fs, FREE)

    result = slipway.build(context, "-t", "filled:1")

    assert_clean_failure(result, slipway.root, "RUN dd if=/dev/urandom", "exited with code 1")
    assert_intact(small_store, before)
    filler.unlink()
    if count == "count=16":
        slipway.build_ok(context, "-t", "filled:1")
        assert slipway.run_output("filled:1", "wc", "-c", "/fill").split()[0] == str(TOO_BIG)
        assert reserve_held(slipway) == RESERVE


def test_an_import_that_fills_the_disk(small_store: SmallStore, tmp_path: Path, busybox_tar: Path) -> None:
    slipway = small_store.slipway
    archive = tmp_path / "rootfs.tar"
    subprocess.run(["cp", str(busybox_tar), str(archive)], check=True)
    random_file(tmp_path / "add" / "big", TOO_BIG, seed=3)
    subprocess.run(["tar", "-rf", str(archive), "-C", str(tmp_path / "add"), "big"], check=True)
    before = StoreState.of(slipway)
    filler = fill_until(small_store.fs, FREE)

    result = slipway("import", str(archive), "imported:1")

    assert_clean_failure(result, slipway.root, f"importing {archive}")
    assert_intact(small_store, before)
    filler.unlink()
    slipway.ok("import", str(archive), "imported:1")
    assert any(row.startswith("imported 1 ") for row in StoreState.of(slipway).images)


def test_a_load_that_fills_the_disk(small_store: SmallStore, big_store: Slipway, tmp_path: Path) -> None:
    slipway = small_store.slipway
    archive = tmp_path / "big.tar"
    big_store.ok("save", "-o", str(archive), "big:1")
    before = StoreState.of(slipway)
    filler = fill_until(small_store.fs, FREE)

    result = slipway("load", "-i", str(archive))

    assert_clean_failure(result, slipway.root)
    assert_intact(small_store, before)
    filler.unlink()
    assert "Loaded image: big:1" in slipway.ok("load", "-i", str(archive)).stdout
    assert slipway.run_output("big:1", "wc", "-c", "/big").split()[0] == str(TOO_BIG)


def test_a_load_needs_room_for_its_blobs_once(
    small_store: SmallStore, big_store: Slipway, tmp_path: Path
) -> None:
    """The archive is read into the store's tmp/ and its blobs are moved into place from there, not copied
    a second time: a little more free space than the archive takes is enough."""
    slipway = small_store.slipway
    archive = tmp_path / "big.tar"
    big_store.ok("save", "-o", str(archive), "big:1")
    filler = fill_until(small_store.fs, archive.stat().st_size + 4 * MIB)

    assert "Loaded image: big:1" in slipway.ok("load", "-i", str(archive)).stdout

    assert "No problems found" in slipway.ok("system", "check").stdout
    assert not list((slipway.root / "tmp").iterdir())
    filler.unlink()  # a container's snapshots are another copy of the layers
    assert slipway.run_output("big:1", "wc", "-c", "/big").split()[0] == str(TOO_BIG)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with running_registry(tmp_path_factory.mktemp("registry")) as server:
        yield server


def test_a_pull_that_fills_the_disk(small_store: SmallStore, big_store: Slipway, registry: Registry) -> None:
    slipway = small_store.slipway
    name = f"{registry.host}/security/big:1"
    big_store.ok("push", "big:1", name)
    before = StoreState.of(slipway)
    filler = fill_until(small_store.fs, FREE)

    result = slipway("pull", name)

    assert_clean_failure(result, slipway.root, "writing a blob")
    assert_intact(small_store, before)
    filler.unlink()
    slipway.ok("pull", name)
    assert slipway.run_output(name, "wc", "-c", "/big").split()[0] == str(TOO_BIG)


def test_a_disk_filled_by_others_still_lists_checks_and_frees(
    small_store: SmallStore, tmp_path: Path
) -> None:
    slipway = small_store.slipway
    before = StoreState.of(slipway)
    filler = fill_until(small_store.fs, 0)

    assert StoreState.of(slipway) == before
    assert "No problems found" in slipway.ok("system", "check").stdout
    context = make_context(tmp_path / "ctx", "FROM busybox:test\nRUN echo more > /more\n")
    assert_clean_failure(slipway.build(context, "-t", "more:1"), slipway.root)
    assert_nothing_left(slipway, before)
    assert "Deleted: sha256:" in slipway.ok("rmi", "earlier:1").stdout
    slipway.ok("system", "prune", "-f")
    assert "No problems found" in slipway.ok("system", "check").stdout

    filler.unlink()
    slipway.build_ok(context, "-t", "more:1")
    assert slipway.run_output("more:1", "cat", "/more") == "more\n"
    assert reserve_held(slipway) == RESERVE
