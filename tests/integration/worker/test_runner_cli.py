"""`slipway run` as a user runs it: the CLI in a subprocess, on an image made with the store API."""

from __future__ import annotations

import io
import os
import pty
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from slipway.image.layers import pack_layer
from slipway.image.oci import (
    MEDIA_OCI_CONFIG,
    ContainerConfig,
    Descriptor,
    ImageConfig,
    Manifest,
    RootFS,
    encode_json,
    sha256_digest,
)
from slipway.store import Store

pytestmark = pytest.mark.root

IMAGE = "runner-test:latest"


def add_image(store: Store, rootfs: Path, config: ContainerConfig, name: str) -> None:
    buffer = io.BytesIO()
    info = pack_layer(rootfs, buffer)
    store.blobs.put(buffer.getvalue(), expected=info.descriptor.digest)
    store.images.record_layer(info)
    image_config = ImageConfig(
        architecture="amd64", os="linux", rootfs=RootFS(diff_ids=(info.diff_id,)), config=config
    )
    config_bytes = encode_json(image_config)
    manifest = Manifest(
        config=Descriptor(
            media_type=MEDIA_OCI_CONFIG, digest=sha256_digest(config_bytes), size=len(config_bytes)
        ),
        layers=(info.descriptor,),
    )
    store.images.add(manifest, image_config, [name])


@pytest.fixture(scope="module")
def store_root(tmp_path_factory: pytest.TempPathFactory, worker_rootfs: Path) -> Path:
    root = tmp_path_factory.mktemp("runner") / "store"
    rootfs = worker_rootfs.parent / "runner-rootfs"
    shutil.copytree(worker_rootfs, rootfs, symlinks=True)
    (rootfs / "home" / "app").mkdir(parents=True)
    os.chown(rootfs / "home" / "app", 1000, 1000)
    (rootfs / "srv").mkdir()
    (rootfs / "srv" / "greeting").write_text("from the image\n")
    with Store.open(root) as store:
        add_image(
            store,
            rootfs,
            ContainerConfig(
                env=("PATH=/bin", "GREETING=image"), cmd=("cat", "/srv/greeting"), working_dir="/srv"
            ),
            IMAGE,
        )
        add_image(
            store, rootfs, ContainerConfig(env=("PATH=/bin",), entrypoint=("echo", "entry")), "entry:latest"
        )
        add_image(store, rootfs, ContainerConfig(env=("PATH=/bin",)), "nocmd:latest")
    return root


def slipway(store_root: Path, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "slipway", "--root", str(store_root), *args]
    env = {key: value for key, value in os.environ.items() if key != "SLIPWAY_RUNTIME"}
    return subprocess.run(
        argv, capture_output=True, text=True, input=input, timeout=120, env=env, check=False
    )


def test_the_image_cmd_and_a_command(store_root: Path) -> None:
    assert slipway(store_root, "run", "--rm", IMAGE).stdout == "from the image\n"
    result = slipway(store_root, "run", "--rm", IMAGE, "echo", "hello", "--not-a-slipway-flag")
    assert (result.returncode, result.stdout) == (0, "hello --not-a-slipway-flag\n")


def test_the_exit_code_is_forwarded(store_root: Path) -> None:
    assert slipway(store_root, "run", IMAGE, "sh", "-c", "exit 3").returncode == 3


def test_env_workdir_and_user_flags(store_root: Path, tmp_path: Path) -> None:
    env_file = tmp_path / "env"
    env_file.write_text("# comment\nFROM_FILE=file\nGREETING=file\n")
    result = slipway(
        store_root,
        "run", "-e", "GREETING=flag", "--env-file", str(env_file), "-w", "/made", "-u", "app",
        IMAGE, "sh", "-c", "echo $GREETING $FROM_FILE; pwd; id -u; echo $HOME",
    )  # fmt: skip
    assert result.stdout.splitlines() == ["flag file", "/made", "1000", "/home/app"], result.stderr
    assert slipway(store_root, "run", "-u", "1000:50", IMAGE, "id", "-g").stdout == "50\n"
    assert slipway(store_root, "run", IMAGE, "sh", "-c", "echo $GREETING; pwd").stdout == "image\n/srv\n"


def test_entrypoint_rules(store_root: Path) -> None:
    assert slipway(store_root, "run", "entry:latest").stdout == "entry\n"
    assert slipway(store_root, "run", "entry:latest", "more").stdout == "entry more\n"
    assert (
        slipway(store_root, "run", "--entrypoint", "cat", IMAGE, "/srv/greeting").stdout == "from the image\n"
    )
    result = slipway(store_root, "run", "--entrypoint", "echo", IMAGE)
    assert result.stdout == "\n", "--entrypoint drops the image's CMD"


