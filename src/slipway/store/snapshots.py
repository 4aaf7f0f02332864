"""Snapshot directories on disk: <root>/snapshots/<id>/{fs,work}.

`fs` is the unpacked tree (an overlay lowerdir, or the upperdir while a RUN writes it); `work` is overlay's
workdir beside it, on the same file system as overlay requires. The rows that say which snapshot is which
live in meta.db (the snapshotter, snapshotter.py, keeps both); this module makes and removes the directories,
and pairs rows with them.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path

from slipway.errors import StoreError
from slipway.store._owners import is_alive
from slipway.store.meta import SnapshotRow
from slipway.store.records import SnapshotRecord

__all__ = ["SnapshotDirs", "tree_size"]


class SnapshotDirs:
    def __init__(self, directory: Path, trash: Path) -> None:
        self.directory = directory
        self._trash = trash  # on the same file system: a removal is a rename, then a slow delete

    def fs(self, snapshot_id: int) -> Path:
        return self.directory / str(snapshot_id) / "fs"

    def work(self, snapshot_id: int) -> Path:
        return self.directory / str(snapshot_id) / "work"

    def create(self, snapshot_id: int) -> None:
        base = self.directory / str(snapshot_id)
        if base.exists():
            self.remove(snapshot_id)  # left by a process that died between its row and its directory
        base.mkdir(mode=0o700)
        self.fs(snapshot_id).mkdir(mode=0o755)
        self.work(snapshot_id).mkdir(mode=0o700)

    def remove(self, snapshot_id: int) -> int:
        """Delete a snapshot's directory; the bytes freed (0 if it was not there)."""
        base = self.directory / str(snapshot_id)
        doomed = Path(tempfile.mkdtemp(prefix=f"snapshot-{snapshot_id}-", dir=self._trash))
        try:
            os.rename(base, doomed / "tree")
        except FileNotFoundError:
            shutil.rmtree(doomed)
            return 0
        size = tree_size(doomed)
        try:
            shutil.rmtree(doomed)
        except OSError as err:
            raise StoreError(f"cannot delete snapshot {snapshot_id} (moved to {doomed}): {err}") from err
        return size

    def ids(self) -> set[int]:
        with os.scandir(self.directory) as entries:
            return {int(entry.name) for entry in entries if entry.name.isdigit()}

    def record(self, row: SnapshotRow) -> SnapshotRecord:
        """The snapshot a meta.db row describes, with its directories."""
        return SnapshotRecord(
            id=row.id,
            parent=row.parent,
            path=self.fs(row.id),
            work=self.work(row.id),
            chain_id=row.chain_id,
            diff_id=row.diff_id,
            committed=row.committed,
            created=row.created,
            unpacked=row.unpacked,
        )

    def problems(self, rows: list[SnapshotRow]) -> list[str]:
        """Rows and directories that do not agree: what `check` reports (gc removes the last two kinds)."""
        problems = [
            f"missing snapshot directory {self.fs(row.id)}"
            for row in rows
            if row.committed and row.unpacked and not self.fs(row.id).is_dir()
        ]
        problems += [
            f"unfinished snapshot {row.id} ({self.directory / str(row.id)}) of a process that is gone "
            "(gc removes it)"
            for row in rows
            if not row.committed and not (row.owner is not None and is_alive(row.owner))
        ]
        problems += [
            f"orphaned snapshot directory {self.directory / str(snapshot_id)} (gc removes it)"
            for snapshot_id in sorted(self.ids() - {row.id for row in rows})
        ]
        return problems


def tree_size(path: Path) -> int:
    """Bytes of the regular files under `path` (hardlinked files counted once). Walked by directory fds: a
    layer may hold a tree deeper than PATH_MAX."""
    total = 0
    seen: set[tuple[int, int]] = set()
    for _, _, names, dir_fd in os.fwalk(path):
        for name in names:
            info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            if not stat.S_ISREG(info.st_mode):
                continue
            if info.st_nlink > 1:
                if (info.st_dev, info.st_ino) in seen:
                    continue
                seen.add((info.st_dev, info.st_ino))
            total += info.st_size
    return total
