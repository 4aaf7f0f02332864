"""Cut the chunks of a step's output into whole lines, as the plain and tty renderers show them."""

from __future__ import annotations

from typing import NamedTuple

from slipway.progress.clip import MAX_OUTPUT_LINE_BYTES
from slipway.progress.events import StepLog


class Line(NamedTuple):
    at: float  # when its first byte arrived: BuildKit stamps a line with the chunk that began it
    text: str


class LineSplitter:
    """Buffers a partial line per (vertex, stream) until its newline comes. Not thread-safe: the renderer
    that owns it holds its lock."""

    def __init__(self) -> None:
        self._partial: dict[tuple[str, int], tuple[float, bytearray]] = {}

    def feed(self, event: StepLog) -> list[Line]:
        key = (event.vertex, event.stream)
        started, buffer = self._partial.pop(key, (event.at, bytearray()))
        lines = []
        for piece in event.data.split(b"\n")[:-1]:
            buffer += piece
            lines.append(Line(started, _decode(buffer)))
            buffer = bytearray()
            started = event.at
        buffer += event.data.rpartition(b"\n")[2]
        while len(buffer) >= MAX_OUTPUT_LINE_BYTES:
            lines.append(Line(started, _decode(buffer[:MAX_OUTPUT_LINE_BYTES])))
            del buffer[:MAX_OUTPUT_LINE_BYTES]
            started = event.at
        if buffer:
            self._partial[key] = (started, buffer)
        return lines

    def flush(self, vertex: str) -> list[Line]:
        """The unterminated last lines of a step (its output ended without a newline)."""
        keys = [key for key in self._partial if key[0] == vertex]
        lines = [
            Line(started, _decode(buffer)) for started, buffer in (self._partial.pop(key) for key in keys)
        ]
        return sorted(lines, key=lambda line: line.at)

    def vertices(self) -> list[str]:
        return list(dict.fromkeys(vertex for vertex, _ in self._partial))


def _decode(data: bytes | bytearray) -> str:
    # Output is whatever the process wrote: show invalid UTF-8 as U+FFFD rather than fail, and drop the
    # "\r" of a CRLF line end, which would return the cursor on a terminal.
    return bytes(data).decode("utf-8", errors="replace").removesuffix("\r")