def test_no_command_is_an_error_like_docker(store_root: Path) -> None:
    result = slipway(store_root, "run", "nocmd:latest")
    assert result.returncode != 0 and "no command specified" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_binary_is_a_clear_error(store_root: Path) -> None:
    result = slipway(store_root, "run", IMAGE, "no-such-binary")
    assert result.returncode != 0 and "no-such-binary" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bind_mount(store_root: Path, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "in.txt").write_text("from the host\n")
    result = slipway(
        store_root,
        "run",
        "-v",
        f"{shared}:/mnt/shared",
        IMAGE,
        "sh",
        "-c",
        "cat /mnt/shared/in.txt; echo back > /mnt/shared/out.txt",
    )
    assert result.stdout == "from the host\n"
    assert (shared / "out.txt").read_text() == "back\n"
    read_only = slipway(store_root, "run", "-v", f"{shared}:/ro:ro", IMAGE, "touch", "/ro/x")
    assert read_only.returncode != 0 and not (shared / "x").exists()


def test_stdin_only_with_i_and_network_none(store_root: Path) -> None:
    assert slipway(store_root, "run", "-i", IMAGE, "cat", input="piped\n").stdout == "piped\n"
    assert slipway(store_root, "run", IMAGE, "cat", input="piped\n").stdout == ""
    devices = slipway(store_root, "run", "--network", "none", IMAGE, "cat", "/proc/net/dev").stdout
    assert [line.split(":")[0].strip() for line in devices.splitlines()[2:]] == ["lo"]


def test_hostname_and_nothing_kept_between_runs(store_root: Path) -> None:
    assert slipway(store_root, "run", "--hostname", "box", IMAGE, "hostname").stdout == "box\n"
    assert slipway(store_root, "run", IMAGE, "sh", "-c", "echo x > /srv/left").returncode == 0
    assert slipway(store_root, "run", IMAGE, "test", "-e", "/srv/left").returncode == 1
    assert os.listdir(store_root / "tmp") == []


def test_it_attaches_a_tty(store_root: Path) -> None:
    pid, terminal = pty.fork()
    if pid == 0:
        env = {key: value for key, value in os.environ.items() if key != "SLIPWAY_RUNTIME"}
        os.execve(
            sys.executable,
            [
                sys.executable,
                "-m",
                "slipway",
                "--root",
                str(store_root),
                "run",
                "-it",
                IMAGE,
                "sh",
                "-c",
                "tty; exit 5",
            ],
            env,
        )
    output = b""
    while True:
        try:
            chunk = os.read(terminal, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    _, status = os.waitpid(pid, 0)
    os.close(terminal)
    assert os.waitstatus_to_exitcode(status) == 5
    assert "/dev/pts/0" in output.decode(errors="replace").replace("\r", "").splitlines()


def test_t_without_a_terminal_runs_without_a_tty(store_root: Path) -> None:
    argv = [
        sys.executable,
        "-m",
        "slipway",
        "--root",
        str(store_root),
        "run",
        "-t",
        IMAGE,
        "sh",
        "-c",
        "tty; exit 4",
    ]
    env = {key: value for key, value in os.environ.items() if key != "SLIPWAY_RUNTIME"}
    result = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
        timeout=120,
    )
    assert (result.returncode, result.stdout) == (4, "not a tty\n")
    assert "-t ignored" in result.stderr


@pytest.mark.parametrize(("signal_number", "code"), [(15, 9), (2, 8)])
def test_signals_reach_the_container(store_root: Path, signal_number: int, code: int) -> None:
    script = f'trap "echo caught; exit {code}" {signal_number}; echo ready; while :; do sleep 0.1; done'
    argv = [sys.executable, "-m", "slipway", "--root", str(store_root), "run", IMAGE, "sh", "-c", script]
    env = {key: value for key, value in os.environ.items() if key != "SLIPWAY_RUNTIME"}
    run = subprocess.Popen(argv, stdout=subprocess.PIPE, env=env, start_new_session=True)
    try:
        assert run.stdout is not None and run.stdout.readline() == b"ready\n"
        run.send_signal(signal_number)
        assert run.wait(timeout=30) == code
        assert run.stdout.read() == b"caught\n"
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
