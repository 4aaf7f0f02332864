"""What RUN --mount=type=bind shows of the build context: exactly what BuildKit would transfer.

A file excluded by .dockerignore was readable through `RUN --mount=type=bind,target=/ctx` (BuildKit hides
it); symlinks in the context are copied as symlinks and resolve inside the container, never on the host; a
source climbing out with ".." stays at the context's root (Buildah CVE-2024-1753 bound the host's root).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _host import Host, context, failure

pytestmark = pytest.mark.root

IGNORE = "secret.txt\n**/*.key\nlogs\nvendor/**\n!vendor/keep.txt\n"
FILES = {
    ".dockerignore": IGNORE,
    "secret.txt": "context-secret\n",
    "app.key": "context-key\n",
    "ok.txt": "ok\n",
    "logs/today.log": "log\n",
    "vendor/drop.txt": "drop\n",
    "vendor/keep.txt": "keep\n",
    "src/main.c": "int main;\n",
    "src/inner.key": "inner-key\n",
}


def build_output(store: Any, directory: Path, dockerfile: str, files: dict[str, str], *args: str) -> str:
    result = store.build_ok(context(directory, dockerfile, files), "--no-cache", *args)
    return str(result.stderr)


def test_excluded_files_are_not_in_a_bind_mount_of_the_context(
    store: Any, host: Host, tmp_path: Path
) -> None:
    dockerfile = (
        "FROM busybox:test\n"
        "RUN --mount=type=bind,target=/ctx cd /ctx && find . | sort | sed 's/^/seen /' && "
        "cat secret.txt app.key src/inner.key logs/today.log vendor/drop.txt 2>&1 | sed 's/^/read /'; true\n"
    )
    output = build_output(store, tmp_path / "ctx", dockerfile, FILES)
    seen = {line.split("seen ", 1)[1].strip() for line in output.splitlines() if "seen " in line}
    assert {"./ok.txt", "./src/main.c", "./vendor/keep.txt", "./Dockerfile", "./.dockerignore"} <= seen
    assert not seen & {"./secret.txt", "./app.key", "./src/inner.key", "./logs", "./vendor/drop.txt"}, seen
    for hidden in ("context-secret", "context-key", "inner-key", "drop\n"):
        assert hidden not in output
    assert (tmp_path / "ctx" / "secret.txt").read_text() == "context-secret\n"  # the context itself untouched
    host.assert_intact()


def test_a_subdirectory_source_is_filtered_and_an_excluded_source_is_not_found(
    store: Any, tmp_path: Path
) -> None:
    dockerfile = "FROM busybox:test\nRUN --mount=type=bind,source=src,target=/s ls /s\n"
    output = build_output(store, tmp_path / "ctx", dockerfile, FILES)
    assert "main.c" in output and "inner.key" not in output
    excluded = "FROM busybox:test\nRUN --mount=type=bind,source=secret.txt,target=/s cat /s\n"
    result = store.build(context(tmp_path / "ctx2", excluded, FILES))
    error = failure(result)
    assert "not found" in error and "context-secret" not in error


def test_a_writable_bind_mount_discards_what_the_run_writes(store: Any, tmp_path: Path) -> None:
    dockerfile = (
        "FROM busybox:test\n"
        "RUN --mount=type=bind,target=/ctx,rw sh -c 'echo new > /ctx/made && rm /ctx/ok.txt && cat /ctx/made'\n"
        "RUN --mount=type=bind,target=/ctx ls /ctx\n"
    )
    output = build_output(store, tmp_path / "ctx", dockerfile, FILES)
    assert "new" in output
    assert sorted(path.name for path in (tmp_path / "ctx").iterdir()) == sorted(
        {name.split("/")[0] for name in FILES} | {"Dockerfile"}
    )


def test_context_symlinks_resolve_in_the_container_not_on_the_host(
    store: Any, host: Host, tmp_path: Path
) -> None:
    secret = host.canaries / "secret.txt"
    directory = context(tmp_path / "ctx", "", {"ok.txt": "ok\n"})
    (directory / "absolute").symlink_to(secret)
    (directory / "relative").symlink_to("../" * 30 + str(secret).lstrip("/"))
    (directory / "hostdir").symlink_to(host.canaries)
    dockerfile = (
        "FROM busybox:test\n"
        "RUN --mount=type=bind,target=/ctx cat /ctx/absolute /ctx/relative /ctx/hostdir/secret.txt 2>&1; true\n"
        "RUN --mount=type=bind,source=hostdir,target=/h ls -la /h; true\n"
        "RUN --mount=type=bind,source=relative,target=/r cat /r; true\n"
    )
    (directory / "Dockerfile").write_text(dockerfile)
    result = store.build(directory, "--no-cache")
    assert host.secret not in result.stdout + result.stderr
    host.assert_intact()


@pytest.mark.parametrize("source", ["../../../", "/../../..", "src/../../../../etc"])
def test_a_bind_source_climbing_out_stays_at_the_context_root(
    store: Any, host: Host, tmp_path: Path, source: str
) -> None:
    # Buildah CVE-2024-1753: `source=../../../` bound the host's root into the container.
    marker = f"context-marker-{tmp_path.name}"
    dockerfile = (
        "FROM busybox:test\n"
        f"RUN --mount=type=bind,source={source},target=/x sh -c 'ls -a /x; cat /x/marker; "
        f"cat /x{host.canaries}/secret.txt; touch /x/written' 2>&1; true\n"
    )
    files = {"marker": marker, "src/main.c": "int main;\n", "etc/own": "own\n"}
    output = build_output(store, tmp_path / "ctx", dockerfile, files)
    if source.endswith("etc"):
        assert "own" in output
    else:
        assert marker in output and "proc" not in output.split()
    assert host.secret not in output
    assert not (tmp_path / "ctx" / "written").exists()
    host.assert_intact()


def test_a_bind_from_a_stage_climbing_out_stays_in_the_stage(store: Any, host: Host, tmp_path: Path) -> None:
    dockerfile = (
        "FROM busybox:test AS stage\nRUN echo stage-root > /marker\n"
        "FROM busybox:test\n"
        f"RUN --mount=type=bind,from=stage,source=../../..,target=/x sh -c 'cat /x/marker; cat /x{host.canaries}/secret.txt' 2>&1; true\n"
    )
    output = build_output(store, tmp_path / "ctx", dockerfile, {})
    assert "stage-root" in output and host.secret not in output
    host.assert_intact()


def test_a_copy_source_through_a_context_symlink_is_hashed_inside_the_context(
    store: Any, tmp_path: Path
) -> None:
    """COPY follows a context symlink inside the context; the step's cache key must read the same file, never
    the host's (a link to /proc or a huge log would make every build read it)."""
    outside = tmp_path / "host-side"
    outside.mkdir()
    (outside / "file").write_text("outside-1\n")
    mirrored = str(outside).lstrip("/") + "/file"
    directory = context(tmp_path / "ctx", "FROM busybox:test\nCOPY link/file /file\n", {mirrored: "inside\n"})
    (directory / "link").symlink_to(outside)
    store.build_ok(directory, "-t", "linked:v1")
    assert store.run_output("linked:v1", "cat", "/file") == "inside\n"
    (outside / "file").write_text("outside-2: the host's file changed, the context did not\n")
    (directory / "unrelated.txt").write_text("a context change, so that the build is solved again\n")
    again = store.build_ok(directory, "-t", "linked:v1", "--progress", "plain")
    number = again.stderr.split(" COPY link/file /file", 1)[0].rsplit("#", 1)[1].split()[0]
    assert f"#{number} CACHED" in again.stderr, again.stderr
