"""Progress events: what the solver and the worker report while a build runs. Only renderers print them.

A step's life is `StepStarted`, any number of `StepLog`, then `StepDone` or `StepFailed`; a cache hit is one
`StepCached` instead. `vertex` names the step (its digest, or a synthetic id such as "export") and `at` is
the wall clock (`time.time()`) when the event happened: renderers compute every duration they show from
these values, so a scripted sequence renders the same every time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "BuildMessage",
    "Event",
    "EventSink",
    "StepCached",
    "StepDone",
    "StepFailed",
    "StepLog",
    "StepStarted",
]


@dataclass(frozen=True, slots=True)
class StepStarted:
    vertex: str
    name: str  # what the user reads: "[stage-0 2/4] RUN go build ./..."
    at: float


@dataclass(frozen=True, slots=True)
class StepCached:
    vertex: str
    name: str
    at: float


@dataclass(frozen=True, slots=True)
class StepLog:
    vertex: str
    stream: int  # 1 stdout, 2 stderr
    data: bytes  # a chunk as the process wrote it: lines may be split across chunks
    at: float


@dataclass(frozen=True, slots=True)
class StepDone:
    vertex: str
    at: float


@dataclass(frozen=True, slots=True)
class StepFailed:
    vertex: str
    error: str
    at: float


@dataclass(frozen=True, slots=True)
class BuildMessage:
    """A line outside any step ("naming to docker.io/library/x:v1")."""

    text: str
    at: float


Event = StepStarted | StepCached | StepLog | StepDone | StepFailed | BuildMessage


class EventSink(Protocol):
    """Where events go. `emit` is called from several threads at once (stages run in parallel), so an
    implementation serializes what it does with them; it returns quickly and never raises for a well-formed
    event."""

    def emit(self, event: Event) -> None: ...
