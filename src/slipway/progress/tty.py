"""The tty renderer: BuildKit's live terminal view, drawn with rich.

    [+] Building 12.3s (7/9)
     => [stage-0 1/4] FROM docker.io/library/golang:1.22                       0.1s
     => CACHED [stage-0 2/4] COPY go.mod ./                                    0.0s
     => [stage-0 3/4] RUN go build ./...                                       4.2s
     => => # go: downloading example.com/x v1.0.0

A running step shows a live timer and the last lines of its output, dimmed; they fold away when it ends.
When the renderer closes, the live view is replaced by a static summary of every step, with FINISHED in
the header once all of them ended.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import assert_never

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from slipway.progress._lines import LineSplitter
from slipway.progress.clip import clip_line
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

__all__ = ["TAIL_LINES", "TtyRenderer"]

TAIL_LINES = 6
# Escape sequences and control characters in a step's output would move the cursor inside the view.
_CONTROL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-_]|[\x00-\x08\x0a-\x1f\x7f]")


@dataclass(slots=True)
class _Step:
    name: str
    started: float | None = None
    finished: float | None = None
    is_cached: bool = False
    error: str | None = None
    is_cancelled: bool = False
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))

    @property
    def is_finished(self) -> bool:
        return self.finished is not None


class TtyRenderer:
    """An EventSink drawing a live view on `console`, refreshed `refresh_per_second` times a second.
    `clock` must tick like the events' `at` (time.time by default); it only drives running timers.
    Thread-safe. Use it as a context manager: leaving it prints the final summary."""

    def __init__(
        self,
        console: Console,
        *,
        clock: Callable[[], float] = time.time,
        refresh_per_second: float = 8,
    ) -> None:
        self._console = console
        self._clock = clock
        self._lock = threading.Lock()
        self._steps: dict[str, _Step] = {}
        self._rows: list[_Step | str] = []  # steps and build messages, in order of first appearance
        self._lines = LineSplitter()
        self._first_at: float | None = None
        self._last_at: float | None = None
        self._live = Live(
            console=console,
            get_renderable=self._live_view,
            refresh_per_second=refresh_per_second,
            transient=True,  # the static summary replaces the live view
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._is_closed = False
        self._warnings: list[BuildWarning] = []  # shown under the summary

    def __enter__(self) -> TtyRenderer:
        self._live.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def emit(self, event: Event) -> None:
        with self._lock:
            self._first_at = event.at if self._first_at is None else min(self._first_at, event.at)
            self._last_at = event.at if self._last_at is None else max(self._last_at, event.at)
            self._apply(event)

    def refresh(self) -> None:
        """Redraw the live view now rather than at the next tick."""
        self._live.refresh()

    def close(self) -> None:
        with self._lock:
            if self._is_closed:
                return
            self._is_closed = True
        try:
            self._live.stop()
        finally:
            with self._lock:
                summary = self._view(is_final=True)
                warnings = format_warnings(self._warnings)
            self._console.print(summary)
            if warnings:
                self._console.print(Text(warnings), end="", soft_wrap=True, highlight=False)

    def _apply(self, event: Event) -> None:
        match event:
            case StepStarted(vertex=vertex, name=name, at=at):
                step = self._step(vertex, name)
                step.started = at if step.started is None else step.started
            case StepCached(vertex=vertex, name=name, at=at):
                step = self._step(vertex, name)
                step.is_cached = True
                step.started = at if step.started is None else step.started
                step.finished = at
            case StepLog(vertex=vertex):
                self._step(vertex).tail.extend(line.text for line in self._lines.feed(event))
            case StepDone(vertex=vertex, at=at):
                self._end(vertex, at)
            case StepFailed(vertex=vertex, error=error, at=at, cancelled=cancelled):
                step = self._end(vertex, at)
                step.error, step.is_cancelled = error, cancelled
            case BuildMessage(text=text):
                self._rows.append(text)
            case BuildWarning():
                self._warnings.append(event)
            case _:
                assert_never(event)

    def _step(self, vertex: str, name: str = "") -> _Step:
        step = self._steps.get(vertex)
        if step is None:
            step = self._steps[vertex] = _Step(name=clip_line(name or vertex))
            self._rows.append(step)
        elif name and step.name == vertex:
            step.name = clip_line(name)
        return step

    def _end(self, vertex: str, at: float) -> _Step:
        step = self._step(vertex)
        self._lines.flush(vertex)
        step.finished = at
        step.tail.clear()
        return step

    def _live_view(self) -> RenderableType:
        with self._lock:
            return self._view(is_final=False)

    def _view(self, *, is_final: bool) -> RenderableType:
        steps = list(self._steps.values())
        completed = sum(step.is_finished for step in steps)
        now = self._clock()
        if is_final and completed == len(steps) and self._last_at is not None:
            now = self._last_at  # a finished build lasted until its last event, whenever the view closes
        elapsed = max((now or 0.0) - self._first_at, 0.0) if self._first_at is not None else 0.0
        header = f"[+] Building {elapsed:.1f}s ({completed}/{len(steps)})"
        if is_final and steps and completed == len(steps):
            header += " FINISHED"
        table = Table.grid(expand=True)
        table.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        table.add_column(justify="right", no_wrap=True)
        rows = self._visible_rows(is_final)
        for row in rows:
            if isinstance(row, str):
                table.add_row(Text(f" => {_printable(row)}", style="blue"), "")
                continue
            table.add_row(_step_title(row), f"{_duration(row, now):.1f}s")
            if not is_final and not row.is_finished:
                for line in row.tail:
                    table.add_row(Text(f" => => # {_printable(line)}", style="dim"), "")
        return Group(Text(header, style="blue" if is_final else ""), table)

    def _visible_rows(self, is_final: bool) -> list[_Step | str]:
        """Every row in the summary; in the live view, as many as the terminal holds, newest first kept
        (BuildKit drops the oldest finished steps)."""
        if is_final:
            return list(self._rows)
        room = max(self._console.size.height - 2, 1)
        overflow = sum(_height(row) for row in self._rows) - room
        rows = []
        for row in self._rows:
            if overflow > 0 and _height(row) == 1:  # a finished step or a message
                overflow -= 1
                continue
            rows.append(row)
        return rows


def _height(row: _Step | str) -> int:
    return 1 if isinstance(row, str) or row.is_finished else 1 + len(row.tail)


def _step_title(step: _Step) -> Text:
    name = step.name.replace("\t", " ")
    if step.error is not None:
        if step.is_cancelled:
            return Text(f" => CANCELED {name}", style="yellow")
        return Text(f" => ERROR {name}", style="red")
    if step.is_cached:
        return Text(f" => CACHED {name}", style="blue")
    return Text(f" => {name}", style="blue" if step.is_finished else "")


def _duration(step: _Step, now: float | None) -> float:
    if step.started is None or step.is_cached:
        return 0.0
    end = step.finished if step.finished is not None else now
    seconds = max((end or step.started) - step.started, 0.0)
    return 0.0 if seconds < 0.05 else seconds  # BuildKit rounds blips down to 0.0s


def _printable(text: str) -> str:
    return _CONTROL.sub("", text.replace("\t", "    "))
