"""`slipway build --secret` and RUN --mount=type=secret: what a user relies on.

The secret reaches the RUN (as a file or a variable), leaves no trace in the store (every file under the
root, blobs decompressed, meta.db included), in an exported cache or in the progress output, does not
change cache keys, and a missing or unreadable one is one clear line.
"""

from __future__ import annotations

import gzip
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.root

RUNS = """FROM busybox:test
RUN --mount=type=secret,id=token cp /run/secrets/token /seen && stat -c '%a %u' /run/secrets/token > /mode
RUN --mount=type=secret,id=token,env=TOKEN,target=/token,uid=1000,mode=0440 \\
    [ "$TOKEN" = "$(cat /token)" ] && echo "$TOKEN" | wc -c > /length && stat -c '%a %u' /token > /mode2
RUN [ ! -e /run/secrets/token ] && [ ! -e /token ] && head -c 16 /dev/urandom | od -An -tx1 > /marker
"""


def secret_value() -> bytes:
    return b"s3cr3t-" + secrets.token_hex(16).encode()


def stored_files(root: Path) -> Iterator[tuple[Path, bytes]]:
    """Every regular file under `root`, and its bytes decompressed when it is a gzip or zstd blob."""
    for path in root.rglob("*"):
        if not path.is_file() or path.is_symlink():
            continue
        data = path.read_bytes()
        yield path, data
        if data[:2] == b"\x1f\x8b":
            yield path, gzip.decompress(data)
        elif data[:4] == b"\x28\xb5\x2f\xfd":
            import zstandard

            yield path, zstandard.ZstdDecompressor().decompressobj().decompress(data)


def stored_paths(root: Path) -> list[str]:
    return sorted(
        str(path.relative_to(root)) for part in ("blobs", "snapshots") for path in (root / part).rglob("*")
    )


def places_holding(root: Path, value: bytes) -> list[str]:
    return [str(path) for path, data in stored_files(root) if value in data]


def test_secret_file_and_env_reach_the_run_and_nothing_else(
    own_store: Any, make_context: Any, tmp_path: Path, leftovers: Any
) -> None:
    value = secret_value()
    source = tmp_path / "token.txt"
    source.write_bytes(value)
    context = make_context(tmp_path / "ctx", RUNS)
    cache = tmp_path / "cache"
    out = tmp_path / "out"
    result = own_store.build_ok(
        context, "-t", "secret:1", "--secret", f"id=token,src={source}", "--progress", "rawjson",
        "--cache-to", f"type=local,dest={cache},mode=max",
    )  # fmt: skip
    own_store.build_ok(context, "--secret", f"id=token,src={source}", "-o", f"type=local,dest={out}")
    assert (out / "seen").read_bytes() == value  # the RUN read it...
    assert (out / "mode").read_text().split() == ["400", "0"]
    assert (out / "mode2").read_text().split() == ["440", "1000"]
    assert int((out / "length").read_text()) == len(value) + 1  # the variable holds the same bytes
    assert not (out / "token").exists() and not (out / "run" / "secrets" / "token").exists()
    # ...and the image has it only where the RUN put it: in /seen (the user's own doing). Without that
    # copy, nothing of the store, the exported cache or the progress output holds it.
    assert value not in result.stdout.encode() and value not in result.stderr.encode()
    for name in ("TOKEN", "token"):
        assert all(
            not entry.startswith(f"{name}=") for entry in own_store.config("secret:1").get("Env") or []
        )
    holders = places_holding(own_store.root, value) + places_holding(cache, value)
    assert holders and all("blobs" in holder or "snapshots" in holder for holder in holders), holders
    assert leftovers.mounts_under(own_store.root) == []


def test_secret_leaves_no_trace_in_the_store(own_store: Any, make_context: Any, tmp_path: Path) -> None:
    value = secret_value()
    source = tmp_path / "token.txt"
    source.write_bytes(value)
    dockerfile = """FROM busybox:test
RUN --mount=type=secret,id=token test -s /run/secrets/token && echo built > /result
RUN --mount=type=secret,id=token,env=TOKEN,target=/token test -n "$TOKEN" && grep -q . /token
"""
    context = make_context(tmp_path / "ctx", dockerfile)
    cache = tmp_path / "cache"
    first = own_store.build_ok(
        context, "-t", "clean:1", "--secret", f"id=token,src={source}", "--progress", "rawjson",
        "--cache-to", f"type=local,dest={cache},mode=max",
    )  # fmt: skip
    again = own_store.build_ok(context, "-t", "clean:1", "--secret", f"id=token,src={source}")  # the memo
    assert own_store.run_output("clean:1", "cat", "/result") == "built\n"
    assert list(own_store.root.rglob("meta.db"))  # the grep below covers the database
    assert places_holding(own_store.root, value) == []
    assert places_holding(cache, value) == []
    for output in (first.stdout, first.stderr, again.stdout, again.stderr):
        assert value.decode() not in output


def test_secret_value_is_not_part_of_the_cache_key(own_store: Any, make_context: Any, tmp_path: Path) -> None:
    context = make_context(
        tmp_path / "ctx",
        "FROM busybox:test\nRUN --mount=type=secret,id=token head -c 16 /dev/urandom | od -An -tx1 > /marker\n",
    )
    markers = []
    for index in range(2):
        source = tmp_path / f"token{index}"
        source.write_bytes(secret_value())
        out = tmp_path / f"out{index}"
        result = own_store.build_ok(
            context, "--secret", f"id=token,src={source}", "-o", f"type=local,dest={out}"
        )
        markers.append((out / "marker").read_text())
    assert markers[0] == markers[1]  # a new value reuses the cached step, as BuildKit
    assert "CACHED" in result.stderr


