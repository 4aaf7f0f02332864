"""The overlay driver choice (SLIPWAY_OVERLAY, else the probe's verdict kept in the store)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from slipway.errors import UsageError
from slipway.worker.overlay_driver import OVERLAY_CHOICE_FILE, choose_overlay_driver


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither variable set; both put back as they were after the test (choose_overlay_driver sets one)."""
    for name in ("SLIPWAY_OVERLAY", "SLIPWAY_ROOTLESS"):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)


def test_the_variable_forces_a_driver_for_the_rest_of_the_command(tmp_path: Path) -> None:
    os.environ["SLIPWAY_OVERLAY"] = "fuse-overlayfs"
    assert choose_overlay_driver(tmp_path) == "fuse-overlayfs"
    assert os.environ["SLIPWAY_OVERLAY"] == "fuse-overlayfs"
    assert not (tmp_path / OVERLAY_CHOICE_FILE).exists()  # forced: nothing probed, nothing kept


def test_another_value_is_a_usage_error_naming_the_choices(tmp_path: Path) -> None:
    os.environ["SLIPWAY_OVERLAY"] = "fuse"
    with pytest.raises(UsageError, match="SLIPWAY_OVERLAY=fuse: expected one of overlay, fuse-overlayfs"):
        choose_overlay_driver(tmp_path)


def test_root_mounts_with_the_kernels_overlay_without_a_probe(tmp_path: Path) -> None:
    assert choose_overlay_driver(tmp_path) == "overlay"
    assert not (tmp_path / OVERLAY_CHOICE_FILE).exists()


def test_a_rootless_slipway_takes_the_verdict_kept_in_the_store(tmp_path: Path) -> None:
    os.environ["SLIPWAY_ROOTLESS"] = "1000"
    (tmp_path / OVERLAY_CHOICE_FILE).write_text("fuse-overlayfs\n")
    assert choose_overlay_driver(tmp_path) == "fuse-overlayfs"
