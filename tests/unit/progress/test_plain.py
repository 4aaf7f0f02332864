"""The plain renderer prints what `docker build --progress=plain` prints for the same steps."""

from __future__ import annotations

import io

from slipway.progress.events import Event, StepDone, StepFailed, StepLog, StepStarted
from slipway.progress.plain import PlainRenderer

EXPECTED = """\
#1 [stage-0 1/2] FROM docker.io/library/busybox:latest
#1 DONE 0.1s

#2 [stage-0 2/2] COPY go.mod ./
#2 CACHED

#3 [stage-1 2/3] RUN make
#3 ...

#4 [stage-2 2/2] RUN ./test
#4 ...

#3 [stage-1 2/3] RUN make
#3 0.250 compiling main.c
#3 ...

#4 [stage-2 2/2] RUN ./test
#4 0.250 ok 1
#4 0.250 ok 2
#4 ...

#3 [stage-1 2/3] RUN make
#3 0.500 linking app
#3 DONE 1.1s

#4 [stage-2 2/2] RUN ./test
#4 0.875 FAIL: x
#4 ERROR: process "/bin/sh -c ./test" did not complete successfully: exit code: 1

naming to docker.io/library/x:v1
"""


def render(events: tuple[Event, ...]) -> str:
    stream = io.StringIO()
    with PlainRenderer(stream) as renderer:
        for event in events:
            renderer.emit(event)
    return stream.getvalue()


def test_scripted_build_renders_like_buildkit(script: tuple[Event, ...]) -> None:
    assert render(script) == EXPECTED


def test_lines_split_across_many_chunks_come_out_whole() -> None:
    events = (
        StepStarted("v", "[1/1] RUN printf", 10.0),
        *(StepLog("v", 1, bytes([byte]), 10.5) for byte in b"h\xc3\xa9llo\nw"),  # "é" split in two
        StepLog("v", 1, b"orld\r\n", 11.0),
        StepDone("v", 12.0),
    )
    assert render(events) == "#1 [1/1] RUN printf\n#1 0.500 héllo\n#1 0.500 world\n#1 DONE 2.0s\n"


def test_stdout_and_stderr_partials_do_not_mix() -> None:
    events = (
        StepStarted("v", "[1/1] RUN x", 0.0),
        StepLog("v", 1, b"out-", 1.0),
        StepLog("v", 2, b"err-", 2.0),
        StepLog("v", 1, b"line\n", 3.0),
        StepLog("v", 2, b"line\n", 4.0),
        StepDone("v", 5.0),
    )
    assert render(events) == "#1 [1/1] RUN x\n#1 1.000 out-line\n#1 2.000 err-line\n#1 DONE 5.0s\n"


def test_timestamp_precision_shrinks_as_steps_run_long() -> None:
    events = (
        StepStarted("v", "[1/1] RUN sleep", 0.0),
        StepLog("v", 1, b"a\n", 9.5),
        StepLog("v", 1, b"b\n", 42.25),
        StepLog("v", 1, b"c\n", 123.5),
        StepDone("v", 124.0),
    )
    assert render(events).splitlines()[1:4] == ["#1 9.500 a", "#1 42.25 b", "#1 123.5 c"]


def test_unterminated_output_of_an_unfinished_step_is_written_on_close() -> None:
    events = (StepStarted("v", "[1/1] RUN x", 0.0), StepLog("v", 1, b"no newline", 0.25))
    assert render(events) == "#1 [1/1] RUN x\n#1 0.250 no newline\n"


def test_a_cancelled_step_says_canceled() -> None:
    events = (StepStarted("v", "[1/1] RUN sleep 100", 0.0), StepFailed("v", "cancelled", 1.0, cancelled=True))
    assert render(events) == "#1 [1/1] RUN sleep 100\n#1 CANCELED\n"


def test_an_error_whose_message_ends_in_cancelled_is_an_error() -> None:
    # Cancellation is the event's field, not a word the renderer looks for in the message.
    events = (StepStarted("v", "[1/1] FROM x", 0.0), StepFailed("v", "registry: upload cancelled", 1.0))
    assert render(events) == "#1 [1/1] FROM x\n#1 ERROR: registry: upload cancelled\n"
