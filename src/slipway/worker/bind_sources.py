"""What a RUN --mount=type=bind shows of a tree (the build context, a stage): what BuildKit would transfer.

BuildKit filters the context through .dockerignore before any step sees it, so an excluded file is as
invisible to a bind mount as to COPY. The tree is not copied for that: when it has exclusions, a read-only
overlay puts a layer of whiteouts (overlay's 0/0 character devices) for the excluded paths over it. That
layer comes from one walk of the mounted subtree that never descends into a directory the rules exclude
whole, so a large context with few exclusions costs a directory walk, not a copy. A `rw` mount gets a
throwaway upper dir on top: BuildKit, too, discards what a RUN writes there.

The source path resolves inside the tree, one component at a time from its fd (a symlink in it never
leads out of it). The runtime is given the resolved path: it mounts in the container's mount namespace,
where an fd of ours (/proc/<pid>/fd/<n>) cannot be mounted, and the trees are read-only to the build (the
context, an overlay view of committed snapshots, or the filtered view made here), so the path still names
what was resolved. Symlinks inside the mounted tree stay symlinks, resolved by the container in its own
file system, as BuildKit copies them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from slipway.errors import ContextError
from slipway.worker.rootpath import DIRECTORY, Root
from slipway.worker.snapshots import MountLedger, overlay_mount

__all__ = ["bind_source"]

Predicate = Callable[[str], bool]


@contextmanager
def bind_source(
    tree: Path,
    source: str,
    work: Path,
    *,
    ledger: MountLedger | None,
    is_excluded: Predicate | None = None,
    can_skip_dir: Predicate | None = None,
    writable: bool = False,
) -> Iterator[Path]:
    """A path to bind-mount for `source` of `tree`, valid inside the block; `work` is an empty dir of this
    step's for the overlay's layers, `ledger` records the overlay mount (see overlay_mount)."""
    with ExitStack() as stack:
        view = tree
        if is_excluded is not None or writable:
            view = stack.enter_context(
                _filtered_view(tree, source, work, ledger, is_excluded, can_skip_dir, writable)
            )
        with Root(view) as root:
            try:
                fd, name, parts = root.walk(source, follow_last=True)
            except OSError as err:
                raise ContextError(
                    f"RUN --mount=type=bind,source={source}: not found ({err.strerror})"
                ) from err
            os.close(fd)
            if name and root.lstat("/".join((*parts, name))) is None:
                raise ContextError(f"RUN --mount=type=bind,source={source}: not found")
        yield view.joinpath(*parts, name) if name else view.joinpath(*parts)


@contextmanager
def _filtered_view(
    tree: Path,
    source: str,
    work: Path,
    ledger: MountLedger | None,
    is_excluded: Predicate | None,
    can_skip_dir: Predicate | None,
    writable: bool,
) -> Iterator[Path]:
    lowers = [tree]
    if is_excluded is not None:
        layer = work / "ignored"
        layer.mkdir(mode=0o755)
        with Root(tree) as tree_root, Root(layer) as layer_root:
            _write_whiteouts(_Whiteouts(tree_root, layer_root, is_excluded, can_skip_dir), source)
        lowers.append(layer)
    upper = work / "upper" if writable else None
    overlay_work = work / "work" if writable else None
    for directory in (upper, overlay_work):
        if directory is not None:
            directory.mkdir()
    with overlay_mount(lowers, work / "view", upper=upper, work=overlay_work, ledger=ledger) as view:
        yield view


class _Whiteouts:
    """A layer of whiteouts over `tree` for what `is_excluded` names."""

    def __init__(
        self, tree: Root, layer: Root, is_excluded: Predicate, can_skip_dir: Predicate | None
    ) -> None:
        self.tree = tree
        self.layer = layer
        self.is_excluded = is_excluded
        self.can_skip_dir = can_skip_dir
        self.made: list[str] = []  # layer dirs, parents first: their times are set once all is in

    def hide_below(self, directory: str) -> bool:
        """Whiteouts for what is excluded below `directory` (a real directory of the tree, resolved);
        True if anything below stays visible."""
        fd = self.tree.open_exact(directory)
        try:
            with os.scandir(fd) as scan:
                listing = sorted((entry.name, entry.is_dir(follow_symlinks=False)) for entry in scan)
        finally:
            os.close(fd)
        visible = False
        for name, is_dir in listing:
            path = f"{directory}/{name}" if directory else name
            excluded = self.is_excluded(path)
            whole = excluded and (not is_dir or (self.can_skip_dir is not None and self.can_skip_dir(path)))
            if is_dir and not whole and self.hide_below(path):
                visible = True  # a directory with something visible below stays, excluded or not
            elif excluded:
                self.whiteout(path)
            else:
                visible = True
        return visible

    def whiteout(self, path: str) -> None:
        directory, _, name = path.rpartition("/")
        parent = self._layer_dir(directory)
        try:
            with contextlib.suppress(FileNotFoundError):
                shutil.rmtree(name, dir_fd=parent)  # a directory whose whole content turned out hidden
            os.mknod(name, stat.S_IFCHR, os.makedev(0, 0), dir_fd=parent)
        finally:
            os.close(parent)

    def finish(self) -> None:
        # overlay shows the topmost layer's attributes for a directory in several: the tree's, exactly.
        for directory in reversed(self.made):
            info = self.tree.lstat(directory)
            try:
                fd = self.layer.open_exact(directory)
            except OSError:
                continue  # turned into a whiteout of its own
            assert info is not None
            try:
                os.chown(fd, info.st_uid, info.st_gid)
                os.chmod(fd, stat.S_IMODE(info.st_mode))
                os.utime(fd, ns=(info.st_atime_ns, info.st_mtime_ns))
            finally:
                os.close(fd)

    def _layer_dir(self, directory: str) -> int:
        fd = os.open(".", DIRECTORY, dir_fd=self.layer.fd)
        done: list[str] = []
        for part in directory.split("/") if directory else []:
            done.append(part)
            try:
                os.mkdir(part, 0o700, dir_fd=fd)
                self.made.append("/".join(done))
            except FileExistsError:
                pass
            next_fd = os.open(part, DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = next_fd
        return fd


def _write_whiteouts(whiteouts: _Whiteouts, source: str) -> None:
    fd, name, parts = whiteouts.tree.walk(source, follow_last=True)
    os.close(fd)
    start = "/".join([*parts, name] if name else parts)
    info = whiteouts.tree.lstat(start)
    if info is None:
        raise ContextError(f"RUN --mount=type=bind,source={source}: not found in the build context")
    excluded = bool(start) and whiteouts.is_excluded(start)
    visible = stat.S_ISDIR(info.st_mode) and whiteouts.hide_below(start)
    if excluded and not visible:
        raise ContextError(f"RUN --mount=type=bind,source={source}: not found (excluded by .dockerignore)")
    whiteouts.finish()
