"""rawjson: one JSON object a line, which reads back to the very events."""

from __future__ import annotations

import io
import json

import msgspec
import pytest

from slipway.progress.events import Event, StepLog
from slipway.progress.rawjson import RawJsonRenderer, decode_event, encode_event


def test_lines_parse_back_to_the_events(script: tuple[Event, ...]) -> None:
    stream = io.StringIO()
    with RawJsonRenderer(stream) as renderer:
        for event in script:
            renderer.emit(event)
    lines = stream.getvalue().splitlines()
    assert len(lines) == len(script)
    assert tuple(decode_event(line) for line in lines) == script


def test_each_line_names_its_type_and_fields() -> None:
    line = encode_event(StepLog("sha256:cc", 2, b"\xffpartial", 12.5))
    assert json.loads(line) == {
        "type": "StepLog",
        "vertex": "sha256:cc",
        "stream": 2,
        "data": "/3BhcnRpYWw=",
        "at": 12.5,
    }


def test_log_data_is_base64_so_any_bytes_survive() -> None:
    data = bytes(range(256))
    assert decode_event(encode_event(StepLog("v", 1, data, 0.0))) == StepLog("v", 1, data, 0.0)


@pytest.mark.parametrize(
    "line", ['{"type":"Nope","at":1}', '{"vertex":"v"}', '{"type":"StepDone","vertex":"v"}', "[]"]
)
def test_decode_rejects_other_shapes(line: str) -> None:
    with pytest.raises(msgspec.ValidationError):
        decode_event(line)
