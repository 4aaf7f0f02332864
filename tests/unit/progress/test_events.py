"""step(): a step's whole life around a block, whatever way the block ends; events equal only their own type."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from slipway.errors import BuildCancelled, RunFailed
from slipway.progress.events import (
    Event,
    StepCached,
    StepDone,
    StepFailed,
    StepLog,
    StepStarted,
    step,
)


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def emit(self, event: Event) -> None:
        self.events.append(event)


def ticks() -> Callable[[], float]:
    times = iter(range(100))
    return lambda: float(next(times))


def test_a_step_that_works_is_started_then_done() -> None:
    sink = Recorder()
    with step(sink, "export", "exporting to image", clock=ticks()) as reporter:
        reporter.log("pushing x")
    assert sink.events[0] == StepStarted("export", "exporting to image", 0.0)
    assert sink.events[1] == StepLog("export", 1, b"pushing x\n", sink.events[1].at)
    assert sink.events[2:] == [StepDone("export", 1.0)]


def test_a_step_that_raises_fails_with_the_message_and_the_error_goes_on() -> None:
    sink = Recorder()
    with pytest.raises(RunFailed), step(sink, "v", "[1/1] RUN false", clock=ticks()):
        raise RunFailed("exit code: 1")
    assert sink.events == [StepStarted("v", "[1/1] RUN false", 0.0), StepFailed("v", "exit code: 1", 1.0)]


@pytest.mark.parametrize("error", [KeyboardInterrupt(), BuildCancelled("build cancelled")])
def test_ctrl_c_and_a_cancelled_build_fail_the_step_as_cancelled(error: BaseException) -> None:
    sink = Recorder()
    with pytest.raises(type(error)), step(sink, "v", "[1/1] RUN sleep 9", clock=ticks()):
        raise error
    assert sink.events[-1] == StepFailed("v", "cancelled", 1.0, cancelled=True)


def test_events_of_different_types_with_the_same_fields_differ() -> None:
    assert StepStarted("v", "n", 1.0) != StepCached("v", "n", 1.0)
    assert StepCached("v", "n", 1.0) != StepStarted("v", "n", 1.0)
    assert StepDone("v", 1.0) != ("v", 1.0)
    assert StepDone("v", 1.0) == StepDone("v", 1.0)
    assert len({StepStarted("v", "n", 1.0), StepCached("v", "n", 1.0), StepStarted("v", "n", 1.0)}) == 2
