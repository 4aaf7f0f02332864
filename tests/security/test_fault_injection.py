"""kill -9 at varied moments of build, save, load, pull, push and prune (issue 11, "Fault injection").

After each kill the next command (`images` or `system check`) leaves nothing mounted and no container running,
`system check` is clean, every image `images` lists is whole, and the killed command run again succeeds. The
moments are chosen deterministically: a build is killed once it has written its k-th progress event
(`--progress rawjson`), the other commands after a fraction of the time an uninterrupted run of theirs took.
A handful of kills run by default; `make test-slow` runs 100 drawn from a seeded generator.
"""

from __future__ import annotations

import json
import random
import tarfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
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
    make_context,
    store_with_busybox,
)

from interop.registry._registry_servers import Registry, running_registry

pytestmark = [pytest.mark.root, pytest.mark.interop]

busybox_rootfs = helpers.busybox_rootfs
busybox_tar = helpers.busybox_tar

SEED = 11
SLOW_KILLS = 100
COMMANDS = ("build", "save", "load", "pull", "push", "prune")
# The odd sleeps find a killed build's container processes on the host.
MARKERS = ("0.317", "0.419")
DOCKERFILE = """FROM busybox:test AS tools
RUN echo tool > /tool && sleep 0.317
FROM busybox:test
COPY payload /payload
RUN --mount=type=bind,from=tools,target=/tools --mount=type=tmpfs,target=/scratch \\
    cat /tools/tool > /from-tools && sleep 0.419
RUN --mount=type=cache,target=/cache dd if=/payload of=/cache/copy bs=64k 2>/dev/null && cp /cache/copy /copy
COPY --from=tools /tool /copied-tool
"""
PAYLOAD_BYTES = 24 << 20  # big enough that save, load, pull and push take a while


@dataclass(frozen=True)
class Kill:
    command: str  # one of COMMANDS
    after_events: int = 0  # build: kill once this many progress events are out
    fraction: float = 0.0  # the others: kill after this fraction of an uninterrupted run's time

    def __str__(self) -> str:
        moment = f"event-{self.after_events}" if self.after_events else f"at-{self.fraction:.2f}"
        return f"{self.command}-{moment}"


DEFAULT_KILLS = (
    Kill("build", after_events=3),  # the tools stage's RUN has started
    Kill("build", after_events=9),  # mid-way: a RUN with a bind mount of the tools stage, a tmpfs
    Kill("save", fraction=0.5),
    Kill("load", fraction=0.5),
    Kill("pull", fraction=0.5),
    Kill("pull", fraction=0.9),  # late: in its blob batch's sync and renames, or before the image record
    Kill("push", fraction=0.5),
    Kill("prune", fraction=0.5),
)


def slow_kills(build_events: int) -> list[Kill]:
    draw = random.Random(SEED)
    kills = []
    for number in range(SLOW_KILLS):
        command = COMMANDS[number % len(COMMANDS)] if number < 60 else "build"  # builds get the rest
        if command == "build" and draw.random() < 0.5:
            kills.append(Kill("build", after_events=draw.randint(1, build_events - 2)))
        else:
            kills.append(Kill(command, fraction=round(draw.uniform(0.05, 0.95), 2)))
    return kills


@dataclass
class Faults:
    """The stores the kills hit, the registry, and what uninterrupted runs measured."""

    main: DirectSlipway  # builds, saves, pushes, prunes
    receiver: DirectSlipway  # loads and pulls
    registry: Registry
    context: Path
    archive: Path  # a complete `save` of big:v1
    out: Path  # where a killed save writes
    pulled: str  # big:v1 in the registry
    durations: dict[str, float] = field(default_factory=dict)
    build_events: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    pushes: int = 0

    def kill_argv(self, command: str) -> tuple[DirectSlipway, list[str]]:
        match command:
            case "build":
                return self.main, [
                    "build",
                    "--no-cache",
                    "--progress",
                    "rawjson",
                    "-t",
                    "faults:build",
                    str(self.context),
                ]
            case "save":
                return self.main, ["save", "-o", str(self.out), "big:v1"]
            case "load":
                return self.receiver, ["load", "-i", str(self.archive)]
            case "pull":
                return self.receiver, ["pull", self.pulled]
            case "push":
                self.pushes += 1
                return self.main, ["push", "big:v1", f"{self.registry.host}/faults/pushed-{self.pushes}:v1"]
            case "prune":
                return self.main, ["system", "prune", "-f"]
        raise AssertionError(command)

    @staticmethod
    def again_argv(command: str, argv: list[str]) -> list[str]:
        """The killed command, run again to the end: a build with its cache and plain progress."""
        if command == "build":
            return ["build", "--progress", "plain", *argv[argv.index("-t") :]]
        return argv

    def prepare(self, command: str) -> None:
        """Give the command work to do: what it makes is not there yet."""
        match command:
            case "load" | "pull":
                self.receiver.ok("system", "prune", "-af")
            case "prune":
                # Something to collect: a build's cache records and snapshots, and an image no name keeps.
                self.main.ok("build", "--no-cache", str(self.context))

    def measure(self, command: str) -> None:
        if command in self.durations:
            return
        self.prepare(command)
        slipway, argv = self.kill_argv(command)
        started = time.monotonic()
        finished = slipway(*argv)
        self.durations[command] = time.monotonic() - started
        assert finished.returncode == 0, describe(finished)
        if command == "build":
            self.build_events = _events((finished.stdout + finished.stderr).splitlines())


