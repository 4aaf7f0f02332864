"""The overlay mount data a step's snapshot is mounted with: volatile where the kernel has it (5.10 and later),
so the unmount does not sync the file system while the build waits; without it where the kernel would refuse
the mount."""

from __future__ import annotations

from pathlib import Path

import pytest

from slipway.errors import MountError
from slipway.worker import snapshots
from slipway.worker.snapshots import kernel_release, overlay_options


@pytest.mark.parametrize(
    ("release", "expected"),
    [("6.1.0-18-amd64", (6, 1)), ("5.10.0", (5, 10)), ("5.4.0-150-generic", (5, 4)), ("4.19", (4, 19))],
)
def test_kernel_release_reads_major_and_minor(release: str, expected: tuple[int, int]) -> None:
    assert kernel_release(release) == expected


@pytest.mark.parametrize(("release", "volatile"), [("6.1.0-18-amd64", True), ("5.4.0-150-generic", False)])
def test_a_writable_overlay_is_volatile_only_where_the_kernel_takes_it(
    monkeypatch: pytest.MonkeyPatch, release: str, volatile: bool
) -> None:
    monkeypatch.setattr(snapshots, "kernel_release", lambda: kernel_release(release))
    writable = overlay_options([Path("/l1"), Path("/l2")], Path("/up"), Path("/work")).split(",")
    assert ("volatile" in writable) is volatile
    assert "upperdir=/up" in writable and "workdir=/work" in writable
    read_only = overlay_options([Path("/l1")]).split(",")
    assert "volatile" not in read_only


def test_more_layers_than_overlayfs_stacks_is_one_clear_error() -> None:
    """The kernel answers 501 lower dirs with a bare EINVAL ("wrong fs type, bad option"): say what it is."""
    lowers = [Path(f"/s/{n}") for n in range(snapshots.MAX_LOWERS)]
    assert overlay_options(lowers, relative_to=Path("/s")).startswith("lowerdir=")
    with pytest.raises(MountError, match=r"cannot mount 501 layers: overlayfs stacks at most 500"):
        overlay_options([*lowers, Path("/s/last")], relative_to=Path("/s"))
