"""The tap: a measurer in a thread of its own reads what a writer writes, once, without blocking the writer forever."""

from __future__ import annotations

import hashlib
import threading
from typing import BinaryIO

import pytest

from slipway.image.tap import tapped


def sha256_of(stream: BinaryIO) -> str:
    return hashlib.sha256(stream.read()).hexdigest()


def tap_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith("test-tap")]


def test_the_measurer_reads_every_chunk_in_order() -> None:
    chunks = [bytes([n]) * (n * 1000 + 1) for n in range(40)]
    with tapped(sha256_of, name="test-tap") as tap:
        for chunk in chunks:
            tap.write(chunk)
    assert tap.result == hashlib.sha256(b"".join(chunks)).hexdigest()
    assert not tap_threads()


def test_a_measurer_that_fails_stops_the_writer_at_its_next_write() -> None:
    def refuse(stream: BinaryIO) -> None:
        stream.read(10)
        raise ValueError("not a layer")

    written = 0
    with pytest.raises(ValueError, match="not a layer"), tapped(refuse, name="test-tap") as tap:
        for _ in range(1000):  # far more than the queue holds: the writer must never block on it
            tap.write(b"x" * 4096)
            written += 1
    assert written < 1000
    assert not tap_threads()


def test_a_measurer_that_stops_reading_early_does_not_block_the_writer() -> None:
    def head(stream: BinaryIO) -> bytes:
        return stream.read(3)

    with tapped(head, name="test-tap") as tap:
        for _ in range(200):
            tap.write(b"abcdef" * 1000)
    assert tap.result == b"abc"


def test_a_writer_that_fails_abandons_the_measurer_and_keeps_its_own_error() -> None:
    seen: list[int] = []

    def count(stream: BinaryIO) -> int:
        while data := stream.read(100):
            seen.append(len(data))
        return len(seen)

    with pytest.raises(ConnectionError, match="dropped"), tapped(count, name="test-tap") as tap:
        tap.write(b"y" * 1000)
        raise ConnectionError("dropped")
    assert not tap_threads()
    with pytest.raises(Exception):  # noqa: B017 - the measurer's own verdict: it was abandoned
        _ = tap.result
