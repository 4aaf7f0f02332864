"""The tee: a reader reads a source, and every span it reads is written on as well, in the reader's thread."""

from __future__ import annotations

import hashlib
import io
import os
from typing import BinaryIO, cast

import pytest

from slipway.image.tee import Tee


class Spans:
    """A writer that keeps the sizes of the spans it was given."""

    def __init__(self) -> None:
        self.sizes: list[int] = []
        self.data = bytearray()

    def __call__(self, span: memoryview) -> None:
        self.sizes.append(len(span))
        self.data += span


def test_each_span_the_reader_reads_is_written_once_in_the_readers_spans() -> None:
    data = os.urandom(3 << 20)
    spans = Spans()
    tee = Tee(io.BytesIO(data), spans)
    buffer = bytearray(512 << 10)
    read = bytearray()
    while count := tee.readinto(buffer):
        read += buffer[:count]
    assert read == data and spans.data == data
    assert spans.sizes == [512 << 10] * 6  # one write per read: no small pieces
    assert tee.size == len(data) and tee.error is None


def test_what_the_reader_leaves_is_copied_by_drain() -> None:
    data = os.urandom(5_000_000)
    spans = Spans()
    tee = Tee(io.BytesIO(data), spans)
    assert cast(BinaryIO, tee).read(100) == data[:100]
    tee.drain()
    assert spans.data == data and tee.size == len(data)
    assert len(spans.sizes) == 1 + -(-(len(data) - 100) // (1 << 20))  # the rest in 1 MiB spans


def test_a_writers_error_is_kept_as_raised_whatever_the_reader_makes_of_it() -> None:
    def full(span: memoryview) -> None:
        raise OSError(28, "No space left on device")

    tee = Tee(io.BytesIO(b"x" * 10_000), full)

    def reader_that_wraps(stream: BinaryIO) -> None:
        try:
            stream.read(4096)
        except OSError as err:  # as a decompressor's reader would: "corrupt stream"
            raise ValueError("corrupt") from err

    with pytest.raises(ValueError, match="corrupt"):
        reader_that_wraps(cast(BinaryIO, tee))
    assert isinstance(tee.error, OSError) and tee.error.errno == 28


def test_a_sources_error_is_kept_too() -> None:
    class Broken(io.RawIOBase):
        def readinto(self, buffer: object) -> int:
            raise ConnectionError("reset")

    tee = Tee(Broken(), Spans())
    with pytest.raises(ConnectionError):
        tee.drain()
    assert isinstance(tee.error, ConnectionError)


def test_hashes_of_what_was_read_and_written_agree() -> None:
    data = os.urandom(2_000_001)
    written = hashlib.sha256()
    tee = Tee(io.BytesIO(data), written.update)
    read = hashlib.sha256(cast(BinaryIO, tee).read())
    assert read.hexdigest() == written.hexdigest() == hashlib.sha256(data).hexdigest()
