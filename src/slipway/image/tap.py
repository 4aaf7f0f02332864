"""A layer measured while its compressed bytes are written elsewhere: the diff_id in the same pass as the digest.

Whoever copies a file into the store without knowing yet whether it is a layer (a load reading an archive, whose
manifest may come last) hands each chunk it writes to a tap as well; a pull knows, and measures in its own
thread instead (slipway.image.tee). A thread of the tap's own reads them as a stream and measures it (decompresses it,
hashes the tar, checks its entries), so the blob's bytes pass once through this process and are never read back
from the disk. The queue between them is bounded: memory does not grow with the layer, and a slow measurer
slows the writer down rather than falling behind.
"""

from __future__ import annotations

import io
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import BinaryIO, Generic, TypeVar, cast

__all__ = ["Tap", "tapped"]

T = TypeVar("T")

_QUEUED_CHUNKS = 32  # with 64 KiB chunks (the archive reader's): at most ~2 MiB in flight per layer
_END = b""  # the writer is done: the stream ends here


class _Abandoned(Exception):  # noqa: N818 - a signal between the two threads, never seen by a user
    """The writer gave up (its own error): the measurer stops at its next read."""


_ABANDON = object()


class _ChunkReader(io.RawIOBase):
    """The measurer's side: the chunks the writer queued, as a readable stream."""

    def __init__(self, chunks: queue.Queue[object]) -> None:
        super().__init__()
        self._chunks = chunks
        self._current = memoryview(b"")
        self.ended = False  # the writer's last item (the end or the abandon) was taken

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._current:
            if self.ended:
                return 0
            item = self._chunks.get()
            if item is _ABANDON:
                self.ended = True
                raise _Abandoned
            self._current = memoryview(cast(bytes, item))
            self.ended = not self._current
        view = memoryview(buffer).cast("B")
        count = min(len(view), len(self._current))
        view[:count] = self._current[:count]
        self._current = self._current[count:]
        return count

    def skip_rest(self) -> None:
        """Take what the writer still queues, up to its last item, so it never blocks on a full queue."""
        while not self.ended:
            item = self._chunks.get()
            self.ended = item is _ABANDON or not item


class Tap(Generic[T]):
    """The writer's side: `write` each chunk; once the `tapped` block has ended, `result` is the measure."""

    def __init__(self, measure: Callable[[BinaryIO], T], name: str) -> None:
        self._chunks: queue.Queue[object] = queue.Queue(maxsize=_QUEUED_CHUNKS)
        self._reader = _ChunkReader(self._chunks)
        self._measure = measure
        self._result: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def write(self, chunk: bytes) -> None:
        """Queue `chunk` (bytes: the measurer reads it later, so it must not change); the measurer's error, if
        it has failed already, so that the writer stops early."""
        if self._error is not None:
            raise self._error
        if chunk:
            self._chunks.put(bytes(chunk))

    @property
    def result(self) -> T:
        if self._thread.is_alive():
            raise RuntimeError("a tap's result is known once its block has ended")
        if self._error is not None:
            raise self._error
        return cast(T, self._result)

    def _run(self) -> None:
        try:
            self._result = self._measure(cast(BinaryIO, io.BufferedReader(self._reader, 1 << 20)))
        except BaseException as err:  # noqa: BLE001 - handed to the writer's thread
            self._error = err
        finally:
            self._reader.skip_rest()

    def _close(self, item: object) -> None:
        self._chunks.put(item)
        self._thread.join()


@contextmanager
def tapped(measure: Callable[[BinaryIO], T], *, name: str = "slipway-tap") -> Iterator[Tap[T]]:
    """A tap whose thread runs `measure` over the chunks written to it. When the block ends the stream ends,
    the thread is joined and the measurer's error (if any) is raised; when the block raises, the measurer is
    abandoned at its next read and the block's own error goes on."""
    tap = Tap(measure, name)
    try:
        yield tap
    except BaseException:
        tap._close(_ABANDON)
        raise
    tap._close(_END)
    if tap._error is not None:
        if isinstance(tap._error, _Abandoned):  # cannot happen once the end was queued; never hide a bug
            raise RuntimeError("a tap's measurer was abandoned after its stream ended")
        raise tap._error
