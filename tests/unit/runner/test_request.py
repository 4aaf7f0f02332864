"""`slipway run`'s process from the image config and the flags, with Docker's rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from slipway.errors import RunFailed, UsageError
from slipway.image.oci import ContainerConfig
from slipway.runner import RunRequest, merge_env, parse_volume, plan_process

IMAGE = ContainerConfig(
    entrypoint=("/entry",),
    cmd=("default", "args"),
    env=("PATH=/bin", "A=image"),
    working_dir="/app",
    user="app",
)


def test_entrypoint_and_cmd_from_the_image() -> None:
    process = plan_process(RunRequest("img"), IMAGE)
    assert process.args == ("/entry", "default", "args")
    assert (process.cwd, process.user) == ("/app", "app")
    assert process.env == ("PATH=/bin", "A=image")


def test_command_args_replace_cmd() -> None:
    assert plan_process(RunRequest("img", command=("x",)), IMAGE).args == ("/entry", "x")


def test_entrypoint_flag_replaces_entrypoint_and_drops_cmd() -> None:
    assert plan_process(RunRequest("img", entrypoint="sh"), IMAGE).args == ("sh",)
    assert plan_process(RunRequest("img", entrypoint="sh", command=("-c", "true")), IMAGE).args == (
        "sh",
        "-c",
        "true",
    )
    assert plan_process(RunRequest("img", entrypoint="", command=("ls",)), IMAGE).args == ("ls",)


def test_flags_override_env_workdir_user_and_tty() -> None:
    request = RunRequest("img", env=("A=flag", "B=new"), workdir="/w", user="0:0", tty=True)
    process = plan_process(request, IMAGE)
    assert process.env == ("PATH=/bin", "A=flag", "B=new")
    assert (process.cwd, process.user, process.tty) == ("/w", "0:0", True)


def test_no_command_at_all_is_an_error() -> None:
    with pytest.raises(RunFailed, match="no command specified"):
        plan_process(RunRequest("img"), ContainerConfig())


def test_defaults_without_a_config() -> None:
    process = plan_process(RunRequest("img", command=("true",)), ContainerConfig())
    assert (process.cwd, process.user, process.env) == ("/", "", ())


def test_merge_env_keeps_order_and_replaces_in_place() -> None:
    assert merge_env(("A=1", "B=2"), ("B=3", "C=4", "A=5")) == ("A=5", "B=3", "C=4")


def test_parse_volume() -> None:
    volume = parse_volume("/host:/ctr:ro")
    assert (volume.source, volume.target, volume.readonly) == (Path("/host"), "/ctr", True)
    assert parse_volume("./rel:/ctr").source == Path("./rel").absolute()
    assert parse_volume("/h:/c:rw").readonly is False
    for bad in ("named:/ctr", "/host:relative", "/only", "/a:/b:ro:x"):
        with pytest.raises(UsageError):
            parse_volume(bad)
