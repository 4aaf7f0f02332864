"""Fixtures of the export tests: a fresh store root per test (helpers live in _archive_images.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from slipway.store import Store


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "root"


@pytest.fixture
def store(root: Path) -> Iterator[Store]:
    with Store.open(root) as opened:
        yield opened
