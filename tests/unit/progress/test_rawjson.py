"""rawjson: one JSON object a line, which reads back to the very events (of the very types)."""

from __future__ import annotations

import io
import json

import msgspec
import pytest

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
from slipway.progress.rawjson import RawJsonRenderer, decode_event, encode_event

WARNING = BuildWarning(
    "StageNameCasing",
    "Stage name 'Build' should be lowercase",
    "about",
    "",
    "Dockerfile",
    2,
    2,
    (">>> x",),
    3.0,
)
# One event of every type: two of them have the same fields (StepStarted, StepCached).
EVERY_TYPE: tuple[Event, ...] = (
    StepStarted("sha256:aa", "[1/2] RUN make", 1.0),
    StepCached("sha256:aa", "[1/2] RUN make", 1.0),
    StepLog("sha256:aa", 2, b"out\n", 1.5),
    StepDone("sha256:aa", 2.0),
    StepFailed("sha256:bb", "exit code: 1", 2.5),
    StepFailed("sha256:cc", "cancelled", 2.5, cancelled=True),
    BuildMessage("naming to docker.io/library/x:v1", 2.75),
    WARNING,
)


def render(events: tuple[Event, ...]) -> list[str]:
    stream = io.StringIO()
    with RawJsonRenderer(stream) as renderer:
        for event in events:
            renderer.emit(event)
    return stream.getvalue().splitlines()


def test_lines_parse_back_to_the_events(script: tuple[Event, ...]) -> None:
    lines = render(script)
    assert len(lines) == len(script)
    assert tuple(decode_event(line) for line in lines) == script


@pytest.mark.parametrize("event", EVERY_TYPE, ids=lambda event: type(event).__name__)
def test_every_event_type_reads_back_as_itself(event: Event) -> None:
    decoded = decode_event(encode_event(event))
    assert type(decoded) is type(event)
    assert decoded == event


def test_an_event_read_back_as_another_type_is_not_equal() -> None:
    # What makes the round trip a test: a line with the wrong "type" decodes to an unequal event.
    started = StepStarted("v", "[1/1] RUN x", 1.0)
    line = json.loads(encode_event(started))
    wrong = decode_event(json.dumps({**line, "type": "StepCached"}))
    assert wrong == StepCached("v", "[1/1] RUN x", 1.0)
    assert wrong != started
    assert (wrong,) != (started,)
    assert StepDone("v", 1.0) != ("v", 1.0)


def test_each_line_names_its_type_and_fields() -> None:
    line = encode_event(StepLog("sha256:cc", 2, b"\xffpartial", 12.5))
    assert json.loads(line) == {
        "type": "StepLog",
        "vertex": "sha256:cc",
        "stream": 2,
        "data": "/3BhcnRpYWw=",
        "at": 12.5,
    }


def test_a_failure_says_whether_it_was_a_cancellation() -> None:
    lines = render((StepFailed("v", "cancelled", 1.0, cancelled=True), StepFailed("w", "boom", 1.0)))
    assert [json.loads(line) for line in lines] == [
        {"type": "StepFailed", "vertex": "v", "error": "cancelled", "at": 1.0, "cancelled": True},
        {"type": "StepFailed", "vertex": "w", "error": "boom", "at": 1.0, "cancelled": False},
    ]


def test_a_failure_line_without_cancelled_still_reads() -> None:
    # Lines written before the field existed: a failure, not a cancellation.
    line = '{"type":"StepFailed","vertex":"v","error":"boom","at":1.0}'
    assert decode_event(line) == StepFailed("v", "boom", 1.0)


def test_log_data_is_base64_so_any_bytes_survive() -> None:
    data = bytes(range(256))
    assert decode_event(encode_event(StepLog("v", 1, data, 0.0))) == StepLog("v", 1, data, 0.0)


@pytest.mark.parametrize(
    "line",
    [
        '{"type":"Nope","at":1}',
        '{"vertex":"v"}',
        '{"type":"StepDone","vertex":"v"}',
        '{"type":"StepDone","vertex":"v","at":1.0,"name":"x"}',
        '{"type":"StepLog","vertex":"v","stream":"1","data":"","at":1.0}',
        "[]",
    ],
)
def test_decode_rejects_other_shapes(line: str) -> None:
    with pytest.raises(msgspec.ValidationError):
        decode_event(line)
