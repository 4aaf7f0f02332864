"""The build memo answers a no-op rebuild quickly, and never an outdated one: each test changes one input."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.root

DOCKERFILE = "FROM busybox:test\nCOPY a.txt /a.txt\nRUN cat /a.txt > /copy.txt\n"


def memos(store: Any) -> list[str]:
    """The request keys of the memos in the store's meta.db."""
    connection = sqlite3.connect(f"file:{Path(store.root) / 'meta.db'}?mode=ro", uri=True)
    try:
        return [row[0] for row in connection.execute("SELECT key FROM memos ORDER BY key")]
    finally:
        connection.close()


def cached_lines(output: str) -> int:
    return sum(1 for line in output.splitlines() if line.endswith(" CACHED"))


@pytest.fixture
def context(make_context: Any, tmp_path: Path) -> Path:
    path: Path = make_context(tmp_path / "ctx", DOCKERFILE, {"a.txt": "one\n"})
    return path


def test_a_no_op_rebuild_reports_every_step_cached_and_the_same_image(own_store: Any, context: Path) -> None:
    first = own_store.build_ok(context, "-t", "memo:v1")
    assert memos(own_store), "a successful build leaves a memo"
    again = own_store.build_ok(context, "-t", "memo:v1")
    assert cached_lines(again.stderr) == 2, again.stderr
    assert "naming to docker.io/library/memo:v1 done" in again.stderr

    def written(stderr: str) -> list[str]:
        return [line for line in stderr.splitlines() if line.startswith("writing image sha256:")]

    assert written(first.stderr) == written(again.stderr) != []
    quiet = own_store.ok("build", "-q", "-t", "memo:v1", str(context)).stdout.strip()
    assert quiet == own_store.image_id("memo:v1")


def test_an_edited_file_is_seen(own_store: Any, context: Path) -> None:
    own_store.build_ok(context, "-t", "memo:edit")
    (context / "a.txt").write_text("two\n")
    output = own_store.build_ok(context, "-t", "memo:edit").stderr
    assert cached_lines(output) == 0
    assert own_store.run_output("memo:edit", "cat", "/copy.txt") == "two\n"


def test_a_touched_file_falls_back_to_the_step_cache(own_store: Any, context: Path) -> None:
    own_store.build_ok(context, "-t", "memo:touch")
    image = own_store.image_id("memo:touch")
    os.utime(context / "a.txt", (1_000_000, 1_000_000))
    output = own_store.build_ok(context, "-t", "memo:touch").stderr
    assert cached_lines(output) == 2
    assert own_store.image_id("memo:touch") == image


def test_a_base_image_that_moved_is_used(
    own_store: Any, context: Path, tmp_path: Path, make_context: Any
) -> None:
    own_store.build_ok(context, "-t", "memo:base")
    other = make_context(tmp_path / "other", "FROM busybox:test\nRUN echo new-base > /base-marker\n")
    own_store.build_ok(other, "-t", "busybox:test")  # the name now points at a different image
    output = own_store.build_ok(context, "-t", "memo:base").stderr
    assert cached_lines(output) == 0
    assert own_store.run_output("memo:base", "cat", "/base-marker") == "new-base\n"


def test_a_removed_or_retagged_image_is_made_again(
    own_store: Any, context: Path, tmp_path: Path, make_context: Any
) -> None:
    own_store.build_ok(context, "-t", "memo:gone")
    image = own_store.image_id("memo:gone")
    own_store.ok("rmi", "memo:gone")
    own_store.build_ok(context, "-t", "memo:gone")
    assert own_store.run_output("memo:gone", "cat", "/copy.txt") == "one\n"
    image = own_store.image_id("memo:gone")

    other = make_context(tmp_path / "other", "FROM busybox:test\nRUN echo other > /other\n")
    own_store.build_ok(other, "-t", "memo:gone")  # the tag moves to another image
    own_store.build_ok(context, "-t", "memo:gone")
    assert own_store.run_output("memo:gone", "cat", "/copy.txt") == "one\n"
    assert own_store.image_id("memo:gone") == image, "the cached steps give the same image, named again"


def test_no_memo_for_no_cache_builds_and_prune_forgets_memos(own_store: Any, context: Path) -> None:
    own_store.build_ok(context, "--no-cache", "-t", "memo:nocache")
    assert not memos(own_store), "--no-cache builds leave no memo"
    own_store.build_ok(context, "-t", "memo:nocache")
    assert memos(own_store)
    own_store.ok("builder", "prune", "-a", "-f")
    assert not memos(own_store)
    output = own_store.build_ok(context, "-t", "memo:nocache").stderr
    assert cached_lines(output) == 0, "after a prune every step runs again"


