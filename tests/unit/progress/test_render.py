"""open_renderer picks the renderer `--progress` names; every renderer takes events from many threads."""

from __future__ import annotations

import io
import re
import threading
import time

import pytest

import slipway.progress
from slipway.errors import UsageError
from slipway.progress.events import Event, StepDone, StepLog, StepStarted
from slipway.progress.rawjson import decode_event
from slipway.progress.render import open_renderer

THREADS = 4
EVENTS_EACH = 1_000


class TerminalLike(io.StringIO):
    def isatty(self) -> bool:
        return True


class TornStream(io.StringIO):
    """Writes in two halves and lets other threads run in between, as a pipe may: without a lock,
    lines from several threads would come out torn."""

    def write(self, text: str) -> int:
        half = len(text) // 2
        super().write(text[:half])
        time.sleep(0)
        super().write(text[half:])
        return len(text)


def emit_from_threads(sink: slipway.progress.EventSink) -> None:
    def work(number: int) -> None:
        vertex = f"sha256:{number}"
        sink.emit(StepStarted(vertex, f"[stage-{number} 2/2] RUN work", 0.0))
        for line in range(EVENTS_EACH - 2):
            sink.emit(StepLog(vertex, 1, b"thread %d line %d\n" % (number, line), 0.5))
        sink.emit(StepDone(vertex, 1.0))

    threads = [threading.Thread(target=work, args=(number,)) for number in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_plain_from_four_threads_writes_whole_lines_only() -> None:
    stream = TornStream()
    with open_renderer("plain", stream) as sink:
        emit_from_threads(sink)
    whole = re.compile(
        r"#(\d+) (\.\.\.|\[stage-(\d) 2/2\] RUN work|0\.500 thread (\d) line (\d+)|DONE 1\.0s)"
    )
    lines_of: dict[int, list[int]] = {number: [] for number in range(THREADS)}
    step_of: dict[str, str] = {}
    for line in stream.getvalue().splitlines():
        if not line:
            continue
        match = whole.fullmatch(line)
        assert match, f"torn line: {line!r}"
        if match[3] is not None:
            step_of[match[1]] = match[3]
        if match[4] is not None:
            assert step_of[match[1]] == match[4]  # the line sits under its own step's number
            lines_of[int(match[4])].append(int(match[5]))
    assert lines_of == {number: list(range(EVENTS_EACH - 2)) for number in range(THREADS)}


def test_rawjson_from_four_threads_writes_whole_lines_only() -> None:
    stream = TornStream()
    with open_renderer("rawjson", stream) as sink:
        emit_from_threads(sink)
    events = [decode_event(line) for line in stream.getvalue().splitlines()]
    assert len(events) == THREADS * EVENTS_EACH


def test_tty_from_four_threads_while_the_view_refreshes() -> None:
    stream = TornStream()
    with open_renderer("tty", stream) as sink:
        emit_from_threads(sink)
    summary = stream.getvalue()[stream.getvalue().rindex("[+] Building") :]
    assert "(4/4) FINISHED" in summary
    for number in range(THREADS):
        assert f"[stage-{number} 2/2] RUN work" in summary


@pytest.mark.parametrize(
    ("mode", "stream", "kind"),
    [
        ("auto", io.StringIO(), "PlainRenderer"),
        ("auto", TerminalLike(), "TtyRenderer"),
        ("plain", TerminalLike(), "PlainRenderer"),
        ("tty", io.StringIO(), "TtyRenderer"),
        ("rawjson", io.StringIO(), "RawJsonRenderer"),
        ("quiet", io.StringIO(), "QuietRenderer"),
    ],
)
def test_mode_picks_the_renderer(mode: str, stream: io.StringIO, kind: str) -> None:
    with open_renderer(mode, stream) as sink:  # type: ignore[arg-type]
        assert type(sink).__name__ == kind


def test_quiet_prints_nothing(script: tuple[Event, ...]) -> None:
    stream = io.StringIO()
    with open_renderer("quiet", stream) as sink:
        for event in script:
            sink.emit(event)
    assert stream.getvalue() == ""


def test_unknown_mode_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="--progress 'fancy'"), open_renderer("fancy", io.StringIO()):  # type: ignore[arg-type]
        pass


def test_renderer_flushes_when_the_build_is_interrupted() -> None:
    stream = io.StringIO()
    with pytest.raises(KeyboardInterrupt), open_renderer("plain", stream) as sink:
        sink.emit(StepStarted("v", "[1/1] RUN sleep 9", 0.0))
        sink.emit(StepLog("v", 1, b"half a line", 0.25))
        raise KeyboardInterrupt
    assert stream.getvalue() == "#1 [1/1] RUN sleep 9\n#1 0.250 half a line\n"


def test_the_room_exports_what_it_promises() -> None:
    assert sorted(slipway.progress.__all__) == sorted(
        [
            "BuildMessage",
            "Discard",
            "Event",
            "EventSink",
            "PlainRenderer",
            "ProgressMode",
            "QuietRenderer",
            "RawJsonRenderer",
            "StepCached",
            "StepDone",
            "StepFailed",
            "StepLog",
            "StepReporter",
            "StepStarted",
            "TtyRenderer",
            "decode_event",
            "encode_event",
            "format_run_failure",
            "open_renderer",
            "step",
        ]
    )
    for name in slipway.progress.__all__:
        assert getattr(slipway.progress, name) is not None
