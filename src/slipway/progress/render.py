"""Pick a renderer for `--progress` and run it for the length of a build."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, TextIO

from slipway.choices import PROGRESS_MODES, ProgressMode
from slipway.progress.events import BuildWarning, Event, EventSink
from slipway.progress.failure import format_run_failure
from slipway.progress.plain import PlainRenderer

if TYPE_CHECKING:
    from slipway.progress.rawjson import RawJsonRenderer
    from slipway.progress.tty import TtyRenderer

__all__ = ["ProgressMode", "QuietRenderer", "format_run_failure", "open_renderer"]


class QuietRenderer:
    """Shows no step: with --quiet the CLI prints errors, and the image ID on success. The build checks'
    warnings are still written to `stream` when the build ends."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._warnings: list[BuildWarning] = []

    def __enter__(self) -> QuietRenderer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._stream is not None and self._warnings:
            from slipway.progress.warnings import format_warnings

            self._stream.write(format_warnings(self._warnings))
            self._stream.flush()

    def emit(self, event: Event) -> None:
        if isinstance(event, BuildWarning):
            self._warnings.append(event)


@contextmanager
def open_renderer(mode: ProgressMode, stream: TextIO) -> Iterator[EventSink]:
    """An EventSink drawing on `stream` as `mode` says; "auto" is tty on a terminal, plain elsewhere.
    On exit (also on an error or Ctrl-C) it writes what it still holds and, for tty, the final summary."""
    renderer: PlainRenderer | TtyRenderer | RawJsonRenderer | QuietRenderer
    match mode:
        case "auto" if stream.isatty():
            renderer = _tty_renderer(stream, force_terminal=False)
        case "auto" | "plain":
            renderer = PlainRenderer(stream)
        case "tty":
            # Asked for by name: draw the live view even where the stream does not look like a terminal.
            renderer = _tty_renderer(stream, force_terminal=True)
        case "rawjson":
            from slipway.progress.rawjson import RawJsonRenderer  # msgspec: only for tools that asked

            renderer = RawJsonRenderer(stream)
        case "quiet":
            renderer = QuietRenderer(stream)
        case _:
            from slipway.errors import UsageError

            raise UsageError(f"--progress {mode!r}: choose one of {', '.join(PROGRESS_MODES)}")
    with renderer:
        yield renderer


def _tty_renderer(stream: TextIO, *, force_terminal: bool) -> TtyRenderer:
    # rich takes tens of milliseconds to import: only the live view pays for it.
    from rich.console import Console

    from slipway.progress.tty import TtyRenderer

    return TtyRenderer(Console(file=stream, force_terminal=force_terminal or None))
