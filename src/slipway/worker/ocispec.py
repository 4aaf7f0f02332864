"""The OCI runtime spec (config.json) as frozen msgspec structs, and the pure plan of one container's spec.

Defaults follow Docker's and containerd's (oci/spec.go, oci/mounts.go): Docker's capability set, its
masked and read-only paths, /dev as a tmpfs with runc's default device nodes, NOFILE 1048576 as BuildKit.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from slipway.choices import ContainerNetwork
from slipway.image.oci import DEFAULT_PATH

__all__ = [
    "Spec",
    "SpecFiles",
    "HostLimits",
    "ProcessPlan",
    "host_limits",
    "DEFAULT_CAPABILITIES",
    "ALL_CAPABILITIES",
    "DEFAULT_PATH",
    "container_spec",
    "rootfs_mount_points",
]

OCI_VERSION = "1.0.2"

DEFAULT_CAPABILITIES = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
)
# Every capability runc 1.1 knows (capability.h up to 40); RUN --security=insecure gets them all.
ALL_CAPABILITIES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
    "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN",
    "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
)  # fmt: skip
MASKED_PATHS = (
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
)
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")
NOFILE = 1048576


class User(msgspec.Struct, frozen=True, omit_defaults=True, rename="camel"):
    uid: int
    gid: int
    additional_gids: tuple[int, ...] = ()


class Capabilities(msgspec.Struct, frozen=True):
    bounding: tuple[str, ...]
    effective: tuple[str, ...]
    permitted: tuple[str, ...]
    inheritable: tuple[str, ...] = ()
    ambient: tuple[str, ...] = ()


class Rlimit(msgspec.Struct, frozen=True):
    type: str
    hard: int
    soft: int


class Process(msgspec.Struct, frozen=True, rename="camel"):
    terminal: bool
    user: User
    args: tuple[str, ...]
    env: tuple[str, ...]
    cwd: str
    capabilities: Capabilities
    rlimits: tuple[Rlimit, ...]
    no_new_privileges: bool = False


class Root(msgspec.Struct, frozen=True):
    path: str
    readonly: bool = False


class Mount(msgspec.Struct, frozen=True):
    destination: str
    type: str
    source: str
    options: tuple[str, ...] = ()


class Namespace(msgspec.Struct, frozen=True, omit_defaults=True):
    type: str
    path: str | None = None  # join this one (a private network's) rather than make a fresh one


class DeviceRule(msgspec.Struct, frozen=True, omit_defaults=True):
    allow: bool
    access: str
    type: str | None = None


class Resources(msgspec.Struct, frozen=True):
    devices: tuple[DeviceRule, ...]


class Linux(msgspec.Struct, frozen=True, omit_defaults=True, rename="camel"):
    namespaces: tuple[Namespace, ...]
    resources: Resources
    cgroups_path: str | None = None
    masked_paths: tuple[str, ...] = ()
    readonly_paths: tuple[str, ...] = ()


class Spec(msgspec.Struct, frozen=True, rename="camel"):
    oci_version: str
    process: Process
    root: Root
    hostname: str
    mounts: tuple[Mount, ...]
    linux: Linux


class SpecFiles(msgspec.Struct, frozen=True):
    """Files of the bundle that get bind-mounted into the container."""

    resolv_conf: Path
    hosts: Path
    hostname: Path


class HostLimits(msgspec.Struct, frozen=True):
    """What this process may hand on: its permitted capabilities and the highest NOFILE it can set."""

    capabilities: frozenset[str]
    nofile: int


class ProcessPlan(msgspec.Struct, frozen=True):
    """What the executor resolved for the process: identity and the final environment."""

    args: tuple[str, ...]
    env: tuple[str, ...]
    cwd: str
    uid: int
    gid: int
    additional_gids: tuple[int, ...]
    terminal: bool


# A bind mount: (source, destination, readonly, more options such as "nosuid").
Bind = tuple[Path, str, bool, tuple[str, ...]]


def container_spec(
    plan: ProcessPlan,
    *,
    rootfs: Path,
    hostname: str,
    network: ContainerNetwork,
    binds: tuple[Bind, ...],
    tmpfs: tuple[tuple[str, int | None], ...],
    insecure: bool,
    files: SpecFiles,
    cgroups_path: str | None,
    host: HostLimits,
    rootless: bool = False,
    network_path: Path | None = None,
    shm_size: int | None = None,
    ulimits: tuple[tuple[str, int, int], ...] = (),
    process_sandbox: bool = True,
) -> Spec:
    """The config.json of one container; `binds` are (source, destination, readonly, more mount options); a
    private network joins the namespace at `network_path`; `shm_size` in bytes (default 64 MiB); `ulimits`
    (RLIMIT_*, soft, hard) over the default NOFILE. Without `process_sandbox` the container shares our PID
    namespace and /proc (choices.ProcessSandbox)."""
    if (network == "private") != (network_path is not None):
        raise ValueError("a private network, and only that, needs the path of its namespace")
    # A capability this process lacks cannot be granted: the runtime would fail at capset.
    wanted = ALL_CAPABILITIES if insecure else DEFAULT_CAPABILITIES
    capabilities = tuple(name for name in wanted if name in host.capabilities)
    process = Process(
        terminal=plan.terminal,
        user=User(plan.uid, plan.gid, plan.additional_gids),
        args=plan.args,
        env=plan.env,
        cwd=plan.cwd,
        capabilities=Capabilities(capabilities, capabilities, capabilities),
        rlimits=_rlimits(host, ulimits),
    )
    kinds = ("pid", "ipc", "uts", "mount") if process_sandbox else ("ipc", "uts", "mount")
    namespaces = [Namespace(kind) for kind in kinds]
    if network == "none":
        namespaces.append(Namespace("network"))  # a fresh one: runc brings up only lo
    elif network == "private":
        namespaces.append(
            Namespace("network", str(network_path))
        )  # insecure: every device allowed, as BuildKit's entitlement; else deny all, and runc appends its
    # allow rules for the default nodes (null, zero, full, random, urandom, tty, pts).
    device_rules = (DeviceRule(allow=insecure, access="rwm"),)
    linux = Linux(
        namespaces=tuple(namespaces),
        # Rootless: no cgroups to write device rules into (the user namespace makes no devices anyway).
        resources=Resources(devices=() if rootless else device_rules),
        cgroups_path=cgroups_path,
        masked_paths=() if insecure else MASKED_PATHS,
        readonly_paths=() if insecure else READONLY_PATHS,
    )
    return Spec(
        oci_version=OCI_VERSION,
        process=process,
        root=Root(path=str(rootfs)),
        hostname=hostname,
        mounts=_system_mounts(insecure, rootless and network == "host", shm_size, process_sandbox)
        + _file_mounts(files)
        + _user_mounts(binds, tmpfs),
        linux=linux,
    )


def rootfs_mount_points(spec: Spec) -> tuple[str, ...]:
    """Destinations the runtime may have to create in the root file system, shallowest first."""
    return tuple(mount.destination for mount in spec.mounts)


def _rlimits(host: HostLimits, ulimits: tuple[tuple[str, int, int], ...]) -> tuple[Rlimit, ...]:
    limits = {"RLIMIT_NOFILE": Rlimit("RLIMIT_NOFILE", host.nofile, host.nofile)}
    for kind, soft, hard in ulimits:
        limits[kind] = Rlimit(kind, hard=hard, soft=soft)
    return tuple(limits.values())


def _system_mounts(
    insecure: bool, host_sysfs: bool, shm_size: int | None = None, process_sandbox: bool = True
) -> tuple[Mount, ...]:
    sys_mode = "rw" if insecure else "ro"
    shm = f"size={shm_size // 1024}k" if shm_size else "size=65536k"
    if host_sysfs:
        # A user namespace may mount sysfs only with a network namespace of its own: on the host's network it
        # gets the host's /sys bound read-only, as runc's rootless spec does (cgroups included, read-only).
        # /sys/fs/cgroup is bound again (already there through rbind) so that the mount points, and so the stub
        # dirs made for them and the layer a RUN leaves, are those of a root build.
        bound = ("rbind", "nosuid", "noexec", "nodev", "ro")
        sys_mounts = (
            Mount("/sys", "bind", "/sys", bound),
            Mount("/sys/fs/cgroup", "bind", "/sys/fs/cgroup", bound),
        )
    else:
        sys_mounts = (
            Mount("/sys", "sysfs", "sysfs", ("nosuid", "noexec", "nodev", sys_mode)),
            Mount("/sys/fs/cgroup", "cgroup", "cgroup", ("nosuid", "noexec", "nodev", "relatime", sys_mode)),
        )
    if process_sandbox:
        proc = Mount("/proc", "proc", "proc", ("nosuid", "noexec", "nodev"))
    else:
        # Our own /proc, with what covers parts of it (the masks of the container we run in), as BuildKit's
        # no-process-sandbox mode: a fresh one needs a PID namespace of its own, and the kernel refuses it here.
        # The masked and read-only paths are applied on top, as for a fresh one.
        proc = Mount("/proc", "bind", "/proc", ("rbind", "nosuid", "noexec", "nodev"))
    return (
        proc,
        Mount("/dev", "tmpfs", "tmpfs", ("nosuid", "strictatime", "mode=755", "size=65536k")),
        Mount(
            "/dev/pts",
            "devpts",
            "devpts",
            ("nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"),
        ),
        Mount("/dev/shm", "tmpfs", "shm", ("nosuid", "noexec", "nodev", "mode=1777", shm)),
        Mount("/dev/mqueue", "mqueue", "mqueue", ("nosuid", "noexec", "nodev")),
        *sys_mounts,
    )


def _file_mounts(files: SpecFiles) -> tuple[Mount, ...]:
    options = ("rbind", "rprivate", "ro")
    return (
        Mount("/etc/resolv.conf", "bind", str(files.resolv_conf), options),
        Mount("/etc/hosts", "bind", str(files.hosts), options),
        Mount("/etc/hostname", "bind", str(files.hostname), options),
    )


def _user_mounts(binds: tuple[Bind, ...], tmpfs: tuple[tuple[str, int | None], ...]) -> tuple[Mount, ...]:
    mounts = [
        Mount(destination, "bind", str(source), ("rbind", "rprivate", "ro" if readonly else "rw", *extra))
        for source, destination, readonly, extra in binds
    ]
    for destination, size in tmpfs:
        options = ("nosuid", "nodev") if size is None else ("nosuid", "nodev", f"size={size}")
        mounts.append(Mount(destination, "tmpfs", "tmpfs", options))
    return tuple(mounts)


def host_limits(status: str, nofile_hard: int, nr_open: int, *, rootless: bool = False) -> HostLimits:
    """HostLimits from /proc/self/status text, the current NOFILE hard limit and fs.nr_open. Rootless, the
    capabilities are the user namespace's, and raising a hard limit needs CAP_SYS_RESOURCE on the host."""
    permitted = 0
    for line in status.splitlines():
        if line.startswith("CapPrm:"):
            permitted = int(line.split()[1], 16)
    capabilities = frozenset(name for bit, name in enumerate(ALL_CAPABILITIES) if permitted >> bit & 1)
    # Raising a hard limit needs CAP_SYS_RESOURCE; without it the container keeps ours.
    can_raise = "CAP_SYS_RESOURCE" in capabilities and not rootless
    ceiling = min(NOFILE, nr_open) if can_raise else min(NOFILE, nofile_hard)
    return HostLimits(capabilities=capabilities, nofile=ceiling)
