"""`slipway build --ssh` and RUN --mount=type=ssh, against a real ssh-agent.

The RUN's image holds the host's `ssh-add` (with its shared libraries): what it lists inside the RUN is what
the agent holds. A user's agent is lent read-only; key files go to a private agent that is gone after the
build; a bad --ssh is one line.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import build_helpers
from ssh_servers import SSH_ADD, SSH_AGENT, Agent, new_key, running_agent

pytestmark = pytest.mark.root

helpers = build_helpers.load()


@pytest.fixture(scope="module")
def ssh_image(shared_store: Any, busybox_rootfs: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """busybox with the host's ssh-add: a client of the agent protocol for RUN steps."""
    if not SSH_ADD.is_file() or not SSH_AGENT.is_file():
        pytest.fail("ssh-add and ssh-agent are missing: install openssh-client (scripts/setup does)")
    work = tmp_path_factory.mktemp("ssh-image")
    rootfs = work / "rootfs"
    shutil.copytree(busybox_rootfs, rootfs, symlinks=True)
    shutil.copy2(SSH_ADD, rootfs / "usr" / "bin" / "ssh-add")
    helpers.copy_shared_libraries(SSH_ADD, rootfs)
    archive = helpers.tar_directory(rootfs, work / "rootfs.tar")
    shared_store.ok("import", "--change", f"ENV PATH={helpers.BUSYBOX_PATH}", str(archive), "sshclient:test")
    return "sshclient:test"


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[Agent]:
    """A running ssh-agent holding one new ed25519 key, stopped by its PID after the test."""
    with running_agent(tmp_path) as running:
        yield running


def build_output(store: Any, context: Path, out: Path, *args: str, **kwargs: Any) -> Path:
    store.build_ok(context, *args, "-o", f"type=local,dest={out}", **kwargs)
    return out


def test_agent_socket_lent_to_the_run(
    shared_store: Any, ssh_image: str, agent: Agent, make_context: Any, tmp_path: Path, leftovers: Any
) -> None:
    context = make_context(
        tmp_path / "ctx",
        f"FROM {ssh_image}\n"
        "RUN --mount=type=ssh ssh-add -l > /keys && echo $SSH_AUTH_SOCK > /sock "
        "&& ssh-add -l >> /keys && ssh-add -l >> /keys && [ ! -e /run/buildkit/ssh_agent.1 ]\n"
        'RUN [ ! -e /run/buildkit/ssh_agent.0 ] && [ -z "$SSH_AUTH_SOCK" ]\n',
    )
    out = build_output(shared_store, context, tmp_path / "out", "--ssh", f"default={agent.socket}")
    keys = (out / "keys").read_text().splitlines()
    assert len(keys) == 3 and all(agent.fingerprint in line for line in keys), keys
    assert (out / "sock").read_text() == "/run/buildkit/ssh_agent.0\n"
    # The same with the agent named by $SSH_AUTH_SOCK, as `--ssh default` reads it.
    again = build_output(
        shared_store, context, tmp_path / "again", "--ssh", "default", "--no-cache",
        env={"SSH_AUTH_SOCK": str(agent.socket)},
    )  # fmt: skip
    assert agent.fingerprint in (again / "keys").read_text()
    assert leftovers.mounts_under(shared_store.root) == []


def test_the_run_cannot_change_the_users_agent(
    shared_store: Any, ssh_image: str, agent: Agent, make_context: Any, tmp_path: Path
) -> None:
    other, _ = new_key(tmp_path, "other")
    context = make_context(
        tmp_path / "ctx",
        f"FROM {ssh_image}\nCOPY other /other\n"
        "RUN --mount=type=ssh,id=work,target=/agent chmod 600 /other && export SSH_AUTH_SOCK=/agent && "
        "! ssh-add -D && ! ssh-add -q /other && ! ssh-add -x </dev/null && ssh-add -l > /keys\n",
        {"other": other.read_bytes()},
    )
    out = build_output(shared_store, context, tmp_path / "out", "--ssh", f"work={agent.socket}")
    assert agent.fingerprint in (out / "keys").read_text()
    assert agent.listed().count("SHA256:") == 1 and agent.fingerprint in agent.listed()


def test_key_files_go_to_a_private_agent_stopped_after_the_build(
    shared_store: Any, ssh_image: str, make_context: Any, tmp_path: Path, leftovers: Any
) -> None:
    first, first_print = new_key(tmp_path, "first")
    second, second_print = new_key(tmp_path, "second")
    context = make_context(
        tmp_path / "ctx",
        f"FROM {ssh_image}\nRUN --mount=type=ssh,id=deploy,target=/run/agent,uid=1000,mode=0600 "
        "stat -c '%u %a' /run/agent > /owner && SSH_AUTH_SOCK=/run/agent ssh-add -l > /keys\n",
    )
    out = build_output(shared_store, context, tmp_path / "out", "--ssh", f"deploy={first},{second}")
    listed = (out / "keys").read_text()
    assert first_print in listed and second_print in listed
    assert (out / "owner").read_text().split() == ["1000", "600"]
    assert leftovers.processes_naming(shared_store.root) == []  # the build's ssh-agent is gone
    for key in (first, second):
        secret_part = key.read_bytes().split(b"\n")[2]  # a line of the private key's base64
        assert not any(secret_part in data for _, data in files_under(shared_store.root))
    assert leftovers.mounts_under(shared_store.root) == []


def files_under(root: Path) -> Iterator[tuple[Path, bytes]]:
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            yield path, path.read_bytes()


def test_bad_ssh_flags_are_one_line(
    shared_store: Any, ssh_image: str, make_context: Any, tmp_path: Path
) -> None:
    context = make_context(tmp_path / "ctx", f"FROM {ssh_image}\nRUN --mount=type=ssh true\n")
    not_a_key = tmp_path / "notakey"
    not_a_key.write_text("hello\n")
    dead = tmp_path / "dead.sock"
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(dead))  # a socket no one answers on
    cases = {
        f"default={tmp_path / 'missing'}": "missing",
        f"default={not_a_key}": "cannot load the key",
        f"default={dead}": "is not an SSH agent",
    }
    for flag, expected in cases.items():
        result = shared_store.build(context, "--ssh", flag)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert result.returncode != 0 and len(lines) == 1, result.stderr
        assert expected in lines[0] and "--ssh" in lines[0] and "Traceback" not in result.stderr
    env = {key: value for key, value in os.environ.items() if key != "SSH_AUTH_SOCK"}
    unset = subprocess.run(
        shared_store.argv("build", "--ssh", "default", str(context)), env=env, capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    assert unset.returncode != 0 and "SSH_AUTH_SOCK" in unset.stderr and "Traceback" not in unset.stderr
    required = make_context(tmp_path / "required", f"FROM {ssh_image}\nRUN --mount=type=ssh,required true\n")
    missing = shared_store.build(required)
    assert missing.returncode != 0 and 'no SSH key "default" forwarded' in missing.stderr