def test_an_add_of_a_url_through_an_arg_is_never_memoized(
    own_store: Any, make_context: Any, tmp_path: Path
) -> None:
    import http.server
    import threading

    served = tmp_path / "served"
    served.mkdir()
    (served / "f.txt").write_text("one\n")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(served), **kwargs)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/f.txt"
        context = make_context(tmp_path / "ctx", f"FROM busybox:test\nARG SRC={url}\nADD \\\n  $SRC /f.txt\n")
        own_store.build_ok(context, "-t", "memo:url")
        assert not memos(own_store)
        (served / "f.txt").write_text("two\n")
        # Last-Modified has whole seconds: a change within the second the first build fetched it would be
        # "not modified" to any HTTP cache (BuildKit's too). The change is meant to be seen.
        later = (served / "f.txt").stat().st_mtime + 2
        os.utime(served / "f.txt", (later, later))
        own_store.build_ok(context, "-t", "memo:url")
        assert own_store.run_output("memo:url", "cat", "/f.txt") == "two\n"
    finally:
        server.shutdown()
        thread.join()


# Runs `slipway ARGS` in a fresh interpreter, through the fast path (main) or the click group alone (run), and
# reports on its last stderr line whether click was imported.
PROBE = """
import sys
try:
    if sys.argv[1] == "fast":
        from slipway.cli import main
        main(sys.argv[2:])
    else:
        from slipway.cli._group import run
        run(sys.argv[2:])
finally:
    print("click imported" if "click" in sys.modules else "no click", file=sys.stderr)
"""


def slipway_by(way: str, *args: str) -> Any:
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-c", PROBE, way, *args], capture_output=True, text=True, check=False
    )


def steps(stderr: str) -> list[str]:
    """The progress lines without their step numbers, and without the probe's last line."""
    return [line.split(" ", 1)[1] if line.startswith("#") else line for line in stderr.splitlines()[:-1]]


def test_the_fast_rebuild_answers_without_click_and_prints_what_click_would(
    own_store: Any, context: Path
) -> None:
    own_store.build_ok(context, "-t", "memo:fast", "--network", "none", "--label", "a=b")
    args = ["--root", str(own_store.root), "build", "--progress=plain", "--tag=memo:fast", "--network", "none",
            "--label", "a=b", str(context)]  # fmt: skip
    fast = slipway_by("fast", *args)
    by_click = slipway_by("click", *args)
    assert fast.returncode == by_click.returncode == 0, fast.stderr + by_click.stderr
    assert fast.stderr.splitlines()[-1] == "no click"
    assert by_click.stderr.splitlines()[-1] == "click imported"
    assert cached_lines(fast.stderr) == 2
    assert steps(fast.stderr) == steps(by_click.stderr)


def test_the_fast_path_builds_and_fails_as_the_click_command_does(own_store: Any, context: Path) -> None:
    base = ["--root", str(own_store.root), "build", "--progress", "plain"]
    built = slipway_by("fast", *base, "-t", "fast:built", str(context))
    assert built.returncode == 0, built.stderr
    assert built.stderr.splitlines()[-1] == "no click"
    assert own_store.run_output("fast:built", "cat", "/copy.txt") == "one\n"

    fast = slipway_by("fast", *base, "-t", "Bad Tag", str(context))
    by_click = slipway_by("click", *base, "-t", "Bad Tag", str(context))
    assert fast.returncode == by_click.returncode != 0
    assert fast.stderr.splitlines()[-2] == by_click.stderr.splitlines()[-2]  # the same "error: ..." line
    assert fast.stderr.splitlines()[-1] == "no click"


def test_a_piped_dockerfile_is_built_not_a_file_named_dash(own_store: Any, tmp_path: Path) -> None:
    """`-f -` reads the Dockerfile from stdin, also on the fast path, also beside a file named `-`."""
    import subprocess
    import sys

    work = tmp_path / "work"
    (work / "ctx").mkdir(parents=True)
    (work / "ctx" / "a").write_text("a\n")
    (work / "ctx" / "b").write_text("b\n")
    (work / "-").write_text("FROM scratch\nCOPY a /a\n")
    build = [sys.executable, "-m", "slipway", "--root", str(own_store.root), "build", "-t", "x"]
    subprocess.run([*build, "-f", "./-", "ctx"], cwd=work, capture_output=True, check=True)
    assert "COPY a /a" in own_store.ok("history", "--no-trunc", "x").stdout

    def piped(dockerfile: bytes) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [*build, "-f", "-", "ctx"], cwd=work, input=dockerfile, capture_output=True, check=True
        )

    assert b"CACHED" not in piped(b"FROM scratch\nCOPY b /b\n").stderr
    history = own_store.ok("history", "--no-trunc", "x").stdout
    assert "COPY b /b" in history and "COPY a /a" not in history
    again = piped(b"FROM scratch\nCOPY b /b\n")
    assert again.stderr.count(b"CACHED") == 1, "the same piped Dockerfile again: answered from its memo"