@pytest.fixture(scope="module")
def faults(tmp_path_factory: pytest.TempPathFactory, busybox_tar: Path) -> Iterator[Faults]:
    work = tmp_path_factory.mktemp("faults")
    with pytest.MonkeyPatch.context() as patch, running_registry(work / "registry") as registry:
        patch.setenv("DOCKER_CONFIG", str(work / "docker-config"))  # no credentials of this machine's
        main = store_with_busybox(work / "main", busybox_tar)
        receiver = DirectSlipway(work / "receiver")
        context = make_context(
            work / "ctx", DOCKERFILE, {"payload": random.Random(SEED).randbytes(PAYLOAD_BYTES)}
        )
        main.ok("build", "-t", "big:v1", str(context))
        archive = work / "big.tar"
        main.ok("save", "-o", str(archive), "big:v1")
        (work / "out").mkdir()
        pulled = f"{registry.host}/faults/big:v1"
        main.ok("push", "big:v1", pulled)
        yield Faults(main, receiver, registry, context, archive, work / "out" / "saved.tar", pulled)
        for store in (main, receiver):
            clean_up_after_a_failure(store.root, *MARKERS)


def kill_and_recover(faults: Faults, kill: Kill, number: int) -> bool:
    """Whether the kill landed (the command had not finished by then)."""
    faults.measure(kill.command)
    faults.prepare(kill.command)
    slipway, argv = faults.kill_argv(kill.command)
    process = slipway.start(*argv)
    output = Output(process)
    with killed_at_the_end(process):
        if kill.after_events:
            assert output.wait_until(lambda lines: _events(lines) >= kill.after_events), output.text
        else:
            time.sleep(kill.fraction * faults.durations[kill.command])  # the kill's moment, not a check
        landed = process.poll() is None
        if landed:
            kill_9(process)
    faults.outcomes["killed" if landed else "finished first"] += 1

    # The next command: alternately a plain listing and the check itself, the first to open the store.
    if number % 2:
        recovered = slipway("system", "check")
        assert recovered.returncode == 0, describe(recovered)
        faults.outcomes.update(f"undone: {kind}" for kind in _recovered(recovered.stderr))
    assert_store_is_whole(slipway, *MARKERS)
    _assert_output_whole_or_absent(faults.out)
    faults.outcomes["partial save files"] = len(list(faults.out.parent.glob(".*.partial-*")))

    again = slipway(*faults.again_argv(kill.command, argv))
    assert again.returncode == 0, f"{kill} then again: {describe(again)}"
    assert_store_is_whole(slipway, *MARKERS)
    if kill.command in ("build", "load", "pull"):
        shown = slipway.run_output(
            "faults:build" if kill.command == "build" else _image(faults, kill), "cat", "/copied-tool"
        )
        assert shown == "tool\n"
    return landed


@pytest.mark.parametrize("kill", DEFAULT_KILLS, ids=str)
def test_a_kill_leaves_nothing_the_next_command_does_not_undo(faults: Faults, kill: Kill) -> None:
    # A command may run faster than it did when measured (the machine is shared): then the kill comes
    # earlier, up to three times, so that one lands.
    for attempt in range(4):
        moment = replace(kill, fraction=kill.fraction / 2**attempt)
        if kill_and_recover(faults, moment, DEFAULT_KILLS.index(kill)):
            return
    pytest.fail(f"{kill.command} ended before every kill: the moments test nothing")


@pytest.mark.slow
def test_a_hundred_kills_leave_nothing_behind(faults: Faults) -> None:
    faults.measure("build")
    kills = slow_kills(faults.build_events)
    for number, kill in enumerate(kills):
        kill_and_recover(faults, kill, number)
    print(f"\n{len(kills)} kills: {dict(faults.outcomes)}; measured {faults.durations}")
    assert faults.outcomes["killed"] >= len(kills) * 3 // 4, faults.outcomes


def _events(lines: list[str]) -> int:
    return sum(1 for line in lines if line.startswith('{"type"'))


def _recovered(stderr: str) -> list[str]:
    """The kinds of leftovers (container, overlay, bind, mount) `system check` says it undid."""
    prefix = "recovered: "
    return [
        line.removeprefix(prefix).split(" ")[0] for line in stderr.splitlines() if line.startswith(prefix)
    ]


def _image(faults: Faults, kill: Kill) -> str:
    return "big:v1" if kill.command == "load" else faults.pulled


def _assert_output_whole_or_absent(out: Path) -> None:
    """A killed save never leaves a partial archive where it writes: the file is whole, or not there. (Its
    partial file beside it, named for the killed process, is another matter: see the report of issue 11.)"""
    if not out.exists():
        return
    with tarfile.open(out) as archive:
        manifest = json.load(archive.extractfile("manifest.json"))  # type: ignore[arg-type]
        names = set(archive.getnames())
    assert all(layer in names for entry in manifest for layer in entry["Layers"])
