"""Reading streams that may be compressed: sniffed by their magic bytes, decompressed as they are read.

Archives, rootfs tars and ADD's local archives come from outside with no trustworthy media type, so the
content decides; layer blobs are sniffed too, as docker does (the one reader family: export's archive
readers, the worker's ADD and image/compression's layer reader all open their streams here).
Every failure of a decompressor (truncated, corrupt) surfaces as one of `decompression_errors()`, which
`GuardedReader` turns into CorruptStream, or into the caller's own ArchiveError naming the stream. The gzip
and zstd libraries load with the first stream that needs them (a build that reads none imports neither).
"""

from __future__ import annotations

import bz2
import io
import lzma
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO, Literal, Protocol, cast

Compression = Literal["gzip", "zstd", "bzip2", "xz", "none"]

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
BZIP2_MAGIC = b"BZh"
XZ_MAGIC = b"\xfd7zXZ\x00"

CHUNK = 1 << 20


def decompression_errors() -> tuple[type[BaseException], ...]:
    """What a decompressor raises on a truncated or corrupt stream. Asked in `except` clauses, so only once
    something failed."""
    import zstandard
    from isal import isal_zlib

    return (EOFError, OSError, zlib.error, isal_zlib.error, zstandard.ZstdError, lzma.LZMAError)


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class CorruptStream(Exception):
    """A decompressor failed on the input (not on our side): callers turn it into an ArchiveError."""


def _corrupt(err: BaseException) -> CorruptStream:
    return CorruptStream(str(err) or type(err).__name__)


class GuardedReader(io.RawIOBase):
    """Reads from a decompressing stream; its failures become CorruptStream (or what `wrap` makes of them),
    so a failing disk is not mistaken for a bad archive (both raise OSError otherwise)."""

    def __init__(self, source: Readable, wrap: Callable[[BaseException], Exception] = _corrupt) -> None:
        self._source = source
        self._wrap = wrap

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        readinto = getattr(self._source, "readinto", None)
        if readinto is not None:  # into the caller's buffer: no bytes object per read
            try:
                return int(readinto(view) or 0)
            except decompression_errors() as err:
                raise self._wrap(err) from err
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def read(self, size: int = -1) -> bytes:
        try:
            return self._source.read(size)
        except decompression_errors() as err:
            raise self._wrap(err) from err


class _InflatingReader(io.RawIOBase):
    """A gzip file whose `readinto` inflates straight into the caller's buffer (ISA-L, the GIL released): its
    own inner reader's, which gzip.GzipFile keeps as `_buffer` (since Python 3.5), where GzipFile's readinto
    would make a bytes object of each read and copy it. `read` is the gzip file's."""

    def __init__(self, file: Any) -> None:
        super().__init__()
        self._file = file
        self._inner = getattr(file, "_buffer", file)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        return int(self._inner.readinto(buffer))

    def read(self, size: int = -1) -> bytes:
        return bytes(self._file.read(size))

    def close(self) -> None:
        self._file.close()
        super().close()


def sniff(head: bytes) -> Compression:
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    if head.startswith(BZIP2_MAGIC):
        return "bzip2"
    if head.startswith(XZ_MAGIC):
        return "xz"
    return "none"


class PrefixedReader(io.RawIOBase):
    """Bytes already read for sniffing, then the rest of the stream: sniffing works on pipes too."""

    def __init__(self, prefix: bytes, rest: BinaryIO) -> None:
        self._prefix = prefix
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        if self._prefix:
            count = min(len(view), len(self._prefix))
            view[:count] = self._prefix[:count]
            self._prefix = self._prefix[count:]
            return count
        readinto = getattr(self._rest, "readinto", None)
        if readinto is not None:  # straight into the reader's buffer: no bytes object per read
            return int(readinto(view) or 0)
        data = self._rest.read(len(view))
        view[: len(data)] = data
        return len(data)


class ZstdReader(io.RawIOBase):
    """Concatenated zstd frames; unlike zstandard's stream_reader, a frame cut short raises EOFError."""

    def __init__(self, source: BinaryIO) -> None:
        self._source = source
        self._decompressor = _zstd_decompressor()
        self._pending = b""
        self._in_frame = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        while not self._pending:
            data = self._source.read(CHUNK)
            if not data:
                if self._in_frame:
                    raise EOFError("zstd stream ended in the middle of a frame")
                return 0
            self._pending = self._feed(data)
        count = min(len(view), len(self._pending))
        view[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count

    def _feed(self, data: bytes) -> bytes:
        output = []
        while data:
            self._in_frame = True
            output.append(self._decompressor.decompress(data))
            if not self._decompressor.eof:
                break
            self._in_frame = False
            data = self._decompressor.unused_data
            self._decompressor = _zstd_decompressor()
        return b"".join(output)


def _zstd_decompressor() -> Any:
    import zstandard

    return zstandard.ZstdDecompressor().decompressobj()


def read_exactly(source: Readable, size: int) -> bytes:
    """`size` bytes of `source`, fewer only at its end: a pipe may hand out fewer bytes than asked."""
    data = b""
    while len(data) < size:
        chunk = source.read(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def read_head(source: BinaryIO) -> tuple[bytes, PrefixedReader]:
    """The first bytes of `source` and a reader that still yields them (unbuffered: the decompressors read
    large blocks of their own; whoever reads the uncompressed stream itself gets it buffered)."""
    head = read_exactly(source, 8)
    return head, PrefixedReader(head, source)


@contextmanager
def decompressed(source: BinaryIO, *, gzip_thread: bool = False) -> Iterator[tuple[Compression, BinaryIO]]:
    """The uncompressed bytes of `source`, whichever of gzip, zstd, bzip2, xz or none it is.

    `gzip_thread`: gzip is decompressed ahead of the reader in a thread of its own, in blocks, for a stream
    read whole (a layer); a stream cut short then fails at its first read, not after the bytes before the
    cut, so whoever sniffs an archive by its first block (ADD) reads without it."""
    head, raw = read_head(source)
    compression = sniff(head)
    stream = cast(BinaryIO, raw)
    reader: BinaryIO
    # The readers are closed in the `finally` below, whichever one it is.
    match compression:
        case "gzip":
            from isal import igzip, igzip_threaded

            if gzip_thread:  # ISA-L releases the GIL: decompressing overlaps with reading the tar
                reader = igzip_threaded.open(stream, "rb", threads=1, block_size=CHUNK)
            else:
                reader = _InflatingReader(igzip.IGzipFile(fileobj=stream, mode="rb"))  # type: ignore[assignment]
        case "zstd":
            reader = io.BufferedReader(ZstdReader(stream), CHUNK)
        case "bzip2":
            reader = bz2.BZ2File(stream, mode="rb")  # type: ignore[assignment]
        case "xz":
            reader = lzma.LZMAFile(stream, mode="rb")  # type: ignore[assignment]  # noqa: SIM115
        case "none":
            reader = io.BufferedReader(raw, CHUNK)
    try:
        yield compression, reader
    finally:
        reader.close()
