"""Blob files written past the page cache: whole aligned spans with O_DIRECT, the tail through the cache, and the
cache all the way where the file system refuses O_DIRECT or stops taking it; the bytes are the same in any case."""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

import pytest

from slipway.store import direct
from slipway.store.direct import DIRECT_SPAN, DirectFile


def write_file(path: Path, data: bytes, piece: int, size_hint: int | None = None) -> DirectFile:
    file = DirectFile(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), size_hint)
    for start in range(0, len(data), piece):
        file.write(memoryview(data)[start : start + piece])
    file.flush()
    file.close()
    return file


@pytest.mark.parametrize("size", [0, 1, 4095, 4096, DIRECT_SPAN, DIRECT_SPAN + 1, 3 * DIRECT_SPAN + 517])
def test_the_file_holds_exactly_what_was_written(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    write_file(tmp_path / "blob", data, piece=100_003)
    assert (tmp_path / "blob").read_bytes() == data


def count_writes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, bool]]:
    writes: list[tuple[int, bool]] = []
    real_write = os.write

    def write(fd: int, data: bytes | memoryview) -> int:
        writes.append((len(data), bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT)))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)
    return writes


def test_whole_spans_go_direct_and_the_tail_through_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes = count_writes(monkeypatch)
    data = os.urandom(3 * DIRECT_SPAN + 517)
    file = write_file(tmp_path / "blob", data, piece=64 << 10)
    assert writes == [(DIRECT_SPAN, True)] * 3 + [(517, False)]  # 52 pieces became 4 writes
    assert not file.direct and (tmp_path / "blob").read_bytes() == data


def test_a_small_blob_takes_a_small_buffer_and_one_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes = count_writes(monkeypatch)
    data = os.urandom(10_000)
    write_file(tmp_path / "blob", data, piece=1000, size_hint=len(data))
    assert writes == [(10_000, False)]  # less than one span: gathered, then written once, as a tail
    assert (tmp_path / "blob").read_bytes() == data


def test_a_file_system_that_refuses_o_direct_gets_every_span_through_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_fcntl = fcntl.fcntl

    def refusing(fd: int, command: int, arg: int = 0) -> int:
        if command == fcntl.F_SETFL and arg & os.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_fcntl(fd, command, arg)

    monkeypatch.setattr(direct.fcntl, "fcntl", refusing)
    writes = count_writes(monkeypatch)
    data = os.urandom(2 * DIRECT_SPAN + 3)
    write_file(tmp_path / "blob", data, piece=77_777)
    assert writes == [(DIRECT_SPAN, False)] * 2 + [(3, False)]
    assert (tmp_path / "blob").read_bytes() == data


@pytest.mark.parametrize("refusal", ["short", "einval"])
def test_a_direct_write_cut_short_or_refused_goes_on_through_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, refusal: str
) -> None:
    real_write = os.write
    calls = 0

    def write(fd: int, data: bytes | memoryview) -> int:
        nonlocal calls
        calls += 1
        if calls == 2 and fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT:
            if refusal == "einval":
                raise OSError(errno.EINVAL, "Invalid argument")
            return real_write(fd, memoryview(data)[:1000])  # not a whole block: the rest cannot go direct
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)
    data = os.urandom(3 * DIRECT_SPAN + 11)
    file = write_file(tmp_path / "blob", data, piece=DIRECT_SPAN // 3)
    assert not file.direct and (tmp_path / "blob").read_bytes() == data


def test_an_error_of_the_disk_is_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(fd: int, data: bytes | memoryview) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    file = DirectFile(os.open(tmp_path / "blob", os.O_WRONLY | os.O_CREAT, 0o600))
    with pytest.raises(OSError, match="No space"):
        file.write(os.urandom(DIRECT_SPAN))
    file.close()
    file.close()  # twice: a no-op
