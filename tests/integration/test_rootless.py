"""Rootless slipway: `slipway build` and `slipway run` as an ordinary user (a fresh one, with a subordinate id
range, made for the session), checked against root builds of the same Dockerfiles, and against the host:
nothing it does reaches files its user could not touch.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import signal
import subprocess
import tarfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import prerequisites
from loopback_server import echo_server
from rootless_user import command_as, slipway_command, unprivileged_user

pytestmark = pytest.mark.root

SEED = Path(__file__).resolve().parents[2] / "examples" / "seed"
EPOCH = {"SOURCE_DATE_EPOCH": "1700000000"}

OWNERS_DOCKERFILE = """\
FROM busybox:epoch
RUN echo 'alice:x:2000:2000::/home/alice:/bin/sh' >> /etc/passwd && echo 'alice:x:2000:' >> /etc/group \\
 && mkdir -p /data/deep/er /home/alice && echo hi > /data/deep/er/file && chown -R alice:alice /data /home/alice \\
 && cp /bin/busybox /usr/bin/setuid-tool && chmod 4755 /usr/bin/setuid-tool \\
 && mkdir /shared && chmod 3777 /shared && mkfifo /data/fifo && chown 65000:3 /data/fifo \\
 && rm -rf /home/app && ln -s /data/deep /data/link && chown -h 77:88 /data/link
