"""The rawjson renderer: one JSON object per event per line, for programs that follow a build.

    {"type":"StepStarted","vertex":"sha256:…","name":"[stage-0 2/4] RUN make","at":1717171717.25}
    {"type":"StepLog","vertex":"sha256:…","stream":1,"data":"aGVsbG8K","at":1717171717.5}

"type" is the event's class name and the other keys are its fields. A StepLog's `data` is base64 (standard
alphabet, padded), so output that is not UTF-8 arrives byte for byte; `decode_event` reads a line back.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import TextIO

import msgspec

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

__all__ = ["RawJsonRenderer", "decode_event", "encode_event"]

EVENT_TYPES: dict[str, type[Event]] = {
    kind.__name__: kind
    for kind in (StepStarted, StepCached, StepLog, StepDone, StepFailed, BuildMessage, BuildWarning)
}


def encode_event(event: Event) -> bytes:
    """One line of JSON (without its newline); msgspec writes bytes as base64."""
    fields = event._asdict()
    return msgspec.json.encode({"type": type(event).__name__, **fields})


def decode_event(line: bytes | str) -> Event:
    """The event a line of `encode_event` holds. Raises msgspec.ValidationError on a line of another shape."""
    fields = msgspec.json.decode(line, type=dict[str, object])
    kind = fields.pop("type", None)
    if not isinstance(kind, str) or kind not in EVENT_TYPES:
        raise msgspec.ValidationError(f"unknown event type {kind!r}")
    event_type = EVENT_TYPES[kind]
    if set(fields) != set(event_type._fields):
        raise msgspec.ValidationError(f"a {kind} event has the fields {', '.join(event_type._fields)}")
    # Events are NamedTuples, which msgspec reads as arrays: the object's values in field order, typed.
    return msgspec.json.decode(
        msgspec.json.encode([fields[name] for name in event_type._fields]), type=event_type
    )


class RawJsonRenderer:
    """An EventSink writing `encode_event` lines to `stream`, each whole, under one lock."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def __enter__(self) -> RawJsonRenderer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def emit(self, event: Event) -> None:
        line = encode_event(event).decode() + "\n"
        with self._lock:
            self._stream.write(line)

    def close(self) -> None:
        with self._lock:
            self._stream.flush()
