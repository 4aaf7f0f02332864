"""The tty renderer's live view and final summary, drawn on a 100-column terminal held in memory."""

from __future__ import annotations

import io
import re

from rich.console import Console

from slipway.progress.events import Event, StepDone, StepFailed, StepLog, StepStarted
from slipway.progress.tty import TtyRenderer

ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\r")


def terminal() -> tuple[Console, io.StringIO]:
    screen = io.StringIO()
    return Console(file=screen, force_terminal=True, width=100, height=40), screen


def last_frame(screen: io.StringIO) -> list[str]:
    """The text of the last view drawn, without colours and cursor moves, lines right-stripped."""
    text = ANSI.sub("", screen.getvalue())
    frame = text[text.rindex("[+] Building") :]
    return [line.rstrip() for line in frame.splitlines()]


def squeeze(line: str) -> str:
    return " ".join(line.split())


def test_final_summary_lists_every_step_with_its_outcome(script: tuple[Event, ...]) -> None:
    console, screen = terminal()
    with TtyRenderer(console, clock=lambda: script[0].at + 99) as renderer:
        for event in script:
            renderer.emit(event)
    frame = last_frame(screen)
    assert [squeeze(line) for line in frame] == [
        "[+] Building 1.8s (4/4) FINISHED",
        "=> [stage-0 1/2] FROM docker.io/library/busybox:latest 0.1s",
        "=> CACHED [stage-0 2/2] COPY go.mod ./ 0.0s",
        "=> [stage-1 2/3] RUN make 1.1s",
        "=> ERROR [stage-2 2/2] RUN ./test 1.0s",
        "=> naming to docker.io/library/x:v1",
    ]
    # The times stand in the last column, right-aligned, like BuildKit's.
    assert all(len(line) == 100 for line in frame[1:5])
    assert screen.getvalue().endswith("\n")


def test_live_view_shows_running_steps_with_timers_and_dimmed_output(script: tuple[Event, ...]) -> None:
    console, screen = terminal()
    with TtyRenderer(console, clock=lambda: script[0].at + 1.25) as renderer:
        for event in script[:9]:
            renderer.emit(event)
        renderer.refresh()
        frame = last_frame(screen)
        assert [squeeze(line) for line in frame] == [
            "[+] Building 1.2s (2/4)",
            "=> [stage-0 1/2] FROM docker.io/library/busybox:latest 0.1s",
            "=> CACHED [stage-0 2/2] COPY go.mod ./ 0.0s",
            "=> [stage-1 2/3] RUN make 1.0s",
            "=> => # compiling main.c",
            "=> => # linking app",
            "=> [stage-2 2/2] RUN ./test 0.6s",
            "=> => # ok 1",
            "=> => # ok 2",
        ]
        assert "\x1b[2m => => # ok 1" in screen.getvalue()  # output lines are dimmed
        for event in script[9:]:
            renderer.emit(event)
        renderer.refresh()
        # Finished steps fold their output away.
        assert "=> => #" not in "\n".join(last_frame(screen))


def test_live_view_keeps_the_last_lines_of_output() -> None:
    console, screen = terminal()
    with TtyRenderer(console, clock=lambda: 5.0) as renderer:
        renderer.emit(StepStarted("v", "[1/1] RUN seq 10", 0.0))
        renderer.emit(StepLog("v", 1, b"".join(b"line %d\n" % number for number in range(1, 11)), 1.0))
        renderer.refresh()
        assert [squeeze(line) for line in last_frame(screen)[2:]] == [
            f"=> => # line {n}" for n in range(5, 11)
        ]


def test_output_cannot_move_the_cursor() -> None:
    console, screen = terminal()
    with TtyRenderer(console, clock=lambda: 5.0) as renderer:
        renderer.emit(StepStarted("v", "[1/1] RUN x", 0.0))
        renderer.emit(StepLog("v", 1, b"\x1b[2J\x1b[Hred\x1b[31m alert\x07\n", 1.0))
        renderer.refresh()
        assert "=> => # red alert" in [squeeze(line) for line in last_frame(screen)]
        assert "\x1b[2J" not in screen.getvalue()


def test_summary_of_an_interrupted_build_has_no_finished_mark() -> None:
    console, screen = terminal()
    with TtyRenderer(console, clock=lambda: 3.0) as renderer:
        renderer.emit(StepStarted("v", "[1/1] RUN sleep 100", 1.0))
        renderer.emit(StepLog("v", 1, b"zzz\n", 2.0))
    assert [squeeze(line) for line in last_frame(screen)] == [
        "[+] Building 2.0s (0/1)",  # it lasted until it was closed
        "=> [1/1] RUN sleep 100 2.0s",
    ]


def test_live_view_drops_the_oldest_finished_steps_when_the_terminal_is_short() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100, height=6)
    with TtyRenderer(console, clock=lambda: 50.0) as renderer:
        for number in range(1, 7):
            renderer.emit(StepStarted(f"v{number}", f"[{number}/7] RUN step {number}", float(number)))
            renderer.emit(StepDone(f"v{number}", number + 0.5))
        renderer.emit(StepStarted("v7", "[7/7] RUN last", 7.0))
        renderer.refresh()
        assert [squeeze(line) for line in last_frame(screen)] == [
            "[+] Building 49.0s (6/7)",
            "=> [4/7] RUN step 4 0.5s",
            "=> [5/7] RUN step 5 0.5s",
            "=> [6/7] RUN step 6 0.5s",
            "=> [7/7] RUN last 43.0s",
        ]
    # The summary has room for everything.
    assert len(last_frame(screen)) == 8


def test_a_cancelled_step_is_canceled_and_a_failed_one_an_error() -> None:
    console, screen = terminal()
    with TtyRenderer(console, clock=lambda: 2.0) as renderer:
        renderer.emit(StepStarted("a", "[1/2] RUN sleep 100", 0.0))
        renderer.emit(StepStarted("b", "[2/2] FROM x", 0.0))
        renderer.emit(StepFailed("a", "cancelled", 1.0, cancelled=True))
        renderer.emit(StepFailed("b", "download cancelled", 1.0))
    frame = [squeeze(line) for line in last_frame(screen)]
    assert frame[1:] == ["=> CANCELED [1/2] RUN sleep 100 1.0s", "=> ERROR [2/2] FROM x 1.0s"]