COPY --chown=1234:5678 payload.txt /copied/
COPY --chmod=4710 payload.txt /copied/setuid-copy
USER alice
RUN touch /home/alice/mine && mkdir /home/alice/sub
"""


def owners_archive(path: Path) -> Path:
    """A tar with many owners, modes and kinds, as an ADD source."""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for index, (name, uid, gid, mode) in enumerate(
            [
                ("srv", 0, 0, 0o755),
                ("srv/www", 33, 33, 0o750),
                ("srv/www/index.html", 33, 33, 0o640),
                ("srv/app", 1000, 1000, 0o2775),
                ("srv/app/run", 1000, 50, 0o4755),
                ("srv/nobody", 65534, 65534, 0o600),
                ("srv/high", 60001, 60002, 0o644),
                ("srv/tmp", 0, 0, 0o1777),
            ]
        ):
            info = tarfile.TarInfo(name)
            info.uid, info.gid, info.mode, info.mtime = uid, gid, mode, 1600000000 + index
            if name.count("/") == 0 or name in ("srv/www", "srv/app", "srv/tmp"):
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                data = f"{name}\n".encode()
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("srv/app/current")
        link.type, link.linkname, link.uid, link.gid = tarfile.SYMTYPE, "run", 1000, 1000
        tar.addfile(link)
    return path


@pytest.fixture
def owners_context(tmp_path: Path, make_context: Any) -> Path:
    return make_context(tmp_path / "owners", OWNERS_DOCKERFILE, {"payload.txt": "payload\n"})


def import_at_epoch(slipway: Any, archive: Path, name: str, *changes: str) -> None:
    """Import a base image with SOURCE_DATE_EPOCH: its config, so every image on it, is then the same in any
    store (the import's time and the archive's path are in its history)."""
    flags = [word for change in changes for word in ("--change", change)]
    slipway.ok("import", *flags, str(archive), name, env=EPOCH)


@pytest.fixture
def epoch_stores(own_store: Any, shared_rootless_store: Any, busybox_tar: Path) -> tuple[Any, Any]:
    """A root store and the rootless one, both with busybox:epoch."""
    archive = shared_rootless_store.give(busybox_tar)  # one path for both: it is in the image's history
    for slipway in (own_store, shared_rootless_store):
        import_at_epoch(slipway, archive, "busybox:epoch", "ENV PATH=/bin:/usr/bin")
    return own_store, shared_rootless_store


def layer_differences(
    root_store: Any, root_ref: str, rootless_store: Any, rootless_ref: str, *, ignored: str | None = None
) -> list[str]:
    """What differs between two images: config fields, and layer entries (metadata and content) outside
    `ignored` (a path prefix)."""
    work = rootless_store.user.home
    root_config, rootless_config = root_store.inspect(root_ref), rootless_store.inspect(rootless_ref)
    found = [
        f"config {key}: root {root_config[key]!r}, rootless {rootless_config.get(key)!r}"
        for key in ("Config", "Architecture", "Os")
        if root_config[key] != rootless_config.get(key)
    ]
    root_layers = root_store.saved_layers(root_ref, work)
    rootless_layers = rootless_store.saved_layers(rootless_ref, work)
    if len(root_layers) != len(rootless_layers):
        return [*found, f"{len(root_layers)} layers as root, {len(rootless_layers)} rootless"]
    for index, (root, rootless) in enumerate(zip(root_layers, rootless_layers, strict=True)):
        root_entries, rootless_entries = layer_entries(root, ignored), layer_entries(rootless, ignored)
        found += [f"layer {index}: root {entry}" for entry in sorted(root_entries - rootless_entries)]
        found += [f"layer {index}: rootless {entry}" for entry in sorted(rootless_entries - root_entries)]
    return found


def layer_entries(layer: bytes, ignored: str | None) -> set[tuple[Any, ...]]:
    entries = set()
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        for member in tar:
            if ignored is not None and member.name.lstrip("./").startswith(ignored):
                continue
            data = tar.extractfile(member) if member.isfile() else None
            digest = hashlib.sha256(data.read()).hexdigest() if data is not None else ""
            pax = tuple(sorted(member.pax_headers.items()))
            entries.add(
                (
                    member.name,
                    member.type,
                    oct(member.mode),
                    member.uid,
                    member.gid,
                    member.mtime,
                    member.linkname,
                    digest,
                    pax,
                )
            )
    return entries


def built_id(slipway: Any, context: Path, tag: str) -> str:
    slipway.build_ok(context, "-t", tag, env=EPOCH)
    image_id: str = slipway.image_id(tag)
    return image_id


def test_owners_modes_and_setuid_give_the_root_build_digest(
    epoch_stores: tuple[Any, Any], owners_context: Path
) -> None:
    own_store, shared_rootless_store = epoch_stores
    root_id = built_id(own_store, owners_context, "owners:root")
    rootless_id = built_id(
        shared_rootless_store, shared_rootless_store.give(owners_context), "owners:rootless"
    )
    assert rootless_id == root_id, layer_differences(
        own_store, "owners:root", shared_rootless_store, "owners:rootless"
    )
    listing = shared_rootless_store.run_output(
        "owners:rootless", "ls", "-ln", "/data/deep/er", "/usr/bin", "/copied"
    )
    assert " 2000     2000 " in listing  # alice's file
    assert "-rwsr-xr-x" in listing  # the setuid tool
    assert " 1234     5678 " in listing  # COPY --chown


def test_add_of_an_archive_with_many_owners_gives_the_root_build_digest(
    epoch_stores: tuple[Any, Any], tmp_path: Path, make_context: Any
) -> None:
    own_store, shared_rootless_store = epoch_stores
    context = make_context(tmp_path / "add", "FROM busybox:epoch\nADD owners.tar /\nRUN ls -lnR /srv\n")
    owners_archive(context / "owners.tar")
    root_id = built_id(own_store, context, "add:root")
    rootless_id = built_id(shared_rootless_store, shared_rootless_store.give(context), "add:rootless")
    assert rootless_id == root_id, layer_differences(
        own_store, "add:root", shared_rootless_store, "add:rootless"
    )
    listing = shared_rootless_store.run_output("add:rootless", "ls", "-lnd", "/srv/nobody", "/srv/app/run")
    assert " 65534    65534 " in listing
    assert "-rwsr-xr-x    1 1000     50 " in listing


def test_the_seed_gives_the_root_build_digests_and_prints_the_greeting(
    own_store: Any, shared_rootless_store: Any, golang_tar: Path, golang_env: str
) -> None:
    golang = ("golang:1.24", golang_env, 'CMD ["sh"]')
    archive = shared_rootless_store.give(golang_tar)
    for slipway in (own_store, shared_rootless_store):
        import_at_epoch(slipway, archive, *golang)
    seed = shared_rootless_store.give(SEED)
    for dockerfile, tag in (("multiStageFromScratch", "frmscratch:v2"), ("singleStage", "frmscratch:v1")):
        own_store.build_ok(SEED, "-t", tag, "-f", str(SEED / dockerfile), env=EPOCH)
        shared_rootless_store.build_ok(seed, "-t", tag, "-f", str(seed / dockerfile), env=EPOCH)
    assert shared_rootless_store.image_id("frmscratch:v2") == own_store.image_id("frmscratch:v2"), (
        layer_differences(own_store, "frmscratch:v2", shared_rootless_store, "frmscratch:v2")
    )
    # v1 keeps Go's build cache, whose trim.txt holds the time of the build: two root builds differ there too.
    assert (
        layer_differences(
            own_store, "frmscratch:v1", shared_rootless_store, "frmscratch:v1", ignored="tmp/gocache/"
        )
        == []
    )
    assert (
        shared_rootless_store.run_output("frmscratch:v2").splitlines()[0] == "Hello from a multi-stage build!"
    )
    assert (
        shared_rootless_store.run_output("frmscratch:v1").splitlines()[0] == "Hello from a multi-stage build!"
    )


def test_the_store_is_the_users_own_by_default_and_nothing_stays_mounted(
    shared_rootless_store: Any, busybox_tar: Path, tmp_path: Path, make_context: Any, leftovers: Any
) -> None:
    user = shared_rootless_store.user
    tar = shared_rootless_store.give(busybox_tar)
    context = shared_rootless_store.give(
        make_context(tmp_path / "mine", "FROM busybox:mine\nRUN echo made > /made\n")
    )
    for args in (("import", str(tar), "busybox:mine"), ("build", "-q", "-t", "made", str(context))):
        argv = command_as(user, [*slipway_command(), *args])  # no --root: the default store
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stderr
    store = user.home / ".local" / "share" / "slipway"
    assert (store / "meta.db").stat().st_uid == user.uid
    assert leftovers.mounts_under(user.home) == []
    assert leftovers.runc_containers_under(user.home) == []


def test_a_user_without_subordinate_ids_is_told_how_to_add_them_and_still_gets_help() -> None:
    with unprivileged_user("slwno", subids=False) as user:
        results = {
            words: subprocess.run(
                command_as(user, [*slipway_command(), *words]), capture_output=True, text=True
            )
            for words in (("images",), ("build", "."), ("--help",), ("build", "--help"))
        }
    for words in (("images",), ("build", ".")):
        result = results[words]
        assert result.returncode == 1, result
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        hint = f"usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {user.name}"
        assert "/etc/subuid" in lines[0] and hint in lines[0]
    for words in (("--help",), ("build", "--help")):
        assert results[words].returncode == 0 and results[words].stdout.startswith("Usage: slipway"), results[
            words
        ]


def test_a_context_symlink_to_etc_shadow_copies_no_host_secret(
    shared_rootless_store: Any, tmp_path: Path, make_context: Any
) -> None:
    context = shared_rootless_store.give(
        make_context(tmp_path / "shadow", "FROM busybox:test\nCOPY secret /secret\nRUN cat /secret || true\n")
    )
    (context / "secret").symlink_to("/etc/shadow")
    result = shared_rootless_store.build(context, "-t", "shadow")
    shadow = Path("/etc/shadow").read_text()
    root_line = next(line for line in shadow.splitlines() if line.startswith("root:"))
    assert root_line not in result.stdout + result.stderr
    if result.returncode == 0:
        assert root_line not in shared_rootless_store.run_output("shadow", "cat", "/secret")


def test_copy_through_a_symlink_to_another_users_host_directory_stays_in_the_image(
    shared_rootless_store: Any, tmp_path: Path, make_context: Any
) -> None:
    victim = Path(os.environ.get("TMPDIR", "/tmp")) / f"slipway-victim-{os.getpid()}"
    victim.mkdir()
    victim.chmod(0o777)  # writable by anyone on the host: only the path resolution keeps the COPY out
    try:
        dockerfile = f"FROM busybox:test\nRUN mkdir -p {victim.parent} && ln -s {victim} /escape\nCOPY pwned /escape/pwned\n"
        context = shared_rootless_store.give(
            make_context(tmp_path / "escape", dockerfile, {"pwned": "pwned\n"})
        )
        shared_rootless_store.build_ok(context, "-t", "escape")
        assert list(victim.iterdir()) == []
        assert shared_rootless_store.run_output("escape", "cat", f"{victim}/pwned") == "pwned\n"
    finally:
        for entry in victim.iterdir():
            entry.unlink()
        victim.rmdir()


def test_run_as_the_user_prints_and_exits_with_the_containers_code(shared_rootless_store: Any) -> None:
    assert shared_rootless_store.run_output("busybox:test", "echo", "hello") == "hello\n"
    result = shared_rootless_store("run", "--rm", "busybox:test", "sh", "-c", "id -u; exit 3")
    assert result.returncode == 3
    assert result.stdout == "0\n"


# -- the network of a rootless RUN ------------------------------------------------------------------------

TUN = Path("/dev/net/tun")


@contextlib.contextmanager
def device_mode(device: Path, mode: int) -> Iterator[None]:
    """`device` with `mode` for the block, put back after (Debian's udev makes /dev/fuse 0666; some machines
    keep it 0600, where an ordinary user cannot use fuse-overlayfs)."""
    previous = device.stat().st_mode & 0o777
    device.chmod(mode)
    try:
        yield
    finally:
        device.chmod(previous)


NETWORK_PROBE = """\
FROM busybox:test
ARG PORT
RUN ip addr show; ip route; cat /etc/resolv.conf; nc 127.0.0.1 $PORT </dev/null || echo host-loopback-refused
"""


def probe_network(slipway: Any, context: Path, port: int, *args: str) -> str:
    result = slipway.build_ok(context, "--no-cache", "--build-arg", f"PORT={port}", *args)
    return result.stdout + result.stderr


def test_default_network_is_a_private_namespace_with_an_outbound_route(
    shared_rootless_store: Any, tmp_path: Path, make_context: Any
) -> None:
    context = shared_rootless_store.give(make_context(tmp_path / "net", NETWORK_PROBE))
    with device_mode(TUN, 0o666), echo_server(b"answer-from-the-host\n") as port:
        output = probe_network(shared_rootless_store, context, port)
    assert "inet 10.0.2.100/24" in output and "tap0" in output  # slirp4netns' side of the namespace
    assert "default via 10.0.2.2 dev tap0" in output  # outbound traffic leaves through slirp4netns
    assert "nameserver 10.0.2.3" in output  # its DNS forwarder
    assert "host-loopback-refused" in output  # the host's 127.0.0.1 services stay out of reach
    assert "answer-from-the-host" not in output
    assert running_slirp4netns() == []


def running_slirp4netns() -> list[int]:
    return processes_where(lambda argv: bool(argv) and b"slirp4netns" in argv[0])


def processes_where(matches: Callable[[list[bytes]], bool]) -> list[int]:
    """The processes whose argv `matches`."""
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit() and matches((entry / "cmdline").read_bytes().split(b"\0")[:-1]):
                found.append(int(entry.name))
    return found


def test_host_network_reaches_the_hosts_loopback_and_default_falls_back_to_it_without_tun(
    shared_rootless_store: Any, tmp_path: Path, make_context: Any
) -> None:
    context = shared_rootless_store.give(make_context(tmp_path / "net", NETWORK_PROBE))
    with device_mode(TUN, 0o666), echo_server(b"answer-from-the-host\n") as port:
        output = probe_network(
            shared_rootless_store, context, port, "--network", "host", "--allow", "network.host"
        )
    assert "answer-from-the-host" in output
    assert "tap0" not in output
    with device_mode(TUN, 0o600), echo_server(b"answer-from-the-host\n") as port:
        output = probe_network(shared_rootless_store, context, port)
    assert "answer-from-the-host" in output  # as BuildKit's "auto": the host's network where slirp cannot run


# -- without a process sandbox (SLIPWAY_PROCESS_SANDBOX=off, for slipway in an unprivileged container) -------

NO_SANDBOX = {"SLIPWAY_PROCESS_SANDBOX": "off"}
# A background process that holds the step's output: without a PID namespace nothing else would end it, and
# the step would wait for it.
BACKGROUND_DOCKERFILE = "FROM busybox:test\nRUN echo $$ > /pid && (sleep 4321 &) && echo started\n"


def processes_running(argv: list[bytes]) -> list[int]:
    return processes_where(lambda running: running == argv)


def test_without_a_process_sandbox_steps_share_our_pids_and_leave_no_background_process(
    shared_rootless_store: Any, tmp_path: Path, make_context: Any
) -> None:
    context = shared_rootless_store.give(make_context(tmp_path / "bg", BACKGROUND_DOCKERFILE))
    shared_rootless_store.build_ok(context, "-t", "sandbox:off", env=NO_SANDBOX)
    assert processes_running([b"sleep", b"4321"]) == []
    # The step's shell was not the first process of a PID namespace of its own: it had slipway's.
    assert int(shared_rootless_store.run_output("sandbox:off", "cat", "/pid")) > 1
    ran = shared_rootless_store("run", "--rm", "busybox:test", "sh", "-c", "echo $$", env=NO_SANDBOX)
    assert ran.returncode == 0 and int(ran.stdout) > 1, ran
    # The default is the sandbox: the same step is pid 1 there.
    shared_rootless_store.build_ok(context, "-t", "sandbox:on", "--no-cache")
    assert shared_rootless_store.run_output("sandbox:on", "cat", "/pid") == "1\n"
    assert processes_running([b"sleep", b"4321"]) == []


def test_root_may_not_turn_the_process_sandbox_off(own_store: Any, tmp_path: Path, make_context: Any) -> None:
    context = make_context(tmp_path / "bg", BACKGROUND_DOCKERFILE)
    result = own_store.build(context, env=NO_SANDBOX)
    assert result.returncode == 2
    assert "SLIPWAY_PROCESS_SANDBOX=off is for a rootless slipway" in result.stderr
    assert "Traceback" not in result.stderr


# -- fuse-overlayfs, where the kernel refuses overlay in a user namespace --------------------------------------

FUSE = Path("/dev/fuse")
# Whiteouts (a removed file of a lower layer), an opaque directory (removed and made again), and a step run as
# another user of the namespace (fuse-overlayfs must let it in).
WHITEOUTS_DOCKERFILE = """\
FROM busybox:epoch
RUN mkdir -p /data/old /keep && echo a > /data/old/f && echo k > /keep/gone && echo s > /keep/stay
RUN rm -rf /data && mkdir -p /data/new && echo n > /data/new/g && rm /keep/gone /etc/group
USER 1000
RUN touch /tmp/mine && mkdir /tmp/sub
"""


def test_fuse_overlayfs_gives_the_kernel_overlays_layers(
    epoch_stores: tuple[Any, Any], tmp_path: Path, make_context: Any
) -> None:
    _, rootless = epoch_stores
    prerequisites.require_tool("fuse-overlayfs", "fuse-overlayfs")
    context = rootless.give(make_context(tmp_path / "wh", WHITEOUTS_DOCKERFILE))
    forced = {**EPOCH, "SLIPWAY_OVERLAY": "fuse-overlayfs"}
    with device_mode(FUSE, 0o666):
        fused = rootless(
            "--debug", "build", "--progress", "plain", "--no-cache", "-t", "wh:fuse", str(context), env=forced
        )
    assert fused.returncode == 0, fused.stderr
    assert "fuse-overlayfs at" in fused.stderr  # the steps ran on fuse-overlayfs mounts
    rootless.build_ok(context, "--no-cache", "-t", "wh:kernel", env=EPOCH)
    # The kernel's overlay was the probe's verdict here, kept in the store.
    assert (rootless.root / "overlay-driver").read_text() == "overlay\n"
    assert rootless.image_id("wh:fuse") == rootless.image_id("wh:kernel"), layer_differences(
        rootless, "wh:kernel", rootless, "wh:fuse"
    )
    assert rootless.run_output("wh:fuse", "ls", "/data", "/keep").split() == [
        "/data:",
        "new",
        "/keep:",
        "stay",
    ]


def test_a_killed_build_leaves_no_fuse_overlayfs_server_behind(
    shared_rootless_store: Any, tmp_path: Path, make_context: Any
) -> None:
    prerequisites.require_tool("fuse-overlayfs", "fuse-overlayfs")
    context = shared_rootless_store.give(make_context(tmp_path / "k", "FROM busybox:test\nRUN sleep 607\n"))
    store = str(shared_rootless_store.root).encode()

    def servers() -> list[int]:
        return processes_where(
            lambda argv: bool(argv) and argv[0].endswith(b"fuse-overlayfs") and store in b" ".join(argv)
        )

    argv = shared_rootless_store.argv("build", "--progress", "plain", "--no-cache", str(context))
    with device_mode(FUSE, 0o666):
        build = subprocess.Popen(
            argv, env={**os.environ, "SLIPWAY_OVERLAY": "fuse-overlayfs"}, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            assert wait_for(lambda: servers() != []), "no fuse-overlayfs server came up"
            os.kill(build.pid, signal.SIGKILL)  # the launcher execs slipway: this pid is slipway's
            build.wait()
            assert wait_for(lambda: servers() == []), f"fuse-overlayfs outlived slipway: {servers()}"
        finally:
            build.kill()
            build.wait()
            for pid in processes_running([b"sleep", b"607"]):  # the step's runc and container, orphaned
                os.kill(pid, signal.SIGKILL)


def wait_for(condition: Callable[[], bool], attempts: int = 600) -> bool:
    """Whether `condition` holds within `attempts` tries 0.1 s apart (a wait, not a measure)."""
    for _ in range(attempts):
        if condition():
            return True
        time.sleep(0.1)
    return False
