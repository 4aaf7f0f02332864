"""Resource bounds on hostile Dockerfiles (issue 11, item 7): what a user sees, and scaling guards.

The guards count operations (Python lines run and C functions called, with sys.settrace/sys.setprofile) for
an input of size N and of size 2N: linear work doubles, quadratic work quadruples. No timings: the count
does not depend on the machine, and pytest-timeout is the backstop for a case that would hang.
"""

from __future__ import annotations

import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from slipway.errors import ContextError, DockerfileError, ExpansionError
from slipway.frontend.convert import BaseImage, ConvertOptions, convert
from slipway.frontend.files import MAX_FILE_BYTES, read_file
from slipway.frontend.parser import parse
from slipway.frontend.shell import MAX_NESTING, ShellLexer
from slipway.graph.ops import Exec, ScratchSource, Vertex, walk
from slipway.progress.clip import MAX_LINE_CHARACTERS, MAX_LINES, clip_text
from slipway.progress.failure import format_run_failure
from slipway.solver.scheduler import Scheduler

_ONE_GIB = 1024**3

# Linear work doubles with the input; quadratic work quadruples. Constant overheads make small inputs cost
# a little more than double, so the bar sits between the two.
LINEAR = 2.6


class NoImages:
    def resolve(self, ref: str, platform: str) -> BaseImage:
        raise AssertionError(f"no image is needed, yet {ref} was resolved")