def test_required_secret_missing_names_it_even_when_cached(
    own_store: Any, make_context: Any, tmp_path: Path
) -> None:
    context = make_context(
        tmp_path / "ctx",
        "FROM busybox:test\nRUN --mount=type=secret,id=npmrc,required=true cat /run/secrets/npmrc\n",
    )
    missing = own_store.build(context, "-t", "required:1")
    assert missing.returncode != 0
    assert "secret npmrc: not found" in missing.stderr and "Traceback" not in missing.stderr
    source = tmp_path / "npmrc"
    source.write_text("registry=x\n")
    own_store.build_ok(context, "-t", "required:1", "--secret", f"id=npmrc,src={source}")
    again = own_store.build(context, "-t", "required:1")  # the step is cached now: still required
    assert again.returncode != 0 and "secret npmrc: not found" in again.stderr
    optional = make_context(
        tmp_path / "optional",
        "FROM busybox:test\nRUN --mount=type=secret,id=npmrc [ ! -e /run/secrets/npmrc ]\n",
    )
    own_store.build_ok(optional)


def test_unreadable_secret_file_is_one_line_naming_the_flag(
    own_store: Any, make_context: Any, tmp_path: Path
) -> None:
    context = make_context(tmp_path / "ctx", "FROM busybox:test\nRUN --mount=type=secret,id=token true\n")
    own_store.build_ok(
        context, "-t", "kept:1", "--secret", f"id=token,src={context / 'Dockerfile'}"
    )  # memoized
    # A rebuild the memo would answer still reads its secrets: a file gone since is the same one line.
    source = tmp_path / "token"
    source.write_text("value")
    own_store.build_ok(context, "-t", "kept:2", "--secret", f"id=token,src={source}")
    assert (
        "CACHED" in own_store.build_ok(context, "-t", "kept:2", "--secret", f"id=token,src={source}").stderr
    )
    source.unlink()
    gone = own_store.build(context, "-t", "kept:2", "--secret", f"id=token,src={source}")
    assert gone.returncode != 0 and gone.stderr.strip().splitlines() == [
        f"error: --secret id=token,src={source}: cannot read {source}: No such file or directory"
    ]
    before = (own_store.ok("images", "-q").stdout, stored_paths(own_store.root))
    for flag in (
        f"id=token,src={tmp_path / 'nope'}",
        f"id=token,src={tmp_path}",
        "src=x",
        "id=a,type=ssh",
        "id=a,bad=1",
    ):
        result = own_store.build(context, "--secret", flag)
        assert result.returncode != 0, flag
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and "--secret" in lines[0] and "Traceback" not in result.stderr, result.stderr
    big = tmp_path / "big"
    big.write_bytes(b"x" * (600 * 1024))
    too_big = own_store.build(context, "--secret", f"id=token,src={big}")
    assert too_big.returncode != 0 and "too big" in too_big.stderr
    assert (own_store.ok("images", "-q").stdout, stored_paths(own_store.root)) == before


def test_secret_from_environment(own_store: Any, make_context: Any, tmp_path: Path) -> None:
    context = make_context(
        tmp_path / "ctx",
        "FROM busybox:test\nRUN --mount=type=secret,id=API_TOKEN cat /run/secrets/API_TOKEN > /got\n"
        "RUN --mount=type=secret,id=other cat /run/secrets/other > /other\n",
    )
    out = tmp_path / "out"
    own_store.build_ok(
        context, "--secret", "id=API_TOKEN", "--secret", "id=other,env=OTHER_VALUE",
        "-o", f"type=local,dest={out}", env={"API_TOKEN": "from-env", "OTHER_VALUE": "other-value"},
    )  # fmt: skip
    assert (out / "got").read_text() == "from-env"
    assert (out / "other").read_text() == "other-value"
    assert os.environ.get("API_TOKEN") is None


def test_killed_build_leaves_no_secret_mount_agent_or_value(
    own_store: Any, make_context: Any, tmp_path: Path, leftovers: Any, host_processes_cleanup: list[int]
) -> None:
    value = secret_value()
    source = tmp_path / "token"
    source.write_bytes(value)
    key = tmp_path / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    context = make_context(
        tmp_path / "ctx",
        "FROM busybox:test\nRUN --mount=type=secret,id=token,env=TOKEN,target=/t --mount=type=ssh sleep 63.25\n",
    )
    build = subprocess.Popen(
        own_store.argv("build", "--secret", f"id=token,src={source}", "--ssh", f"default={key}", str(context)),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    host_processes_cleanup.append(build.pid)
    sleepers = []
    for _ in range(600):  # polls until the step runs
        sleepers = leftovers.processes_with_argument("63.25")
        if sleepers or build.poll() is not None:
            break
        time.sleep(0.1)
    assert sleepers, "the step never started"
    host_processes_cleanup.extend(sleepers)
    assert [
        line for line in leftovers.mounts_under(own_store.root) if " tmpfs " in line
    ]  # the secrets' tmpfs
    assert leftovers.processes_naming(own_store.root)  # the build's private ssh-agent, running
    os.killpg(build.pid, signal.SIGKILL)
    build.wait()
    own_store.ok("system", "check")  # the next command undoes what the killed one left
    assert leftovers.mounts_under(own_store.root) == []
    assert leftovers.runc_containers_under(own_store.root) == []
    for _ in range(200):  # the private ssh-agent ends with its build (ssh-agent checks every 10 s)
        if not leftovers.processes_naming(own_store.root):
            break
        time.sleep(0.1)
    assert leftovers.processes_naming(own_store.root) == []
    assert places_holding(own_store.root, value) == []
