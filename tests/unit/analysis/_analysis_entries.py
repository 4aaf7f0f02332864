"""LayerEntry values for the analysis tests, written the short way."""

from __future__ import annotations

from slipway.image.layers import LayerEntry


def file(path: str, size: int = 0, mode: int = 0o644, uid: int = 0, gid: int = 0) -> LayerEntry:
    return LayerEntry(path, "file", size, mode, uid, gid, "")


def directory(path: str) -> LayerEntry:
    return LayerEntry(path, "dir", 0, 0o755, 0, 0, "")


def symlink(path: str, target: str) -> LayerEntry:
    return LayerEntry(path, "symlink", 0, 0o777, 0, 0, target)


def whiteout(path: str) -> LayerEntry:
    return LayerEntry(path, "whiteout", 0, 0, 0, 0, "")


def opaque(path: str) -> LayerEntry:
    return LayerEntry(path, "opaque", 0, 0, 0, 0, "")
