"""The runtime spec the executor writes: Docker's defaults, network and security modes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from slipway.worker.ocispec import (
    ALL_CAPABILITIES,
    DEFAULT_CAPABILITIES,
    HostLimits,
    ProcessPlan,
    SpecFiles,
    container_spec,
    host_limits,
)

PLAN = ProcessPlan(
    args=("sh",), env=("A=1",), cwd="/", uid=1000, gid=1000, additional_gids=(50,), terminal=False
)
FILES = SpecFiles(Path("/b/resolv.conf"), Path("/b/hosts"), Path("/b/hostname"))
HOST = HostLimits(capabilities=frozenset(ALL_CAPABILITIES), nofile=1048576)


def spec(**options: object) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "rootfs": Path("/root"),
        "hostname": "box",
        "network": "host",
        "binds": (),
        "tmpfs": (),
        "insecure": False,
        "files": FILES,
        "cgroups_path": "/slipway/x",
        "host": HOST,
    }
    arguments.update(options)
    document: dict[str, Any] = json.loads(msgspec.json.encode(container_spec(PLAN, **arguments)))
    return document


def test_the_sandbox_defaults() -> None:
    document = spec()
    process = document["process"]
    assert process["user"] == {"uid": 1000, "gid": 1000, "additionalGids": [50]}
    assert process["capabilities"]["bounding"] == list(DEFAULT_CAPABILITIES)
    assert process["capabilities"]["inheritable"] == [] and process["capabilities"]["ambient"] == []
    assert process["rlimits"] == [{"type": "RLIMIT_NOFILE", "hard": 1048576, "soft": 1048576}]
    assert process["noNewPrivileges"] is False
    assert "/proc/kcore" in document["linux"]["maskedPaths"]
    assert "/proc/sys" in document["linux"]["readonlyPaths"]
    assert [ns["type"] for ns in document["linux"]["namespaces"]] == ["pid", "ipc", "uts", "mount"]
    assert document["linux"]["resources"]["devices"] == [{"allow": False, "access": "rwm"}]
    mounts = {mount["destination"]: mount for mount in document["mounts"]}
    assert (
        mounts["/etc/resolv.conf"]["source"] == "/b/resolv.conf"
        and "ro" in mounts["/etc/resolv.conf"]["options"]
    )
    assert "ro" in mounts["/sys"]["options"] and mounts["/sys/fs/cgroup"]["type"] == "cgroup"
    assert mounts["/dev/pts"]["options"] == [
        "nosuid",
        "noexec",
        "newinstance",
        "ptmxmode=0666",
        "mode=0620",
        "gid=5",
    ]


def test_network_none_gets_its_own_namespace() -> None:
    assert "network" in [ns["type"] for ns in spec(network="none")["linux"]["namespaces"]]


def test_insecure_gets_every_capability_the_host_has_and_no_masks() -> None:
    host = HostLimits(capabilities=frozenset(ALL_CAPABILITIES) - {"CAP_SYS_RESOURCE"}, nofile=20000)
    document = spec(insecure=True, host=host)
    capabilities = document["process"]["capabilities"]["effective"]
    assert "CAP_SYS_ADMIN" in capabilities and "CAP_SYS_RESOURCE" not in capabilities
    assert document["linux"].get("maskedPaths", []) == [] and document["linux"].get("readonlyPaths", []) == []
    assert "rw" in {mount["destination"]: mount for mount in document["mounts"]}["/sys"]["options"]
    assert document["process"]["rlimits"][0]["hard"] == 20000


def test_user_binds_and_tmpfs() -> None:
    document = spec(
        binds=((Path("/host/data"), "/data", True, ()), (Path("/host/rw"), "/rw", False, ("nosuid",))),
        tmpfs=(("/scratch", None), ("/sized", 128 * 1024 * 1024)),
    )
    mounts = {mount["destination"]: mount for mount in document["mounts"]}
    assert mounts["/data"]["source"] == "/host/data" and "ro" in mounts["/data"]["options"]
    assert "rw" in mounts["/rw"]["options"] and "nosuid" in mounts["/rw"]["options"]
    assert "nosuid" not in mounts["/data"]["options"]
    assert mounts["/scratch"]["type"] == "tmpfs"
    assert not any(option.startswith("size=") for option in mounts["/scratch"]["options"])
    assert "size=134217728" in mounts["/sized"]["options"]  # RUN --mount=type=tmpfs,size=128m


def test_host_limits_from_proc_status() -> None:
    status = "Name:\tpython\nCapPrm:\t000001fffeffffff\nCapEff:\t000001fffeffffff\n"
    limits = host_limits(status, nofile_hard=20000, nr_open=1048576)
    assert "CAP_SYS_RESOURCE" not in limits.capabilities and "CAP_SYS_ADMIN" in limits.capabilities
    assert limits.nofile == 20000  # without CAP_SYS_RESOURCE the hard limit cannot be raised
    everything = host_limits("CapPrm:\t000001ffffffffff\n", nofile_hard=1024, nr_open=524288)
    assert everything.nofile == 524288 and everything.capabilities == frozenset(ALL_CAPABILITIES)


def test_rootless_on_the_hosts_network_binds_sys_and_writes_no_cgroups() -> None:
    document = spec(rootless=True, cgroups_path=None)
    assert "cgroupsPath" not in document["linux"]
    assert document["linux"]["resources"]["devices"] == []
    mounts = {mount["destination"]: mount for mount in document["mounts"]}
    # A user namespace may not mount sysfs for a network namespace it does not own: /sys is the host's, bound.
    assert mounts["/sys"]["type"] == "bind" and mounts["/sys"]["source"] == "/sys"
    assert "ro" in mounts["/sys"]["options"]
    # The same mount points as a root build's, so a RUN leaves the same stub directories in its layer.
    assert [mount["destination"] for mount in document["mounts"]] == [
        mount["destination"] for mount in spec()["mounts"]
    ]


def test_rootless_with_a_network_namespace_of_its_own_mounts_sysfs() -> None:
    document = spec(rootless=True, cgroups_path=None, network="none")
    mounts = {mount["destination"]: mount for mount in document["mounts"]}
    assert mounts["/sys"]["type"] == "sysfs"


def test_a_private_network_joins_the_namespace_it_is_given() -> None:
    document = spec(network="private", network_path=Path("/proc/42/ns/net"))
    assert document["linux"]["namespaces"][-1] == {"type": "network", "path": "/proc/42/ns/net"}
    with pytest.raises(ValueError):
        spec(network="private")


def test_rootless_keeps_the_hosts_nofile_limit_it_cannot_raise() -> None:
    status = "CapPrm:\t000001ffffffffff\n"
    assert host_limits(status, 4096, 1048576).nofile == 1048576
    assert host_limits(status, 4096, 1048576, rootless=True).nofile == 4096


def test_without_a_process_sandbox_the_container_shares_our_pid_namespace_and_proc() -> None:
    document = spec(rootless=True, cgroups_path=None, process_sandbox=False)
    assert "pid" not in [ns["type"] for ns in document["linux"]["namespaces"]]
    mounts = {mount["destination"]: mount for mount in document["mounts"]}
    assert mounts["/proc"]["type"] == "bind" and mounts["/proc"]["source"] == "/proc"
    assert "rbind" in mounts["/proc"]["options"] and "nosuid" in mounts["/proc"]["options"]
    # The masks still cover the bound /proc, and the mount points (so a RUN's layer) are a sandboxed run's.
    assert "/proc/kcore" in document["linux"]["maskedPaths"]
    assert "/proc/sys" in document["linux"]["readonlyPaths"]
    assert [mount["destination"] for mount in document["mounts"]] == [
        mount["destination"] for mount in spec(rootless=True, cgroups_path=None)["mounts"]
    ]
