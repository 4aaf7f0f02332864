"""The rawjson renderer: one JSON object per event per line, for programs that follow a build.

    {"type":"StepStarted","vertex":"sha256:…","name":"[stage-0 2/4] RUN make","at":1717171717.25}
    {"type":"StepLog","vertex":"sha256:…","stream":1,"data":"aGVsbG8K","at":1717171717.5}

"type" is the event's class name and the other keys are its fields. A StepLog's `data` is base64 (standard
alphabet, padded), so output that is not UTF-8 arrives byte for byte; `decode_event` reads a line back.
"""

from __future__ import annotations

import dataclasses
import threading
from types import TracebackType
from typing import TextIO

import msgspec

from slipway.progress.events import (
    BuildMessage,
    Event,
    StepCached,
    StepDone,
    StepFailed,
    StepLog,
    StepStarted,
)

__all__ = ["RawJsonRenderer", "decode_event", "encode_event"]

EVENT_TYPES: dict[str, type[Event]] = {
    kind.__name__: kind for kind in (StepStarted, StepCached, StepLog, StepDone, StepFailed, BuildMessage)
}


def encode_event(event: Event) -> bytes:
    """One line of JSON (without its newline); msgspec writes bytes as base64."""
    fields = {item.name: getattr(event, item.name) for item in dataclasses.fields(event)}
    return msgspec.json.encode({"type": type(event).__name__, **fields})


def decode_event(line: bytes | str) -> Event:
    """The event a line of `encode_event` holds. Raises msgspec.ValidationError on a line of another shape."""
    kind = msgspec.json.decode(line, type=_Tagged).type
    if kind not in EVENT_TYPES:
        raise msgspec.ValidationError(f"unknown event type {kind!r}")
    return msgspec.json.decode(line, type=EVENT_TYPES[kind])


class _Tagged(msgspec.Struct):
    type: str


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