def count_operations(function: Callable[[], object]) -> int:
    """Python lines executed and C functions called while `function` runs (in this thread)."""
    count = 0

    def trace(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal count
        count += 1
        return trace

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        nonlocal count
        if event == "c_call":
            count += 1

    sys.settrace(trace)
    sys.setprofile(profile)
    try:
        function()
    finally:
        sys.settrace(None)
        sys.setprofile(None)
    return count


def growth(make: Callable[[int], Callable[[], object]], size: int) -> float:
    """How much more work an input of twice `size` takes."""
    return count_operations(make(2 * size)) / count_operations(make(size))


def converting(text: str) -> Callable[[], object]:
    parsed = parse(text)
    return lambda: convert(parsed, ConvertOptions(), NoImages())


def dockerfile_error(text: str) -> DockerfileError:
    with pytest.raises(DockerfileError) as caught:
        convert(parse(text, path="Dockerfile"), ConvertOptions(), NoImages())
    return caught.value


# ---- ENV, ARG, LABEL with many pairs -------------------------------------------------------------------


@pytest.mark.parametrize("keyword", ["ENV", "ARG", "LABEL"])
def test_an_instruction_with_many_pairs_takes_linear_work(keyword: str) -> None:
    def make(count: int) -> Callable[[], object]:
        pairs = " ".join(f"V{i}=x{i}" for i in range(count))
        return converting(f"FROM scratch\nARG A=1\n{keyword} {pairs}\nENV W=$A\nRUN true\n")

    assert growth(make, 1500) < LINEAR


def test_many_env_instructions_each_take_work_independent_of_the_env_size() -> None:
    def make(count: int) -> Callable[[], object]:
        return converting("FROM scratch\n" + "".join(f"ENV V{i}=x\n" for i in range(count)))

    assert growth(make, 800) < LINEAR


def test_env_with_200000_variables_builds_its_config() -> None:
    count = 200_000
    text = "FROM scratch\nENV " + " ".join(f"V{i}=x" for i in range(count)) + "\nRUN env\n"
    graph = convert(parse(text), ConvertOptions(), NoImages())
    env = graph.target.config.config.env or ()
    assert len(env) == count + 1 and env[-1] == f"V{count - 1}=x"
    run = graph.target.root.op
    assert isinstance(run, Exec) and len(run.env) == count + 1


# ---- chains of stages ---------------------------------------------------------------------------------


def chained_stages(count: int) -> str:
    return "FROM scratch AS s0\nRUN true\n" + "".join(
        f"FROM s{i} AS s{i + 1}\nCOPY --from=s{i} /a /b{i}\n" for i in range(count)
    )


def test_ten_thousand_chained_stages_convert() -> None:
    graph = convert(parse(chained_stages(10_000)), ConvertOptions(), NoImages())
    assert len(graph.stages) == 10_001
    assert len(walk(graph.target.root)) == 10_002  # scratch, the RUN and one COPY per stage


def test_chained_stages_take_linear_work() -> None:
    assert growth(lambda count: converting(chained_stages(count)), 300) < LINEAR


def test_scheduling_a_long_chain_takes_linear_work() -> None:
    def make(count: int) -> Callable[[], object]:
        vertex = Vertex(ScratchSource())
        for step in range(count):
            vertex = Vertex(Exec(args=(str(step),), env=(), cwd="/", user=""), inputs=(vertex,))
        scheduler: Scheduler[int] = Scheduler(lambda vertex, inputs: len(inputs), workers=1)
        return lambda: scheduler.run(vertex)

    assert growth(make, 400) < LINEAR


# ---- nested substitutions and values that repeat each other ----------------------------------------------


def test_nesting_deeper_than_the_limit_is_an_error_naming_the_line() -> None:
    word = "${a:-" * 5000 + "x" + "}" * 5000
    error = dockerfile_error(f"FROM scratch\nENV A={word}\n")
    assert isinstance(error, ExpansionError)
    assert error.location is not None and error.location.line == 2
    assert f"nested more than {MAX_NESTING} levels deep" in str(error)


def test_nesting_up_to_the_limit_expands() -> None:
    word = "${a:-" * MAX_NESTING + "x" + "}" * MAX_NESTING
    assert ShellLexer().expand_word(word, {}) == "x"


def test_values_that_double_on_every_line_are_an_error_not_gigabytes() -> None:
    lines = ["FROM scratch", "ENV A0=" + "x" * 1000] + [f"ENV A{i + 1}=$A{i}$A{i}" for i in range(40)]
    error = dockerfile_error("\n".join(lines) + "\n")
    assert "MiB of text in all" in str(error)
    assert error.location is not None and 3 < error.location.line <= 42


def test_nested_defaults_take_linear_work() -> None:
    def make(count: int) -> Callable[[], object]:
        words = " ".join(f"V{i}=${{U{i}:-${{W:-x}}}}" for i in range(count))
        return converting(f"FROM scratch\nENV {words}\n")

    assert growth(make, 800) < LINEAR


# ---- files the frontend reads -------------------------------------------------------------------------


def test_a_dockerfile_over_16_mib_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    big = tmp_path / "Dockerfile"
    with big.open("wb") as out:
        out.truncate(2 * 1024**3)  # 2 GB, sparse
    with pytest.raises(ContextError) as caught:
        read_file(big)
    assert (
        str(caught.value)
        == f"{big} exceeds the maximum allowed size of {MAX_FILE_BYTES:,} bytes (16 MiB, as in BuildKit)"
    )


def build(tmp_path: Path, context: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    """`slipway build` of `context` in a fresh store, with at most 1 GiB of address space: a Dockerfile
    read whole into memory, or an error text of gigabytes, would fail it."""
    return subprocess.run(
        [sys.executable, "-m", "slipway", "--root", str(tmp_path / "root"), "build", *flags, str(context)],
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (_ONE_GIB, _ONE_GIB)),
    )


def too_large(path: Path) -> str:
    return f"error: {path} exceeds the maximum allowed size of 16,777,216 bytes (16 MiB, as in BuildKit)"


def test_build_of_a_2_gb_dockerfile_fails_at_once_naming_the_file(tmp_path: Path) -> None:
    context = tmp_path / "ctx"
    context.mkdir()
    big = tmp_path / "huge.Dockerfile"
    with big.open("wb") as out:
        out.truncate(2 * 1024**3)
    result = build(tmp_path, context, "-f", str(big))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [too_large(big)]


def test_a_dockerignore_over_16_mib_is_refused_naming_it(tmp_path: Path) -> None:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM scratch\n")
    with (context / ".dockerignore").open("wb") as out:
        out.truncate(MAX_FILE_BYTES + 1)
    result = build(tmp_path, context)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [too_large(context / ".dockerignore")]


# ---- bounded error output -----------------------------------------------------------------------------


def test_an_error_about_an_8_mb_word_prints_a_bounded_line(tmp_path: Path) -> None:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM scratch\nENV A=${" + "x" * 8_000_000 + "\n")
    result = build(tmp_path, context)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert len(result.stderr) < 10_000
    assert (
        "Dockerfile:2\n" in result.stderr
        and "ERROR: failed to solve: ENV: failed to process" in result.stderr
    )
    assert "more characters)" in result.stderr


def test_any_message_prints_at_most_so_many_lines_of_so_many_characters() -> None:
    message = "x" * 8_000_000 + "\n" + "line\n" * 200_000
    shown = clip_text(message).split("\n")
    assert len(shown) == MAX_LINES + 1
    assert (
        shown[0] == "x" * MAX_LINE_CHARACTERS + f"... ({8_000_000 - MAX_LINE_CHARACTERS:,} more characters)"
    )
    assert shown[-1] == f"... {200_001 - MAX_LINES + 1:,} more lines"


def test_a_failed_run_of_200000_continuation_lines_prints_a_screenful() -> None:
    text = "FROM busybox\nRUN true \\\n" + " && true \\\n" * 200_000 + " && false\n"
    from slipway.errors import SourceLocation

    shown = format_run_failure(
        text, SourceLocation("Dockerfile", 2, 200_003), ("/bin/sh", "-c", "true" * 100_000), 1, ("out",)
    )
    lines = shown.split("\n")
    assert len(lines) < 60
    assert "     | ... 199,982 more lines" in lines
    assert lines[-1].startswith('ERROR: failed to solve: process "/bin/sh -c truetrue')
    assert lines[-1].endswith('more characters)" did not complete successfully: exit code: 1')


# ---- deep trees: archives and contexts ----------------------------------------------------------------


def test_a_layer_entry_thousands_of_directories_deep_unpacks_or_is_an_archive_error(tmp_path: Path) -> None:
    import io
    import tarfile

    from slipway.errors import ArchiveError
    from slipway.image.layers import unpack_layer

    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(tarfile.TarInfo("/".join(["d"] * 3000) + "/file"), io.BytesIO(b""))
    try:
        unpack_layer(io.BytesIO(out.getvalue()), "application/vnd.oci.image.layer.v1.tar", tmp_path / "dest")
    except ArchiveError as err:
        assert "Too many open files" in str(err) or "too long" in str(err), err
    finally:
        remove_deep_tree(tmp_path / "dest")


def test_a_context_thousands_of_directories_deep_is_hashed(tmp_path: Path) -> None:
    import os

    from slipway.solver.context_hash import FileHashCache, hash_selection

    context = tmp_path / "ctx"
    context.mkdir()
    deep = context / "/".join(["d"] * 1200)  # deeper than Python recurses, shorter than PATH_MAX
    directory = os.open(
        context, os.O_RDONLY
    )  # made a level at a time: pathlib's mkdir(parents=True) recurses
    for _ in range(1200):
        os.mkdir("d", dir_fd=directory)
        below = os.open("d", os.O_RDONLY, dir_fd=directory)
        os.close(directory)
        directory = below
    os.close(directory)
    (deep / "file").write_text("x")
    try:
        cache = FileHashCache(tmp_path / "hashes")
        first = hash_selection(context, ["."], cache=cache)
        (deep / "file").write_text("y")
        assert hash_selection(context, ["."], cache=cache) != first
    finally:
        remove_deep_tree(context)


def remove_deep_tree(directory: Path) -> None:
    """rm -r of a tree deeper than shutil.rmtree (and pytest's cleanup) can recurse."""
    subprocess.run(["rm", "-rf", "--", str(directory)], check=True)
