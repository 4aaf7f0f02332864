"""A blob fetched into the store and measured on the way: the measure reads the body through a tee that writes
each span it reads to the blob's file (slipway.image.tee), in the fetching thread, so the fetched blob is never
read back. A retried fetch starts a fresh measure."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import BinaryIO, Generic, TypeVar, cast

from slipway.image.oci import Digest
from slipway.image.tee import Readable, Tee
from slipway.store import BlobBatch, BlobWriter, ContentStore

T = TypeVar("T")


class _MeasuringSink(Generic[T]):
    def __init__(self, blob: BlobWriter, measure: Callable[[BinaryIO], T]) -> None:
        self._blob = blob
        self._measure = measure
        self.result: tuple[T] | None = None
        self.error: Exception | None = None

    def write_from(self, source: Readable, /) -> int:
        tee = Tee(source, self._blob.write)
        try:
            self.result = (self._measure(cast(BinaryIO, tee)),)
        except Exception as err:
            self.error = err  # raised once the blob's digest is checked: a corrupt blob says so first
        if tee.error is not None:  # the transfer or the disk failed, not the blob's content: as it was raised
            raise tee.error
        tee.drain()
        return tee.size


class Measured(Generic[T]):
    """An ingester into `into` that measures what it ingests; `result` once an ingest has ended."""

    def __init__(self, into: BlobBatch | ContentStore, measure: Callable[[BinaryIO], T]) -> None:
        self._into = into
        self._measure = measure
        self._result: tuple[T] | None = None

    @contextmanager
    def ingest(
        self, expected: Digest | None = None, expected_size: int | None = None
    ) -> Iterator[_MeasuringSink[T]]:
        with self._into.ingest(expected, expected_size) as blob:
            sink = _MeasuringSink(blob, self._measure)
            yield sink
        if sink.error is not None:
            raise sink.error
        if sink.result is None:
            raise RuntimeError("an ingest ended without its blob being written")
        self._result = sink.result

    @property
    def result(self) -> T:
        if self._result is None:
            raise RuntimeError("nothing was ingested yet")
        return self._result[0]
