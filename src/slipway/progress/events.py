"""Progress events: what the solver and the worker report while a build runs. Only renderers print them.

A step's life is `StepStarted`, any number of `StepLog`, then `StepDone` or `StepFailed`; a cache hit is one
`StepCached` instead. `vertex` names the step (its digest, or a synthetic id such as "export") and `at` is
the wall clock (`time.time()`) when the event happened: renderers compute every duration they show from
these values, so a scripted sequence renders the same every time.

They are NamedTuples, not dataclasses: a no-op rebuild renders them, and the dataclasses module (with the
`inspect` it imports) would cost that rebuild ~5 ms.
"""

from typing import NamedTuple, Protocol

__all__ = [
    "BuildMessage",
    "BuildWarning",
    "Event",
    "EventSink",
    "StepCached",
    "StepDone",
    "StepFailed",
    "StepLog",
    "StepStarted",
]


class StepStarted(NamedTuple):
    vertex: str
    name: str  # what the user reads: "[stage-0 2/4] RUN go build ./..."
    at: float


class StepCached(NamedTuple):
    vertex: str
    name: str
    at: float


class StepLog(NamedTuple):
    vertex: str
    stream: int  # 1 stdout, 2 stderr
    data: bytes  # a chunk as the process wrote it: lines may be split across chunks
    at: float


class StepDone(NamedTuple):
    vertex: str
    at: float


class StepFailed(NamedTuple):
    vertex: str
    error: str
    at: float


class BuildMessage(NamedTuple):
    """A line outside any step ("naming to docker.io/library/x:v1")."""

    text: str
    at: float


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
