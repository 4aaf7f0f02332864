"""Builds, runs and prunes at once on one store (issue 11, item 9 and "Four concurrent builds plus a prune"):
a prune never collects what a live build or `slipway run` container uses and never waits on a container; it
says so when it must wait for a command storing an image. `slipway run` passes SIGINT/SIGTERM on to the
container, and kills one that does not end within --stop-timeout, as `docker stop` does."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from _crash import (
    DirectSlipway,
    Output,
    assert_store_is_whole,
    clean_up_after_a_failure,
    describe,
    helpers,
    killed_at_the_end,
    left_on_the_host,
    make_context,
    processes_with_argument,
    store_with_busybox,
    wait_for,
)

pytestmark = pytest.mark.root

# Four builds sharing their base and first steps (so their cache records and snapshots meet), each with a stage
# read through a bind mount and COPY --from, and steps that change every round.
DOCKERFILE = """FROM busybox:test AS base
RUN echo shared > /shared
FROM base AS tools
ARG ROUND
RUN echo "tool {name} $ROUND" > /tool && sleep 0.2
FROM base
ARG ROUND
COPY payload /payload
RUN --mount=type=bind,from=tools,target=/tools cat /tools/tool > /from-tools && sleep 0.3
COPY --from=tools /tool /copied
RUN echo "{name} $ROUND" > /round
"""
PRUNES = (("builder", "prune", "-af"), ("system", "prune", "-f"), ("image", "prune", "-f"))


busybox_rootfs = helpers.busybox_rootfs
busybox_tar = helpers.busybox_tar


@pytest.fixture
def slipway(tmp_path: Path, busybox_tar: Path) -> Iterator[DirectSlipway]:
    store = store_with_busybox(tmp_path / "store", busybox_tar)
    yield store
    clean_up_after_a_failure(store.root, SLEEPER, TRAPS_SIGNALS)


@pytest.mark.parametrize("rounds", [2, pytest.param(12, marks=pytest.mark.slow)])
def test_four_builds_and_a_prune_at_once_all_succeed(
    slipway: DirectSlipway, tmp_path: Path, rounds: int
) -> None:
    names = ("alpha", "beta", "gamma", "delta")
    contexts = {
        name: make_context(tmp_path / name, DOCKERFILE.format(name=name), {"payload": name}) for name in names
    }
    for round_number in range(rounds):
        builds = {
            name: slipway.start(
                "build",
                "--progress",
                "plain",
                "--build-arg",
                f"ROUND={round_number}",
                "-t",
                f"{name}:latest",
                str(context),
            )  # fmt: skip
            for name, context in contexts.items()
        }
        outputs = {name: Output(build) for name, build in builds.items()}
        # The prune starts once every build is past its FROM: it meets them mid-way.
        for output in outputs.values():
            output.wait_until(lambda lines: any("RUN" in line for line in lines))
        prune = slipway(*PRUNES[round_number % len(PRUNES)])
        for name, build in builds.items():
            with killed_at_the_end(build):
                assert build.wait(timeout=300) == 0, f"{name}, round {round_number}:\n{outputs[name].text}"
        assert prune.returncode == 0, describe(prune)
        assert "Traceback" not in prune.stderr
        assert left_on_the_host(slipway.root) == []
        checked = slipway("system", "check")
        assert checked.returncode == 0, describe(checked)
        for name in names:
            shown = slipway.run_output(f"{name}:latest", "cat", "/round", "/from-tools", "/copied", "/shared")
            assert shown == f"{name} {round_number}\n" + f"tool {name} {round_number}\n" * 2 + "shared\n"
    assert_store_is_whole(slipway)


# PID 1 of a container gets no signal it has no handler for: `sleep` has none, so it ignores SIGTERM and SIGINT,
# as a server that does not handle them would (busybox sh would end on SIGINT by itself).
SLEEPER = "86399"
IGNORES_SIGNALS = f"echo ready-to-be-stopped; exec sleep {SLEEPER}"
TRAPS_SIGNALS = (
    'trap "echo got-the-signal; exit 0" TERM INT; echo ready-to-be-stopped; while true; do sleep 0.1; done'
)


def start_container(slipway: DirectSlipway, script: str) -> tuple[subprocess.Popen[str], Output]:
    run = slipway.start("run", "--stop-timeout", "1", "busybox:test", "sh", "-c", script)
    output = Output(run)
    assert output.wait_until(lambda lines: "ready-to-be-stopped\n" in lines), output.text
    if script == IGNORES_SIGNALS:  # until sleep is PID 1, the shell is, and it ends on SIGINT by itself
        assert wait_for(lambda: processes_with_argument(SLEEPER)), output.text
    return run, output


def snapshot_dirs(slipway: DirectSlipway) -> set[str]:
    return {path.name for path in (slipway.root / "snapshots").iterdir()}


def test_prune_neither_waits_for_nor_collects_under_a_running_container(slipway: DirectSlipway) -> None:
    # As Docker's: `prune -a` keeps the images containers use; and the container's layers stay.
    run, output = start_container(slipway, IGNORES_SIGNALS)
    with killed_at_the_end(run):
        under_the_container = snapshot_dirs(slipway)
        assert under_the_container, "the image's layers are unpacked for the container"
        for prune in (("image", "prune", "-af"), ("builder", "prune", "-af"), ("system", "prune", "-af")):
            pruned = slipway(*prune, timeout=120)
            assert pruned.returncode == 0, describe(pruned)
            assert "waiting" not in pruned.stderr
        assert slipway("inspect", "busybox:test").returncode == 0, (
            "prune -a removed an image a container runs"
        )
        # Without the image, only the container's own hold keeps its layers.
        slipway.ok("rmi", "-f", "busybox:test")
        slipway.ok("system", "prune", "-af")
        assert snapshot_dirs(slipway) == under_the_container, "the running container's root lost its layers"
        assert run.poll() is None
        run.send_signal(signal.SIGTERM)
        assert run.wait(timeout=60) == 137, output.text  # ignored, so killed after --stop-timeout
    slipway.ok("system", "prune", "-af")
    assert snapshot_dirs(slipway) == set(), "the container is gone: its layers go"
    assert_store_is_whole(slipway)


def test_prune_says_once_that_it_waits_for_a_command_storing_an_image(slipway: DirectSlipway) -> None:
    # What a pull or a load holds while it stores an image: the store's lease.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from slipway.store import Store\n"
            "with Store.open(Path(sys.argv[1])) as store, store.lease():\n"
            "    print('storing', flush=True)\n"
            "    sys.stdin.read()\n",
            str(slipway.root),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    with killed_at_the_end(holder):
        assert holder.stdout is not None and holder.stdin is not None
        assert holder.stdout.readline() == "storing\n"
        prune = subprocess.Popen(
            slipway.argv("image", "prune", "-f"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        with killed_at_the_end(prune):
            assert prune.stderr is not None
            said = prune.stderr.readline()
            assert f"waiting for another slipway command (process {holder.pid})" in said
            holder.stdin.close()
            assert prune.wait(timeout=60) == 0
            assert "waiting" not in prune.stderr.read(), "said more than once"
    assert_store_is_whole(slipway)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_run_passes_a_stop_signal_to_the_container(slipway: DirectSlipway, stop: signal.Signals) -> None:
    run, output = start_container(slipway, TRAPS_SIGNALS)
    with killed_at_the_end(run):
        run.send_signal(stop)
        assert run.wait(timeout=60) == 0, output.text
    output.join(timeout=10)
    assert "got-the-signal" in output.text
    assert_store_is_whole(slipway, SLEEPER, TRAPS_SIGNALS)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_run_kills_a_container_that_ignores_the_stop_signal(
    slipway: DirectSlipway, stop: signal.Signals
) -> None:
    run, output = start_container(slipway, IGNORES_SIGNALS)
    with killed_at_the_end(run):
        run.send_signal(stop)
        assert run.wait(timeout=60) == 128 + signal.SIGKILL, output.text
    assert "Traceback" not in output.text
    assert_store_is_whole(slipway, SLEEPER, TRAPS_SIGNALS)
