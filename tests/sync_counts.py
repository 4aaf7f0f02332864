"""Counting what reaches the disk in a test: os.fsync calls and syncfs(2) calls (slipway's one helper for it)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from slipway.worker import snapshots as worker_snapshots


class SyncCounts:
    """os.fsync and syncfs calls from now until the monkeypatch is undone; the real calls still run."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.fsyncs = 0
        self.syncfs: list[Path] = []
        real_fsync, real_syncfs = os.fsync, worker_snapshots.sync_filesystem

        def fsync(fd: int) -> None:
            self.fsyncs += 1
            real_fsync(fd)

        def syncfs(path: Path) -> None:
            self.syncfs.append(path)
            real_syncfs(path)

        monkeypatch.setattr(os, "fsync", fsync)
        monkeypatch.setattr(worker_snapshots, "sync_filesystem", syncfs)
