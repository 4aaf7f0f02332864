"""Multi-stage builds: unused stages never run, stages build on stages, COPY --from a stage or an image,
--target, and independent stages running at the same time."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.root, pytest.mark.rootless_too]


def test_an_unused_stage_never_runs(shared_store: Any, make_context: Any, tmp_path: Path, token: str) -> None:
    context = make_context(
        tmp_path / "ctx",
        f"""\
FROM busybox:test AS unused
RUN echo unused-stage-ran-{token} && exit 1

FROM busybox:test AS builder
RUN echo built-by-builder > /artifact

FROM busybox:test
COPY --from=builder /artifact /artifact
""",
    )
    result = shared_store.build_ok(context, "-t", f"three-stages:{token}")
    output = result.stdout + result.stderr
    assert f"unused-stage-ran-{token}" not in output, "the unused stage's RUN was scheduled"
    assert "RUN echo built-by-builder" in output, "the progress shows the builder stage's RUN"
    assert shared_store.run_output(f"three-stages:{token}", "cat", "/artifact") == "built-by-builder\n"


def test_from_an_earlier_stage_inherits_its_files_and_config(
    shared_store: Any, make_context: Any, tmp_path: Path, token: str
) -> None:
    context = make_context(
        tmp_path / "ctx",
        """\
FROM busybox:test AS base
RUN echo from-base > /base.txt
ENV FROM_BASE=yes
WORKDIR /work

FROM base AS derived
RUN cat /base.txt > derived.txt
""",
    )
    shared_store.build_ok(context, "-t", f"derived:{token}")
    config = shared_store.config(f"derived:{token}")
    assert "FROM_BASE=yes" in config["Env"]
    assert config["WorkingDir"] == "/work"
    assert shared_store.run_output(f"derived:{token}", "cat", "/work/derived.txt") == "from-base\n"


def test_copy_from_a_stage_by_name_and_by_index(
    shared_store: Any, make_context: Any, tmp_path: Path, token: str
) -> None:
    context = make_context(
        tmp_path / "ctx",
        """\
FROM busybox:test AS first
RUN mkdir -p /out && echo one > /out/one.txt

FROM busybox:test AS second
RUN echo two > /two.txt

FROM scratch
COPY --from=first /out/one.txt /one.txt
COPY --from=1 /two.txt /two.txt
COPY --from=first /bin/busybox /bin/busybox
CMD ["/bin/busybox", "cat", "/one.txt", "/two.txt"]
""",
    )
    shared_store.build_ok(context, "-t", f"copy-from-stage:{token}")
    assert shared_store.run_output(f"copy-from-stage:{token}") == "one\ntwo\n"
    # FROM scratch plus three COPYs: the stages' other files stay behind.
    tree = shared_store.image_tree(f"copy-from-stage:{token}", tmp_path)
    assert {path for path, entry in tree.items() if entry.kind != "dir"} == {
        "one.txt",
        "two.txt",
        "bin/busybox",
    }


def test_copy_from_an_image(shared_store: Any, make_context: Any, tmp_path: Path, token: str) -> None:
    context = make_context(
        tmp_path / "ctx",
        """\
FROM busybox:test
COPY --from=busybox:test /bin/busybox /x
""",
    )
    shared_store.build_ok(context, "-t", f"copy-from-image:{token}")
    output = shared_store.run_output(f"copy-from-image:{token}", "sha256sum", "/x")
    assert output.split()[0] == hashlib.sha256(Path("/bin/busybox").read_bytes()).hexdigest()


def test_target_builds_the_named_stage_only(
    shared_store: Any, make_context: Any, tmp_path: Path, token: str
) -> None:
    context = make_context(
        tmp_path / "ctx",
        f"""\
FROM busybox:test AS first
RUN echo first > /stage.txt
LABEL stage=first

FROM busybox:test AS second
RUN echo second-stage-ran-{token} > /stage.txt
LABEL stage=second
""",
    )
    result = shared_store.build_ok(context, "--target", "first", "-t", f"target:{token}")
    assert f"second-stage-ran-{token}" not in result.stdout + result.stderr
    assert shared_store.run_output(f"target:{token}", "cat", "/stage.txt") == "first\n"
    assert shared_store.config(f"target:{token}")["Labels"] == {"stage": "first"}


def test_target_naming_no_stage_is_an_error(
    shared_store: Any, make_context: Any, tmp_path: Path, token: str
) -> None:
    context = make_context(tmp_path / "ctx", "FROM busybox:test AS only\n")
    result = shared_store.build(context, "--target", "nosuchstage", "-t", f"target-missing:{token}")
    assert result.returncode != 0
    assert "nosuchstage" in result.stderr
    assert "Traceback" not in result.stderr


RENDEZVOUS = """\
FROM busybox:test AS {me}
RUN --mount=type=cache,id=rendezvous-{token},target=/r \\
    touch /r/{me} && i=0 && \\
    while [ ! -e /r/{other} ]; do i=$((i+1)); [ $i -lt 300 ] || exit 7; sleep 0.1; done && \\
    echo {me}-saw-{other} > /{me}.txt
"""


def test_independent_stages_run_at_the_same_time(
    own_store: Any, make_context: Any, tmp_path: Path, token: str
) -> None:
    # Each stage waits (30 s at most) for the other's marker: run one after the other, the first fails.
    dockerfile = (
        RENDEZVOUS.format(me="left", other="right", token=token)
        + RENDEZVOUS.format(me="right", other="left", token=token)
        + """
FROM busybox:test
COPY --from=left /left.txt /left.txt
COPY --from=right /right.txt /right.txt
"""
    )
    context = make_context(tmp_path / "ctx", dockerfile)
    own_store.build_ok(context, "--max-parallelism", "2", "-t", f"parallel:{token}", timeout=120)
    output = own_store.run_output(f"parallel:{token}", "cat", "/left.txt", "/right.txt")
    assert output == "left-saw-right\nright-saw-left\n"
