"""What a killed process left in a store, found and undone by whoever opens the store next.

A process that dies without cleaning up leaves its leases (mounts, containers, holds: leases.py) and its work
dir <root>/tmp/<pid>-<start>-<rand>. `recover` undoes both, leases first: a work dir holds the mount points
and the runtime's state that undoing a lease needs, and is removed only once nothing is mounted in it.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from slipway.errors import MountError
from slipway.store._owners import is_alive, parse_owner
from slipway.store.leases import Leases, describe_lease
from slipway.store.locks import file_lock

__all__ = [
    "dead_work_dirs",
    "detach_unexplained_mounts",
    "leftover_problems",
    "recover",
    "remove_tree",
    "unexplained_mounts",
]

log = logging.getLogger(__name__)


def recover(root: Path, leases: Leases) -> list[str]:
    """Undo the leases of dead processes and remove their work dirs; what was done, one line each."""
    tmp = root / "tmp"
    if not leases.dead() and not dead_work_dirs(tmp):
        return []
    # One recoverer at a time: another must not remove a work dir while this one still needs the runtime
    # state in it to delete a container.
    with file_lock(root / "locks" / "recovery.lock"):
        done = leases.reap()
        for path in dead_work_dirs(tmp):
            detached, is_clear = _detach_mounts_under(path)
            done += detached
            if is_clear:
                remove_tree(path)
                done.append(f"work dir {path} of process {path.name.split('-')[0]}, which is gone: removed")
    for line in done:
        log.debug("recovered: %s", line)
    return done


def dead_work_dirs(tmp: Path) -> list[Path]:
    with os.scandir(tmp) as entries:
        names = [entry.name for entry in entries]
    return [tmp / name for name in names if parse_owner(name) is not None and not is_alive(name)]


def unexplained_mounts(root: Path, leases: Leases) -> list[Path]:
    """Mounts below `root` that no lease records: left by a slipway from before leases, or by a cleanup
    that was cut short. Listed twice around the lease query, so a mount made or unmounted meanwhile (its
    lease written before and removed after) is never taken for one."""
    from slipway.worker.mounts import mount_points_under

    before = set(mount_points_under(root))
    if not before:
        return []
    recorded = {Path(target) for target in leases.mount_targets()}
    after = set(mount_points_under(root))
    return sorted((before & after) - recorded)


def detach_unexplained_mounts(root: Path, leases: Leases) -> None:
    from slipway.worker.mounts import detach

    for point in unexplained_mounts(root, leases):
        log.debug("unmounting %s, which no lease explains", point)
        try:
            detach(point)
        except MountError as err:
            log.debug("cannot detach %s: %s", point, err)  # `system check` goes on reporting it


def leftover_problems(root: Path, leases: Leases) -> list[str]:
    """For `check`: what dead processes left that could not be undone, and mounts no lease explains."""
    problems = [
        f"{describe_lease(row)}, which is gone, could not be undone (prune tries again)"
        for row in leases.dead()
    ]
    problems += [
        f"work dir {path} of a process that is gone could not be removed"
        for path in dead_work_dirs(root / "tmp")
    ]
    problems += [
        f"mount at {point} that no slipway process recorded (prune unmounts it)"
        for point in unexplained_mounts(root, leases)
    ]
    return problems


def remove_tree(path: Path) -> None:
    try:
        shutil.rmtree(path)
    except FileNotFoundError:
        pass
    except OSError as err:
        log.debug("cannot remove %s: %s", path, err)


def _detach_mounts_under(path: Path) -> tuple[list[str], bool]:
    """Detach whatever is mounted in a dead process's work dir, recorded or not: a tree removal would go on
    into a mounted file system (and delete through a writable overlay). What was done, and whether nothing
    is mounted there any more."""
    from slipway.worker.mounts import detach, mount_points_under

    done, is_clear = [], True
    for point in mount_points_under(path):
        try:
            detach(point)
        except MountError as err:
            log.debug("cannot detach %s: %s", point, err)
            is_clear = False
            continue
        done.append(f"mount at {point} in the work dir of a process that is gone: unmounted")
    return done, is_clear
