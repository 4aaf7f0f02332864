"""The rawjson renderer: one JSON object per event per line, for programs that follow a build.

    {"type":"StepStarted","vertex":"sha256:…","name":"[stage-0 2/4] RUN make","at":1717171717.25}
    {"type":"StepLog","vertex":"sha256:…","stream":1,"data":"aGVsbG8K","at":1717171717.5}
    {"type":"StepFailed","vertex":"sha256:…","error":"cancelled","at":1717171718.0,"cancelled":true}

"type" is the event's class name and the other keys are its fields. A StepLog's `data` is base64 (standard
alphabet, padded), so output that is not UTF-8 arrives byte for byte; `decode_event` reads a line back.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any, TextIO, Union

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

EVENT_TYPES: tuple[type[Event], ...] = (
    StepStarted,
    StepCached,
    StepLog,
    StepDone,
    StepFailed,
    BuildMessage,
    BuildWarning,
)


def _wire_type(kind: type[Event]) -> type[msgspec.Struct]:
    """The tagged msgspec Struct an event is written as: its fields, with "type" its class name."""
    defaults = kind._field_defaults
    fields = [
        (name, annotation, defaults[name]) if name in defaults else (name, annotation)
        for name, annotation in kind.__annotations__.items()
    ]
    return msgspec.defstruct(
        kind.__name__, fields, tag_field="type", tag=True, frozen=True, forbid_unknown_fields=True
    )


# Derived from the events' own fields, so the wire format cannot drift from them.
_WIRE_TYPES = {kind: _wire_type(kind) for kind in EVENT_TYPES}
_EVENT_OF_WIRE = {wire: kind for kind, wire in _WIRE_TYPES.items()}
_DECODER: msgspec.json.Decoder[Any] = msgspec.json.Decoder(Union[tuple(_WIRE_TYPES.values())])  # noqa: UP007


def encode_event(event: Event) -> bytes:
    """One line of JSON (without its newline); msgspec writes bytes as base64."""
    return msgspec.json.encode(_WIRE_TYPES[type(event)](*event))


def decode_event(line: bytes | str) -> Event:
    """The event a line of `encode_event` holds. Raises msgspec.ValidationError on a line of another shape
    (an unknown "type", a missing or an unknown field, a field of another type)."""
    wire = _DECODER.decode(line)
    return _EVENT_OF_WIRE[type(wire)](*msgspec.structs.astuple(wire))


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
