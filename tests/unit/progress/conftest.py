"""A scripted build: two steps of parallel stages interleave, one is cached, output comes in chunks that
split lines, one step fails. Times are in the events, so every renderer draws it the same each run."""

from __future__ import annotations

import pytest

from slipway.progress.events import (
    BuildMessage,
    Event,
    StepCached,
    StepDone,
    StepFailed,
    StepLog,
    StepStarted,
)

T0 = 1_700_000_000.0
FAILURE = 'process "/bin/sh -c ./test" did not complete successfully: exit code: 1'

SCRIPT: tuple[Event, ...] = (
    StepStarted("sha256:aa", "[stage-0 1/2] FROM docker.io/library/busybox:latest", T0),
    StepDone("sha256:aa", T0 + 0.125),
    StepCached("sha256:bb", "[stage-0 2/2] COPY go.mod ./", T0 + 0.25),
    StepStarted("sha256:cc", "[stage-1 2/3] RUN make", T0 + 0.25),
    StepLog("sha256:cc", 1, b"compiling ", T0 + 0.5),  # half a line: nothing to print yet
    StepStarted("sha256:dd", "[stage-2 2/2] RUN ./test", T0 + 0.625),
    StepLog("sha256:cc", 1, b"main.c\nlinking", T0 + 0.75),
    StepLog("sha256:dd", 2, b"ok 1\nok 2\n", T0 + 0.875),
    StepLog("sha256:cc", 1, b" app\n", T0 + 1.0),
    StepDone("sha256:cc", T0 + 1.375),
    StepLog("sha256:dd", 2, b"FAIL: x", T0 + 1.5),  # never terminated: flushed when the step ends
    StepFailed("sha256:dd", FAILURE, T0 + 1.625),
    BuildMessage("naming to docker.io/library/x:v1", T0 + 1.75),
)


@pytest.fixture
def script() -> tuple[Event, ...]:
    return SCRIPT
