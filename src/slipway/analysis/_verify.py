"""`advise --verify`: run the original image and the rewritten one with the same command and compare what a
user sees (stdout, stderr, exit code). The original runs twice: a program whose output changes from run to run
(a clock, random data) cannot be compared, and the verdict says so instead of guessing."""

from __future__ import annotations

from dataclasses import dataclass

from slipway.errors import BuildCancelled
from slipway.runner import RunRequest, run_container
from slipway.store import Store
from slipway.worker.runtime import Runtime

__all__ = ["RunOutput", "compare_runs", "run_captured"]

OUTPUT_CAP = 1 << 20  # bytes kept of each stream
HOSTNAME = "slipway-verify"  # the same in every run: a program may print it


@dataclass(frozen=True, slots=True)
class RunOutput:
    exit_code: int  # -1: killed after the timeout
    stdout: str
    stderr: str


def run_captured(
    store: Store, runtime: Runtime, image: str, command: tuple[str, ...], timeout: float
) -> RunOutput:
    """Run `image` (its own ENTRYPOINT/CMD when `command` is empty) without network; capture its output."""
    streams = {1: bytearray(), 2: bytearray()}

    def keep(fd: int, chunk: bytes) -> None:
        stream = streams[fd]
        stream += chunk[: max(OUTPUT_CAP - len(stream), 0)]

    request = RunRequest(image=image, command=command, network="none", hostname=HOSTNAME)
    try:
        code = run_container(request, store=store, runtime=runtime, on_output=keep, timeout=timeout)
    except BuildCancelled:
        code = -1
    return RunOutput(code, streams[1].decode(errors="replace"), streams[2].decode(errors="replace"))


def compare_runs(first: RunOutput, again: RunOutput, rewritten: RunOutput, timeout: float) -> str | None:
    """Why the rewrite cannot be said to behave the same; None when it does."""
    if first.exit_code == -1:
        return f"the original did not finish within {timeout:g} s; give --verify-cmd a command that ends"
    if first != again:
        return (
            "the original's output changes from run to run, so the two images cannot be compared; give "
            "--verify-cmd a command with repeatable output"
        )
    for what, before, after in (
        ("stdout", first.stdout, rewritten.stdout),
        ("stderr", first.stderr, rewritten.stderr),
        ("exit code", str(first.exit_code), str(rewritten.exit_code)),
    ):
        if before != after:
            return (
                f"the rewritten image behaves differently ({what}: {_first_difference(before, after)}): the program "
                "probably reads files at run time that the rewrite leaves in the build stage"
            )
    return None


def _first_difference(before: str, after: str) -> str:
    old, new = before.splitlines() or [""], after.splitlines() or [""]
    for index in range(max(len(old), len(new))):
        a = old[index] if index < len(old) else "<nothing>"
        b = new[index] if index < len(new) else "<nothing>"
        if a != b:
            return f"the original gave {a[:120]!r}, the rewrite {b[:120]!r}"
    return "they differ in line endings"
