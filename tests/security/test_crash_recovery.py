"""A killed build leaves nothing behind once the next command runs (issue 11, item 3): every mount and runc
container is a lease in meta.db before it exists, and opening the store undoes the leases of dead processes.
SIGTERM and SIGHUP stop a build as Ctrl-C does. Mounts no lease explains are reported and pruned."""

from __future__ import annotations

import signal
import subprocess
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
    kill_9,
    killed_at_the_end,
    left_on_the_host,
    make_context,
    mounts_under,
    processes_with_argument,
    store_with_busybox,
    wait_for,
)

pytestmark = pytest.mark.root

# A RUN on an overlay root, with a read-only view of another stage bind-mounted in and a tmpfs: every kind of
# mount a step makes. The sleep's odd duration finds its process on the host.
LONG_STEP = "93.17"
DOCKERFILE = f"""FROM busybox:test AS tools
RUN echo tool > /tool
FROM busybox:test
COPY payload /payload
RUN --mount=type=bind,from=tools,target=/tools --mount=type=tmpfs,target=/scratch \\
    cat /tools/tool > /from-tools && echo long-step-running && sleep {LONG_STEP}
"""
QUICK_DOCKERFILE = DOCKERFILE.replace(f"sleep {LONG_STEP}", "true")


busybox_rootfs = helpers.busybox_rootfs
busybox_tar = helpers.busybox_tar


@pytest.fixture
def slipway(tmp_path: Path, busybox_tar: Path) -> Iterator[DirectSlipway]:
    store = store_with_busybox(tmp_path / "store", busybox_tar)
    yield store
    clean_up_after_a_failure(store.root, LONG_STEP)


def start_long_build(slipway: DirectSlipway, context: Path) -> tuple[subprocess.Popen[str], Output]:
    build = slipway.start("build", "--progress", "plain", "-t", "crash:test", str(context))
    output = Output(build)
    started = output.wait_until(
        lambda lines: any(line.rstrip().endswith("long-step-running") for line in lines)
    )
    assert started, f"the long step never started:\n{output.text}"
    return build, output


def test_kill_9_during_a_run_leaves_nothing_once_the_next_command_runs(
    slipway: DirectSlipway, tmp_path: Path
) -> None:
    context = make_context(tmp_path / "ctx", DOCKERFILE, {"payload": "p"})
    for _ in range(3):  # each killed build's leftovers are undone by the next build, not piled up
        with killed_at_the_end(start_long_build(slipway, context)[0]) as build:
            # While the step runs: its overlay root and the view of the tools stage, each under a lease; the
            # runtime's own mounts (the bind of /tools, the tmpfs) live in the container's mount namespace.
            mounted = mounts_under(slipway.root)
            assert len(mounted) == 2, mounted
            assert not any("/scratch" in line or "tmpfs" in line for line in mounted), mounted
            kill_9(build)
            assert mounts_under(slipway.root), "nothing to recover: the kill came too late"

    assert_store_is_whole(slipway, LONG_STEP)
    assert slipway("inspect", "crash:test").returncode != 0, "a killed build named an image"
    finished = make_context(tmp_path / "again", QUICK_DOCKERFILE, {"payload": "p"})
    slipway.build_ok(finished, "-t", "crash:test")
    assert slipway.run_output("crash:test", "cat", "/from-tools") == "tool\n"
    assert left_on_the_host(slipway.root, LONG_STEP) == []


def test_a_rebuild_answered_from_its_memo_still_undoes_a_killed_build(
    slipway: DirectSlipway, tmp_path: Path
) -> None:
    finished = make_context(tmp_path / "done", QUICK_DOCKERFILE, {"payload": "p"})
    slipway.build_ok(finished, "-t", "crash:done")  # a memo: the same build again opens no store
    with killed_at_the_end(
        start_long_build(slipway, make_context(tmp_path / "ctx", DOCKERFILE, {"payload": "p"}))[0]
    ) as build:
        kill_9(build)
    assert mounts_under(slipway.root)

    again = slipway("build", "-t", "crash:done", str(finished))  # the form the memo answers
    assert again.returncode == 0, describe(again)
    assert left_on_the_host(slipway.root, LONG_STEP) == []
    assert_store_is_whole(slipway, LONG_STEP)


def test_kill_9_of_run_leaves_no_container_once_the_next_command_runs(slipway: DirectSlipway) -> None:
    run = slipway.start("run", "busybox:test", "sh", "-c", f"echo container-running; exec sleep {LONG_STEP}")
    output = Output(run)
    with killed_at_the_end(run):
        assert output.wait_until(lambda lines: "container-running\n" in lines), output.text
        assert wait_for(lambda: processes_with_argument(LONG_STEP)), "the container's process never started"
        kill_9(run)
    assert processes_with_argument(LONG_STEP), "nothing to recover: the container ended with slipway"
    assert len(mounts_under(slipway.root)) == 1, "the container's root"
    assert_store_is_whole(slipway, LONG_STEP)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_stop_a_build_as_ctrl_c_does(
    slipway: DirectSlipway, tmp_path: Path, stop: signal.Signals
) -> None:
    context = make_context(tmp_path / "ctx", DOCKERFILE, {"payload": "p"})
    build, output = start_long_build(slipway, context)
    with killed_at_the_end(build):
        build.send_signal(stop)
        assert build.wait(timeout=60) == 130, output.text
    output.join(timeout=10)
    assert "Traceback" not in output.text
    assert f"build cancelled ({stop.name})" in output.text
    # Cleaned up by the build itself, before it exited: nothing for the next command to undo.
    assert left_on_the_host(slipway.root, LONG_STEP) == []
    assert list((slipway.root / "tmp").iterdir()) == []
    assert_store_is_whole(slipway, LONG_STEP)


@pytest.mark.parametrize(
    "prune", [("system", "prune", "-f"), ("builder", "prune", "-af"), ("image", "prune", "-f")], ids=" ".join
)
def test_a_mount_no_lease_explains_is_reported_and_pruned(
    slipway: DirectSlipway, tmp_path: Path, prune: tuple[str, ...]
) -> None:
    # As a slipway from before leases would have left one: mounted under the root, recorded nowhere.
    stray = slipway.root / "snapshots" / "stray-mount"
    stray.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "stray", str(stray)], check=True)
    checked = slipway("system", "check")
    assert checked.returncode == 1, describe(checked)
    assert f"mount at {stray.resolve()} that no slipway process recorded" in checked.stdout
    assert mounts_under(slipway.root), "check only reports"

    slipway.ok(*prune)
    assert mounts_under(slipway.root) == []
    assert_store_is_whole(slipway)
