"""A blob fetched into the store and measured on the way: each chunk goes to the blob's file and to a tap.

The measure (a layer's diff_id and sizes, or a config's bytes) runs in the tap's thread while the chunks are
written (slipway.image.tap), so the fetched blob is never read back. A retried fetch starts a fresh tap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO, Generic, TypeVar

from slipway.image.oci import Digest
from slipway.image.tap import Tap, tapped
from slipway.store import BlobIngester, ChunkSink

T = TypeVar("T")


class _Tee:
    def __init__(self, blob: ChunkSink, tap: Tap[Any]) -> None:
        self._blob = blob
        self._tap = tap

    def write(self, data: bytes, /) -> int:
        self._tap.write(data)  # first: a measurer that failed stops the fetch before more is written
        return self._blob.write(data)


class Measured(Generic[T]):
    """An ingester into `into` that measures what it ingests; `result` once an ingest has ended."""

    def __init__(self, into: BlobIngester, measure: Callable[[BinaryIO], T], name: str) -> None:
        self._into = into
        self._measure = measure
        self._name = name
        self._result: tuple[T] | None = None

    @contextmanager
    def ingest(self, expected: Digest | None = None, expected_size: int | None = None) -> Iterator[_Tee]:
        # The tap ends after the blob: a blob that fails its digest check says so before its measure can.
        with (
            tapped(self._measure, name=self._name) as tap,
            self._into.ingest(expected, expected_size) as blob,
        ):
            yield _Tee(blob, tap)
        self._result = (tap.result,)

    @property
    def result(self) -> T:
        if self._result is None:
            raise RuntimeError("nothing was ingested yet")
        return self._result[0]
