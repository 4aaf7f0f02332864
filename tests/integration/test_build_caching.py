"""The build cache as a user sees it in `--progress plain`: which steps say CACHED on a rebuild."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.root


def cached(output: str, *texts: str) -> set[str]:
    """Which of the steps named by `texts` show as CACHED in plain progress output."""
    lines = output.splitlines()
    found = set()
    for text in texts:
        numbers = [line.split()[0] for line in lines if line.startswith("#") and text in line and "[" in line]
        assert numbers, f"no step {text!r} in:\n{output}"
        if f"{numbers[0]} CACHED" in lines:
            found.add(text)
    return found


def test_touching_a_file_without_changing_it_reruns_nothing(
    own_store: Any, make_context: Any, tmp_path: Path
) -> None:
    context = make_context(
        tmp_path / "ctx", "FROM busybox:test\nCOPY a.txt /a.txt\nRUN cat /a.txt\n", {"a.txt": "same\n"}
    )
    own_store.build_ok(context)
    os.utime(context / "a.txt", (1_000_000, 1_000_000))  # new mtime and ctime, same content
    output = own_store.build_ok(context).stderr
    assert cached(output, "COPY a.txt", "RUN cat /a.txt") == {"COPY a.txt", "RUN cat /a.txt"}


def test_editing_one_file_reruns_only_the_steps_after_the_copy_that_selects_it(
    own_store: Any, make_context: Any, tmp_path: Path
) -> None:
    context = make_context(
        tmp_path / "ctx",
        "FROM busybox:test\nCOPY a.txt /a.txt\nRUN cat /a.txt > /a.out\nCOPY b.txt /b.txt\nRUN cat /b.txt\n",
        {"a.txt": "a\n", "b.txt": "b\n"},
    )
    own_store.build_ok(context)
    (context / "b.txt").write_text("b, edited\n")
    output = own_store.build_ok(context).stderr
    steps = ("COPY a.txt", "RUN cat /a.txt", "COPY b.txt", "RUN cat /b.txt")
    assert cached(output, *steps) == {"COPY a.txt", "RUN cat /a.txt"}


def test_a_changed_build_arg_reruns_only_the_steps_in_its_scope(
    own_store: Any, make_context: Any, tmp_path: Path
) -> None:
    context = make_context(
        tmp_path / "ctx",
        "FROM busybox:test\nRUN echo before-the-arg\nARG FLAVOUR=plain\nCOPY a.txt /a.txt\n"
        'RUN echo "flavour $FLAVOUR" > /flavour\n',
        {"a.txt": "a\n"},
    )
    own_store.build_ok(context, "--build-arg", "FLAVOUR=vanilla")
    output = own_store.build_ok(context, "--build-arg", "FLAVOUR=mint", "-t", "flavour:mint").stderr
    steps = ("RUN echo before-the-arg", "COPY a.txt", 'RUN echo "flavour')
    assert cached(output, *steps) == {"RUN echo before-the-arg", "COPY a.txt"}
    assert own_store.run_output("flavour:mint", "cat", "/flavour") == "flavour mint\n"


def test_two_dockerfiles_sharing_a_prefix_share_its_cache(
    own_store: Any, make_context: Any, tmp_path: Path
) -> None:
    prefix = "FROM busybox:test\nCOPY a.txt /a.txt\nRUN echo shared-prefix > /p\n"
    context = make_context(tmp_path / "ctx", None, {"a.txt": "a\n"})
    (context / "one.Dockerfile").write_text(prefix + "RUN echo one > /which\n")
    (context / "two.Dockerfile").write_text(
        "# a different file, with a comment\n" + prefix + "RUN echo two > /which\n"
    )
    own_store.build_ok(context, "-f", str(context / "one.Dockerfile"))
    output = own_store.build_ok(context, "-f", str(context / "two.Dockerfile"), "-t", "prefix:two").stderr
    assert cached(output, "COPY a.txt", "RUN echo shared-prefix", "RUN echo two") == {
        "COPY a.txt",
        "RUN echo shared-prefix",
    }
    assert own_store.run_output("prefix:two", "cat", "/which") == "two\n"
