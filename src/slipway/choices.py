"""The sets of choices several rooms share, each written once (and a default): the command line, the frontend,
the solver, the worker and the renderers import them from here. Standard library only, so the command line's
grammar (cli/_build_flags.py) can be read without loading any room.
"""

from __future__ import annotations

import os
from typing import Literal, get_args

__all__ = [
    "CALLS",
    "CALL_FORMATS",
    "COMPRESSIONS",
    "ENTITLEMENTS",
    "EXPORT_STEP_NAMES",
    "NETWORK_HOST",
    "SECURITY_INSECURE",
    "CONTAINER_NETWORKS",
    "DEFAULT_PLATFORM",
    "NETWORK_MODES",
    "PROGRESS_MODES",
    "PULL_POLICIES",
    "CallFormat",
    "CallName",
    "ROOTLESS_VARIABLE",
    "is_rootless",
    "OVERLAY_DRIVERS",
    "OVERLAY_VARIABLE",
    "OverlayDriver",
    "overlay_driver",
    "PROCESS_SANDBOX_VARIABLE",
    "PROCESS_SANDBOXES",
    "ProcessSandbox",
    "Compression",
    "ContainerNetwork",
    "NetworkMode",
    "OUTPUT_TYPES",
    "OutputType",
    "ProgressMode",
    "PullPolicy",
]

# What a container's network is: the host's, none (a loopback only), or private (a namespace of its own with
# outbound access through slirp4netns: a rootless build's default). slipway has no bridge networks.
ContainerNetwork = Literal["host", "none", "private"]
CONTAINER_NETWORKS: tuple[ContainerNetwork, ...] = get_args(ContainerNetwork)

# RUN --network and build --network: "default" is what the build's --network says, and for the build itself
# the host's (as BuildKit's default sandbox network is a host-like one).
NetworkMode = Literal["default", "none", "host"]
NETWORK_MODES: tuple[NetworkMode, ...] = get_args(NetworkMode)

# How a build shows its progress: "auto" is tty on a terminal, plain elsewhere.
ProgressMode = Literal["auto", "plain", "tty", "rawjson", "quiet"]
PROGRESS_MODES: tuple[ProgressMode, ...] = get_args(ProgressMode)

# How a layer blob is compressed ("none": the tar itself).
Compression = Literal["gzip", "zstd", "none"]
COMPRESSIONS: tuple[Compression, ...] = get_args(Compression)

# When FROM and COPY --from images are fetched from their registry: "missing" (docker build's default),
# "always" (docker build --pull: check for a newer version), "never" (the store only).
PullPolicy = Literal["never", "missing", "always"]
PULL_POLICIES: tuple[PullPolicy, ...] = get_args(PullPolicy)

# What a build's caller may grant a step (build --allow), as BuildKit's entitlements: security.insecure lets
# RUN --security=insecure run with every capability, which is root on the host in all but name; network.host
# lets a RUN ask for the host's network by name (RUN --network=host, or build --network host).
SECURITY_INSECURE = "security.insecure"
NETWORK_HOST = "network.host"
ENTITLEMENTS = (NETWORK_HOST, SECURITY_INSECURE)
# What `slipway build --call` evaluates instead of building ("build": the build itself), and how it answers.
CallName = Literal["check", "outline", "targets"]
CALLS: tuple[CallName, ...] = get_args(CallName)
CallFormat = Literal["text", "json"]
CALL_FORMATS: tuple[CallFormat, ...] = get_args(CallFormat)

# Where a build's result goes (--output type=...), and what its export step is called in the build's progress
# (BuildKit's names): the build runs that step, and a memo's replay shows it again without loading an exporter.
OutputType = Literal["image", "registry", "docker", "oci", "local", "tar"]
OUTPUT_TYPES: tuple[OutputType, ...] = get_args(OutputType)
EXPORT_STEP_NAMES: dict[OutputType, str] = {
    "image": "exporting to image",
    "registry": "exporting to image",
    "docker": "exporting to docker image format",
    "oci": "exporting to oci image format",
    "local": "exporting to client directory",
    "tar": "exporting to client tarball",
}

# Set by a rootless slipway once it is root in its own user namespace (worker/userns.py), to the user's uid: the
# store is the user's, runc runs rootless, and `--network default` gets a namespace of its own.
ROOTLESS_VARIABLE = "SLIPWAY_ROOTLESS"


def is_rootless() -> bool:
    """Whether this slipway runs rootless, as root of the user namespace worker/userns.py made."""
    return ROOTLESS_VARIABLE in os.environ


# Whether a RUN (and `slipway run`) gets a PID namespace and a /proc of its own ("on", the default), or shares
# slipway's ("off": BuildKit's --oci-worker-no-process-sandbox). "off" is for a rootless slipway inside an
# unprivileged container, whose masked /proc makes the kernel refuse a fresh /proc mount; a RUN can then see and
# signal slipway's processes, so it is never guessed: the user says it, in this variable, and root may not.
ProcessSandbox = Literal["on", "off"]
PROCESS_SANDBOXES: tuple[ProcessSandbox, ...] = get_args(ProcessSandbox)
PROCESS_SANDBOX_VARIABLE = "SLIPWAY_PROCESS_SANDBOX"


# What mounts a RUN's root file system: the kernel's overlayfs, or fuse-overlayfs where the kernel refuses
# overlay in a user namespace (rootless only, Linux < 5.11). A rootless slipway probes once per store and keeps
# the verdict there (worker/overlay_driver.py), and sets this variable for the rest of the command when the
# verdict is fuse-overlayfs; setting it forces one.
OverlayDriver = Literal["overlay", "fuse-overlayfs"]
OVERLAY_DRIVERS: tuple[OverlayDriver, ...] = get_args(OverlayDriver)
OVERLAY_VARIABLE = "SLIPWAY_OVERLAY"


def overlay_driver() -> OverlayDriver:
    """The overlay driver this command mounts with (the kernel's unless fuse-overlayfs was chosen)."""
    return "fuse-overlayfs" if os.environ.get(OVERLAY_VARIABLE) == "fuse-overlayfs" else "overlay"


# The platform a build targets and `debug graph` assumes unless told otherwise.
DEFAULT_PLATFORM = "linux/amd64"
