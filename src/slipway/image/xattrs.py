"""Extended attributes that an archive (an image layer, an ADD archive) asks for: which are refused, and setting one.

overlayfs keeps its own bookkeeping in `trusted.overlay.*` (`user.overlay.*` when mounted with userxattr;
fuse-overlayfs in `user.fuseoverlayfs.*`):
an archive must not set those (a crafted trusted.overlay.redirect would make overlay resolve names elsewhere
in the lower layers), so they are dropped. An attribute the kernel rejects — a `security.capability` whose
value is not a valid capability set gives EINVAL — makes the entry bad: containerd and Docker refuse such a
layer ("failed to setxattr"), and so does slipway, with one line naming the entry and the attribute. Where
the file system has no xattrs at all (ENOTSUP), or a non-root user may not set a `security.*` one (EPERM),
the attribute is skipped with a warning, as containerd and Docker skip it.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Iterator, Mapping

from slipway.choices import is_rootless
from slipway.errors import ArchiveError

__all__ = [
    "PAX_PREFIX",
    "REFUSED_PREFIXES",
    "is_refused",
    "overlay_opaque_xattr",
    "requested_xattrs",
    "set_xattr",
]

log = logging.getLogger(__name__)

PAX_PREFIX = "SCHILY.xattr."
REFUSED_PREFIXES = ("trusted.overlay.", "user.overlay.", "user.fuseoverlayfs.")
_SKIPPED = (errno.ENOTSUP, errno.EOPNOTSUPP)


def overlay_opaque_xattr() -> str:
    """The xattr that marks an opaque directory in an upper dir: rootless slipway mounts overlay with userxattr
    (the kernel keeps `trusted.*` for the host's root), so its snapshots use overlay's `user.*` names."""
    return "user.overlay.opaque" if is_rootless() else "trusted.overlay.opaque"


def is_refused(name: str) -> bool:
    return name.startswith(REFUSED_PREFIXES)


def requested_xattrs(pax_headers: Mapping[str, str], entry: str) -> Iterator[tuple[str, bytes]]:
    """(name, value) of each xattr an entry's PAX headers carry, overlay's own dropped."""
    for key, value in pax_headers.items():
        if not key.startswith(PAX_PREFIX):
            continue
        name = key[len(PAX_PREFIX) :]
        if is_refused(name):
            log.debug("dropping xattr %s of %s", name, entry)
            continue
        yield name, value.encode("utf-8", "surrogateescape")


def set_xattr(target: int | str, name: str, value: bytes, *, entry: str, archive: str) -> None:
    """Set xattr `name` on `target` (an fd, or a path whose last component is not followed). ArchiveError,
    naming `entry` of `archive`, if the kernel rejects it; skipped with a warning where xattrs cannot be set."""
    try:
        if isinstance(target, int):
            os.setxattr(target, name, value)
        else:
            os.setxattr(target, name, value, follow_symlinks=False)
    except OSError as err:
        if err.errno in _SKIPPED or (err.errno == errno.EPERM and os.geteuid() != 0):
            log.warning("%s: xattr %s of %r not set (%s); skipped", archive, name, entry, err.strerror)
            return
        reason = "an invalid value" if err.errno == errno.EINVAL else err.strerror
        raise ArchiveError(
            f"{archive} entry {entry!r} has an extended attribute {name} that cannot be set ({reason}); "
            "the archive is corrupt or was made for another system"
        ) from err
