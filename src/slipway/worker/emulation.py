"""Whether this machine can execute a platform's programs: natively, or through a binfmt_misc handler.

A RUN for another architecture (`--platform linux/arm64` on amd64) runs that architecture's ELF binaries; the
kernel hands them to an emulator registered with binfmt_misc (Debian's qemu-user-static registers
/usr/libexec/qemu-binfmt/<arch>-binfmt-P). Only a handler with the F flag works in a container: the kernel
opened its interpreter when it was registered, so the container's root need not hold it. Without one the
container would fail with "exec format error", or worse, a rootfs of the host's architecture would run
natively under a foreign TARGETPLATFORM: slipway refuses such a RUN before it starts, naming what to install.

The check compares an ELF header of the platform's machine with each handler's magic and mask, as the kernel
does, so handlers registered under any name (binfmt-support's, tonistiigi/binfmt's) count.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import msgspec

from slipway.errors import PlatformNotRunnable
from slipway.image.oci import Platform
from slipway.image.platforms import format_platform, host_platform, normalize

__all__ = ["BINFMT_DIR", "Handler", "check_runnable", "elf_header", "read_handlers"]

BINFMT_DIR = Path("/proc/sys/fs/binfmt_misc")
_MAX_ENTRY_BYTES = 4096  # a handler's status file is a few lines

# GOARCH -> (ELF class: 1 = 32-bit, 2 = 64-bit; data: 1 = little, 2 = big endian; e_machine; qemu's name).
_ELF_MACHINES: dict[str, tuple[int, int, int, str]] = {
    "amd64": (2, 1, 62, "x86_64"),
    "386": (1, 1, 3, "i386"),
    "arm64": (2, 1, 183, "aarch64"),
    "arm": (1, 1, 40, "arm"),
    "ppc64le": (2, 1, 21, "ppc64le"),
    "ppc64": (2, 2, 21, "ppc64"),
    "s390x": (2, 2, 22, "s390x"),
    "riscv64": (2, 1, 243, "riscv64"),
    "mips64le": (2, 1, 8, "mips64el"),
    "mips64": (2, 2, 8, "mips64"),
    "mipsle": (1, 1, 8, "mipsel"),
    "mips": (1, 2, 8, "mips"),
    "loong64": (2, 1, 258, "loongarch64"),
}
# What a host runs without an emulator besides its own architecture (the kernel's compat modes).
_NATIVE_TOO = {"amd64": ("386",)}


class Handler(msgspec.Struct, frozen=True):
    """One binfmt_misc entry, as /proc/sys/fs/binfmt_misc/<name> shows it."""

    name: str
    enabled: bool
    interpreter: str
    flags: str
    offset: int
    magic: bytes
    mask: bytes

    def matches(self, header: bytes) -> bool:
        data = header[self.offset : self.offset + len(self.magic)]
        if len(data) < len(self.magic):
            return False
        mask = self.mask or b"\xff" * len(self.magic)
        return all((d & m) == (g & m) for d, g, m in zip(data, self.magic, mask, strict=True))


def elf_header(architecture: str) -> bytes | None:
    """The first 20 bytes of an executable of `architecture` (a GOARCH name); None when not known here."""
    known = _ELF_MACHINES.get(architecture)
    if known is None:
        return None
    elf_class, data, machine, _ = known
    order: Literal["little", "big"] = "little" if data == 1 else "big"
    ident = b"\x7fELF" + bytes((elf_class, data, 1, 0)) + bytes(8)
    return ident + (2).to_bytes(2, order) + machine.to_bytes(2, order)  # e_type ET_EXEC, e_machine


def read_handlers(directory: Path = BINFMT_DIR) -> tuple[Handler, ...] | None:
    """The registered handlers; None when binfmt_misc is not mounted at `directory`."""
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return None
    if "status" not in names:
        return None
    handlers = []
    for name in names:
        if name in ("status", "register"):
            continue
        handler = _read_handler(directory, name)
        if handler is not None:
            handlers.append(handler)
    return tuple(handlers)


def _read_handler(directory: Path, name: str) -> Handler | None:
    try:
        fd = os.open(directory / name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None  # unregistered meanwhile
    try:
        text = os.read(fd, _MAX_ENTRY_BYTES).decode(errors="replace")
    finally:
        os.close(fd)
    fields: dict[str, str] = {}
    enabled = False
    for line in text.splitlines():
        if line.strip() == "enabled":
            enabled = True
        key, _, value = line.partition(" ")
        fields[key] = value.strip()
    try:
        magic = bytes.fromhex(fields.get("magic", ""))
        mask = bytes.fromhex(fields.get("mask", ""))
        offset = int(fields.get("offset", "0"))
    except ValueError:
        return None  # an extension handler ("E"), not a magic one
    if not magic:
        return None
    flags = fields.get("flags:", "")
    return Handler(name, enabled, fields.get("interpreter", ""), flags, offset, magic, mask)


def check_runnable(platform: Platform, handlers: tuple[Handler, ...] | None = None) -> None:
    """Raises PlatformNotRunnable, naming what to install, unless this machine executes `platform`'s programs
    natively or through an enabled binfmt_misc handler with the F flag. `handlers`: read_handlers()."""
    wanted = normalize(platform)
    shown = format_platform(wanted)
    host = host_platform()
    if wanted.os != "linux":
        raise PlatformNotRunnable(
            f"cannot run programs for {shown}: slipway runs Linux containers only (this machine is "
            f"{format_platform(host)})"
        )
    if wanted.architecture == host.architecture or wanted.architecture in _NATIVE_TOO.get(
        host.architecture, ()
    ):
        return
    header = elf_header(wanted.architecture)
    if header is None:
        known = ", ".join(sorted(_ELF_MACHINES))
        raise PlatformNotRunnable(
            f"cannot run programs for {shown}: no emulator is known for the architecture "
            f"{wanted.architecture!r} (known: {known})"
        )
    qemu = _ELF_MACHINES[wanted.architecture][3]
    if handlers is None:
        handlers = read_handlers()
    if handlers is None:
        raise PlatformNotRunnable(
            f"cannot run programs for {shown} on this {format_platform(host)} machine: binfmt_misc is not "
            f"mounted; mount it (mount -t binfmt_misc binfmt_misc {BINFMT_DIR}), then install Debian's "
            f"qemu-user-static, which registers qemu-{qemu}"
        )
    found = [handler for handler in handlers if handler.matches(header)]
    usable = [handler for handler in found if handler.enabled and "F" in handler.flags]
    if usable:
        return
    if found:
        raise PlatformNotRunnable(
            f"cannot run programs for {shown}: the binfmt_misc handler {found[0].name} is "
            + ("disabled" if not found[0].enabled else "registered without the F flag")
            + f"; register qemu-{qemu} with the F flag (Debian's qemu-user-static does: "
            f"/usr/lib/binfmt.d/qemu-{qemu}.conf)"
        )
    raise PlatformNotRunnable(
        f"cannot run programs for {shown} on this {format_platform(host)} machine: no emulator is registered; "
        f"install Debian's qemu-user-static (apt-get install qemu-user-static) and register its handler "
        f"(without systemd: cat /usr/lib/binfmt.d/qemu-{qemu}.conf > {BINFMT_DIR}/register)"
    )
