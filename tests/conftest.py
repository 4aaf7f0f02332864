"""Shared fixtures. Integration tests need root, overlayfs and runc: CI runs them as root, for real."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"{SHARED} is missing: the conformance vectors live in ../shared beside the checkout")
    return SHARED
