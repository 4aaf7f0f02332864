"""The plain renderer: BuildKit's `--progress=plain` text, for logs and pipes.

    #1 [stage-0 1/3] FROM docker.io/library/golang:1.22
    #1 DONE 0.1s

    #2 [stage-0 2/3] RUN go build ./...
    #2 0.532 go: downloading example.com/x v1.0.0
    #2 ...

    #3 [stage-1 2/2] COPY --from=stage-0 /out/app /app
    #3 CACHED

Steps are numbered in order of first appearance. A group opens with the step's number and name; when
another step prints in between, the open group is closed with "#N ..." and reopened later, as BuildKit
does with steps of parallel stages. Output lines carry the seconds since their step started.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import TextIO, assert_never

from slipway.progress._lines import Line, LineSplitter
from slipway.progress.clip import clip_line, clip_text
from slipway.progress.events import (
    BuildMessage,
    BuildWarning,
    Event,
    StepCached,
    StepDone,
    StepFailed,
    StepLog,
    StepStarted,
)
from slipway.progress.warnings import format_warnings

__all__ = ["PlainRenderer"]


class _Step:
    __slots__ = ("name", "number", "started")

    def __init__(self, number: int, name: str, started: float | None = None) -> None:
        self.number = number
        self.name = name
        self.started = started


class PlainRenderer:
    """An EventSink that writes plain text to `stream`. Thread-safe: each event's lines are written whole,
    under one lock. `close` (or leaving the `with` block) writes any output line still unterminated."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self._steps: dict[str, _Step] = {}
        self._lines = LineSplitter()
        self._open_group: str | None = None  # the vertex whose group was printed last and is not finished
        self._in_messages = False
        self._has_printed = False
        self._warnings: list[BuildWarning] = []  # shown when the build ends

    def __enter__(self) -> PlainRenderer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def emit(self, event: Event) -> None:
        with self._lock:
            text = "".join(self._render(event))
            if text:
                self._stream.write(text)

    def close(self) -> None:
        with self._lock:
            out = []
            for vertex in self._lines.vertices():
                step = self._steps[vertex]
                out += self._enter(vertex) + self._output(step, self._lines.flush(vertex))
            out.append(format_warnings(self._warnings))
            self._warnings.clear()
            self._stream.write("".join(out))
            self._stream.flush()

    def _render(self, event: Event) -> list[str]:
        match event:
            case StepStarted(vertex=vertex, name=name, at=at):
                step = self._step(vertex, name)
                if step.started is None:
                    step.started = at
                return self._enter(vertex)
            case StepCached(vertex=vertex, name=name):
                step = self._step(vertex, name)
                return self._finish(vertex, [f"#{step.number} CACHED\n"])
            case StepLog(vertex=vertex):
                step = self._step(vertex)
                lines = self._lines.feed(event)
                return self._enter(vertex) + self._output(step, lines) if lines else []
            case StepDone(vertex=vertex, at=at):
                step = self._step(vertex)
                took = f" {max(at - step.started, 0.0):.1f}s" if step.started is not None else ""
                return self._finish(vertex, [f"#{step.number} DONE{took}\n"])
            case StepFailed(vertex=vertex, error=error, cancelled=cancelled):
                step = self._step(vertex)
                outcome = "CANCELED" if cancelled else f"ERROR: {clip_text(error)}"
                return self._finish(vertex, [f"#{step.number} {outcome}\n"])
            case BuildMessage(text=text):
                return self._message(text)
            case BuildWarning():
                self._warnings.append(event)
                return []
            case _:
                assert_never(event)

    def _step(self, vertex: str, name: str = "") -> _Step:
        step = self._steps.get(vertex)
        if step is None:
            step = self._steps[vertex] = _Step(number=len(self._steps) + 1, name=clip_line(name or vertex))
        elif name and step.name == vertex:
            step.name = clip_line(name)  # output arrived before the step's start: the name comes late
        return step

    def _enter(self, vertex: str) -> list[str]:
        """Lines that switch the output to `vertex`'s group, if another one was printing."""
        if self._open_group == vertex and not self._in_messages:
            return []
        out = self._leave()
        if self._has_printed:
            out.append("\n")
        self._has_printed = True
        step = self._steps[vertex]
        out.append(f"#{step.number} {step.name}\n")
        self._open_group = vertex
        return out

    def _leave(self) -> list[str]:
        out = []
        if self._open_group is not None and not self._in_messages:
            out.append(f"#{self._steps[self._open_group].number} ...\n")
        self._open_group = None
        self._in_messages = False
        return out

    def _finish(self, vertex: str, last: list[str]) -> list[str]:
        out = self._enter(vertex) + self._output(self._steps[vertex], self._lines.flush(vertex)) + last
        self._open_group = None
        return out

    def _message(self, text: str) -> list[str]:
        if self._in_messages:
            return [f"{text}\n"]
        out = self._leave()
        if self._has_printed:
            out.append("\n")
        self._has_printed = True
        self._in_messages = True
        return [*out, f"{text}\n"]

    @staticmethod
    def _output(step: _Step, lines: list[Line]) -> list[str]:
        return [f"#{step.number} {_offset(step, line.at)} {line.text}\n" for line in lines]


def _offset(step: _Step, at: float) -> str:
    # BuildKit's precision: 3 decimals below 10 s, 2 below 100 s, 1 after that.
    seconds = max(at - step.started, 0.0) if step.started is not None else 0.0
    precision = 3 if seconds < 10 else 2 if seconds < 100 else 1
    return f"{seconds:.{precision}f}"
