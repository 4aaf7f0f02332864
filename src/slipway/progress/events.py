"""Progress events: what the solver and the worker report while a build runs. Only renderers print them.

A step's life is `StepStarted`, any number of `StepLog`, then `StepDone` or `StepFailed`; a cache hit is one
`StepCached` instead. `step()` carries out that life around a block of work, and every room that reports a
step uses it. `vertex` names the step (its digest, or a synthetic id such as "export") and `at` is the wall
clock (`time.time()`) when the event happened: renderers compute every duration they show from these values,
so a scripted sequence renders the same every time.

Each event is tagged by its type: two events are equal only when their types and fields are, so a
`StepCached` is never a `StepStarted` with the same fields (nor a plain tuple). rawjson writes the tag as
"type" (progress/rawjson.py, where the events become msgspec Structs). They are NamedTuples, not msgspec
Structs or dataclasses, because a no-op rebuild renders them: msgspec (with the `inspect`, `uuid` and
`decimal` it imports) would cost that rebuild ~12 ms, and dataclasses ~5 ms.
"""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NamedTuple, Protocol, TypeVar

__all__ = [
    "BuildMessage",
    "BuildWarning",
    "Discard",
    "Event",
    "EventSink",
    "StepCached",
    "StepDone",
    "StepFailed",
    "StepLog",
    "StepReporter",
    "StepStarted",
    "step",
]

_Kind = TypeVar("_Kind", bound=type[tuple[object, ...]])


def _same_event(event: tuple[object, ...], other: object) -> bool:
    return type(other) is type(event) and tuple.__eq__(event, other) is True


def _tagged(kind: _Kind) -> _Kind:
    """Equality by type and fields (a NamedTuple alone compares as the tuple of its fields)."""
    setattr(kind, "__eq__", _same_event)  # noqa: B010 (mypy refuses an assignment to a method)
    setattr(kind, "__ne__", lambda event, other: not _same_event(event, other))  # noqa: B010
    setattr(kind, "__hash__", lambda event: hash((type(event).__name__, *event)))  # noqa: B010
    return kind


@_tagged
class StepStarted(NamedTuple):
    vertex: str
    name: str  # what the user reads: "[stage-0 2/4] RUN go build ./..."
    at: float


@_tagged
class StepCached(NamedTuple):
    vertex: str
    name: str
    at: float


@_tagged
class StepLog(NamedTuple):
    vertex: str
    stream: int  # 1 stdout, 2 stderr
    data: bytes  # a chunk as the process wrote it: lines may be split across chunks
    at: float


@_tagged
class StepDone(NamedTuple):
    vertex: str
    at: float


@_tagged
class StepFailed(NamedTuple):
    vertex: str
    error: str  # the error's message; "cancelled" when `cancelled`
    at: float
    cancelled: bool = False  # stopped by Ctrl-C or a failing sibling, not by its own fault (shown CANCELED)


@_tagged
class BuildMessage(NamedTuple):
    """A line outside any step ("naming to docker.io/library/x:v1")."""

    text: str
    at: float


@_tagged
class BuildWarning(NamedTuple):
    """A build check's warning (frontend/checks.py): renderers show them all when the build ends, as docker
    buildx does, or pass them on (rawjson)."""

    rule: str  # "StageNameCasing"
    detail: str  # "Stage name 'Build' should be lowercase"
    description: str  # what the rule is about
    url: str  # its documentation, "" when it has none
    path: str  # the Dockerfile
    line: int
    end_line: int
    excerpt: tuple[str, ...]  # the Dockerfile's lines there, the warned-about ones marked
    at: float

    @property
    def short(self) -> str:
        """BuildKit's one-line form: "StageNameCasing: Stage name 'Build' should be lowercase (line 3)"."""
        return f"{self.rule}: {self.detail} (line {self.line})"


Event = StepStarted | StepCached | StepLog | StepDone | StepFailed | BuildMessage | BuildWarning


class EventSink(Protocol):
    """Where events go. `emit` is called from several threads at once (stages run in parallel), so an
    implementation serializes what it does with them; it returns quickly and never raises for a well-formed
    event."""

    def emit(self, event: Event) -> None: ...


class Discard:
    """An EventSink for callers that show no progress."""

    def emit(self, event: Event) -> None:
        pass


class StepReporter(NamedTuple):
    """The step `step()` opened: what the work inside reports on it."""

    events: EventSink
    vertex: str

    def log(self, line: str, stream: int = 1) -> None:
        """One line of the step's output (its newline added)."""
        self.events.emit(StepLog(self.vertex, stream, (line + "\n").encode(), time.time()))


@contextmanager
def step(
    events: EventSink, vertex: str, name: str, *, clock: Callable[[], float] = time.time
) -> Iterator[StepReporter]:
    """A step around the block: `StepStarted`, then `StepDone`, or `StepFailed` when the block raises (the
    error is raised on). Ctrl-C (KeyboardInterrupt) and BuildCancelled make a cancelled `StepFailed`."""
    events.emit(StepStarted(vertex, name, clock()))
    try:
        yield StepReporter(events, vertex)
    except BaseException as err:
        events.emit(_failed(vertex, err, clock()))
        raise
    events.emit(StepDone(vertex, clock()))


def _failed(vertex: str, err: BaseException, at: float) -> StepFailed:
    """The `StepFailed` that `err` ends a step with."""
    from slipway.errors import BuildCancelled  # only when a step fails: a no-op rebuild never needs it

    if isinstance(err, KeyboardInterrupt | BuildCancelled):
        return StepFailed(vertex, "cancelled", at, cancelled=True)
    return StepFailed(vertex, str(err), at)
