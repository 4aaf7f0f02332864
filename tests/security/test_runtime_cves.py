"""The peers' CVEs about what a RUN's mounts, working directory and privileges may reach on the host.

- BuildKit CVE-2024-23651: a RUN swaps a path in a shared cache mount for a symlink to a host path while
  another RUN uses the cache; nothing may be written or changed through it on the host.
- BuildKit CVE-2024-23653: `RUN --security=insecure` ran with every capability without the caller's consent.
- runc CVE-2024-21626: a working directory such as /proc/self/fd/7 reached a host fd the runtime leaked.
- Buildah CVE-2024-9675: a cache mount's `source=../../..` mounted a host directory.
- Buildah CVE-2024-11218: a mount target that an earlier RUN made a symlink to a host path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _host import Host, context, failure

pytestmark = pytest.mark.root


def test_a_cache_mount_swapped_for_host_symlinks_by_parallel_steps_writes_nothing_on_the_host(
    store: Any, host: Host, tmp_path: Path
) -> None:
    victim = host.canaries / "empty"
    swapper = (
        "i=0; while [ $i -lt 300 ]; do rm -rf /cache/d; ln -s "
        f"{victim} /cache/d; rm -f /cache/d; mkdir -p /cache/d; i=$((i+1)); done; ln -sfn {victim} /cache/d"
    )
    writer = "i=0; while [ $i -lt 300 ]; do echo pwned > /cache/d/file$i 2>/dev/null; i=$((i+1)); done; true"
    dockerfile = (
        "FROM busybox:test AS swap\n"
        f"RUN --mount=type=cache,id=shared,target=/cache sh -c '{swapper}'\n"
        "FROM busybox:test AS write\n"
        f"RUN --mount=type=cache,id=shared,target=/cache sh -c '{writer}' 2>/dev/null\n"
        "FROM busybox:test\n"
        "COPY --from=swap /etc/passwd /a\nCOPY --from=write /etc/passwd /b\n"
        # Then the cache holds the link: a step with uid/mode options makes slipway chown the mount.
        f"RUN --mount=type=cache,id=shared,target=/cache,uid=1000,gid=1000,mode=0777 "
        "sh -c 'ls -la /cache; echo pwned > /cache/d/last' 2>&1; true\n"
    )
    store.build_ok(context(tmp_path / "ctx", dockerfile), "--no-cache")
    assert list(victim.iterdir()) == []
    host.assert_intact()


def test_security_insecure_needs_the_caller_s_allow(store: Any, host: Host, tmp_path: Path) -> None:
    dockerfile = "FROM busybox:test\nRUN --security=insecure grep CapEff /proc/self/status\n"
    directory = context(tmp_path / "ctx", dockerfile)
    error = failure(store.build(directory))
    assert "Dockerfile:2" in error and "security.insecure is not allowed" in error
    assert "--allow security.insecure" in error
    # The step never ran: no CapEff line of /proc/self/status (the Dockerfile excerpt shows the command).
    assert "CapEff:" not in error
    granted = store.build_ok(directory, "--allow", "security.insecure", "--no-cache")
    effective = next(line for line in granted.stderr.splitlines() if "CapEff:" in line).split()[-1]
    host_effective = next(
        line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("CapEff")
    ).split()[-1]
    assert int(effective, 16) == int(host_effective, 16)
    # A stage that is not built may ask for it: only what runs needs the grant.
    unused = "FROM busybox:test AS tools\nRUN --security=insecure true\nFROM busybox:test\nRUN true\n"
    store.build_ok(context(tmp_path / "unused", unused))
    host.assert_intact()


@pytest.mark.parametrize(
    "setup",
    [
        "WORKDIR /proc/self/fd/7",
        "WORKDIR /proc/1/cwd",
        "WORKDIR /dev/fd/7",
        "RUN ln -s /proc/self/fd/7 /leak\nWORKDIR /leak",
        "RUN mkdir /x && ln -s ../../proc/self/fd/8 /x/y\nWORKDIR /x/y/../y",
    ],
)
def test_a_working_directory_in_proc_is_refused(store: Any, host: Host, tmp_path: Path, setup: str) -> None:
    # runc CVE-2024-21626; Debian's runc 1.1.5+ds1-1+deb12u1 carries the fix, slipway refuses it anyway.
    dockerfile = f"FROM busybox:test\n{setup}\nRUN ls -la . && cat ./* ; pwd\n"
    error = failure(store.build(context(tmp_path / "ctx", dockerfile)))
    assert "working directory" in error and "refused" in error and "CVE-2024-21626" in error
    host.assert_intact()


def test_a_plain_working_directory_still_works_and_run_w_is_checked(store: Any, tmp_path: Path) -> None:
    dockerfile = "FROM busybox:test\nWORKDIR /app/src\nRUN pwd > /where\n"
    store.build_ok(context(tmp_path / "ctx", dockerfile), "-t", "workdir:ok")
    assert store.run_output("workdir:ok", "cat", "/where").strip() == "/app/src"
    assert store.run_output("workdir:ok", "pwd").strip() == "/app/src"
    error = failure(store("run", "--rm", "-w", "/proc/self/fd/8", "workdir:ok", "pwd"))
    assert "refused" in error


def test_a_cache_source_climbing_out_stays_in_the_cache(store: Any, host: Host, tmp_path: Path) -> None:
    # Buildah CVE-2024-9675: `--mount=type=cache,source=../../..` mounted the host's directory.
    dockerfile = (
        "FROM busybox:test\n"
        "RUN --mount=type=cache,source=../../../../..,target=/c sh -c "
        f"'ls -a /c; cat /c{host.canaries}/secret.txt; touch /c/written; mkdir -p /c{host.canaries}/new' 2>&1; true\n"
    )
    result = store.build_ok(context(tmp_path / "ctx", dockerfile), "--no-cache")
    assert host.secret not in result.stderr
    assert "proc" not in result.stderr.split() and "etc" not in result.stderr.split()
    host.assert_intact()


@pytest.mark.parametrize(
    "mount",
    [
        "type=bind,source=f.txt,target=/mnt/x",
        "type=tmpfs,target=/mnt/x",
        "type=cache,id=c,target=/mnt/x",
        "type=bind,target=/mnt",
    ],
)
def test_a_mount_target_made_a_host_symlink_by_an_earlier_run_lands_in_the_root(
    store: Any, host: Host, tmp_path: Path, mount: str
) -> None:
    # Buildah CVE-2024-11218: the target is resolved inside the container's root, as the container sees it.
    victim = host.canaries / "empty"
    dockerfile = (
        "FROM busybox:test\n"
        f"RUN ln -s {victim} /mnt\n"
        f"RUN --mount={mount} sh -c 'ls /mnt; echo pwned > /mnt/x/y' 2>&1; true\n"
    )
    store.build_ok(context(tmp_path / "ctx", dockerfile, {"f.txt": "f\n"}), "--no-cache")
    assert list(victim.iterdir()) == []
    host.assert_intact()
