"""A deterministic tar for image archives: entries sorted by name, fixed mtime, owner 0:0, no user names.

Saving the same images twice must give byte-identical archives, so nothing of the machine, the clock or
the order of the store leaks into the bytes.
"""

from __future__ import annotations

import io
import os
import posixpath
import shutil
import tarfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

StreamOpener = Callable[[], AbstractContextManager[BinaryIO]]

ARCHIVE_MTIME = 0
# tarfile's default is 16 KiB a read; past 128 KiB each read's buffer is a fresh mmap. 64 KiB measured best.
COPY_BUFFER = 64 << 10


@dataclass(frozen=True, slots=True)
class TarEntry:
    name: str
    data: bytes | None = None  # small documents (JSON) ...
    path: Path | None = None  # ... or a file on disk (blobs), streamed
    stream: StreamOpener | None = None  # ... or `size` bytes made as they are read (deferred layers)
    size: int = 0


class TarPlan:
    """Entries collected by name (the last one for a name wins), written sorted with their parent dirs."""

    def __init__(self) -> None:
        self._entries: dict[str, TarEntry] = {}

    def add_bytes(self, name: str, data: bytes) -> None:
        self._entries[name] = TarEntry(name=name, data=data)

    def add_file(self, name: str, path: Path) -> None:
        self._entries[name] = TarEntry(name=name, path=path)

    def add_stream(self, name: str, size: int, open_stream: StreamOpener) -> None:
        self._entries[name] = TarEntry(name=name, stream=open_stream, size=size)

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def directories(self) -> list[str]:
        found: set[str] = set()
        for name in self._entries:
            parent = posixpath.dirname(name)
            while parent:
                found.add(parent)
                parent = posixpath.dirname(parent)
        return sorted(found)

    def write(self, out: BinaryIO) -> None:
        # PAX only where a value needs it (sizes past 8 GiB); the closing blocks are written on close.
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            tar.copybufsize = COPY_BUFFER  # type: ignore[attr-defined]  # a TarFile attribute the stubs omit
            for directory in self.directories():
                tar.addfile(_header(directory + "/", tarfile.DIRTYPE, 0o755, 0))
            for name in sorted(self._entries):
                entry = self._entries[name]
                if entry.data is not None:
                    tar.addfile(
                        _header(name, tarfile.REGTYPE, 0o644, len(entry.data)), io.BytesIO(entry.data)
                    )
                elif entry.stream is not None:
                    with entry.stream() as stream:
                        tar.addfile(_header(name, tarfile.REGTYPE, 0o644, entry.size), stream)
                else:
                    assert entry.path is not None
                    with open(entry.path, "rb") as source:
                        size = source.seek(0, io.SEEK_END)
                        source.seek(0)
                        tar.addfile(_header(name, tarfile.REGTYPE, 0o644, size), source)

    def write_directory(self, dest: Path) -> None:
        """The same entries as files under `dest` (an OCI layout directory, `-o type=oci,tar=false`); each
        file is written beside its name and renamed into place, so a reader never sees half of one."""
        for name in sorted(self._entries):
            entry = self._entries[name]
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{target.name}.partial")
            with open(partial, "wb") as out:
                if entry.data is not None:
                    out.write(entry.data)
                elif entry.stream is not None:
                    with entry.stream() as stream:
                        shutil.copyfileobj(stream, out, COPY_BUFFER)
                else:
                    assert entry.path is not None
                    with open(entry.path, "rb") as source:
                        shutil.copyfileobj(source, out, COPY_BUFFER)
            os.replace(partial, target)


def _header(name: str, kind: bytes, mode: int, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.size = size
    info.mtime = ARCHIVE_MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info
