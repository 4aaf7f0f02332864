"""Whether a platform runs here: binfmt_misc handlers read as the kernel shows them, matched by ELF header."""

from __future__ import annotations

from pathlib import Path

import pytest

from slipway.errors import PlatformNotRunnable
from slipway.image.oci import Platform
from slipway.image.platforms import host_platform
from slipway.worker.emulation import Handler, check_runnable, elf_header, read_handlers

# Debian's qemu-user-static, as /proc/sys/fs/binfmt_misc/qemu-aarch64 shows it once registered.
QEMU_AARCH64 = """enabled
interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P
flags: POF
offset 0
magic 7f454c460201010000000000000000000200b700
mask ffffffffffffff00fffffffffffffffffeffffff
"""
ARM64 = Platform(architecture="arm64", os="linux")

pytestmark = pytest.mark.skipif(
    host_platform().architecture != "amd64", reason="the cases assume an amd64 host"
)


def binfmt(tmp_path: Path, **entries: str) -> Path:
    directory = tmp_path / "binfmt_misc"
    directory.mkdir()
    (directory / "status").write_text("enabled\n")
    (directory / "register").write_text("")
    for name, text in entries.items():
        (directory / name.replace("_", "-")).write_text(text)
    return directory


def test_a_registered_f_handler_runs_arm64(tmp_path: Path) -> None:
    handlers = read_handlers(binfmt(tmp_path, qemu_aarch64=QEMU_AARCH64))
    assert handlers is not None and [handler.name for handler in handlers] == ["qemu-aarch64"]
    check_runnable(ARM64, handlers)


def test_the_handler_is_found_by_its_magic_not_its_name(tmp_path: Path) -> None:
    handlers = read_handlers(binfmt(tmp_path, any_name=QEMU_AARCH64))
    check_runnable(ARM64, handlers)
    with pytest.raises(PlatformNotRunnable, match="qemu-user-static"):
        check_runnable(Platform(architecture="s390x", os="linux"), handlers)


def test_a_handler_without_the_f_flag_does_not_count(tmp_path: Path) -> None:
    handlers = read_handlers(binfmt(tmp_path, qemu_aarch64=QEMU_AARCH64.replace("POF", "PO")))
    with pytest.raises(PlatformNotRunnable, match="without the F flag"):
        check_runnable(ARM64, handlers)


def test_a_disabled_handler_does_not_count(tmp_path: Path) -> None:
    handlers = read_handlers(binfmt(tmp_path, qemu_aarch64=QEMU_AARCH64.replace("enabled", "disabled")))
    with pytest.raises(PlatformNotRunnable, match="disabled"):
        check_runnable(ARM64, handlers)


def test_no_handler_names_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(PlatformNotRunnable) as raised:
        check_runnable(ARM64, read_handlers(binfmt(tmp_path)))
    assert "qemu-user-static" in str(raised.value) and "qemu-aarch64.conf" in str(raised.value)


def test_binfmt_misc_not_mounted(tmp_path: Path) -> None:
    assert read_handlers(tmp_path) is None


def test_native_platforms_need_nothing() -> None:
    check_runnable(Platform(architecture="amd64", os="linux"), ())
    check_runnable(Platform(architecture="386", os="linux"), ())


def test_what_cannot_run_at_all() -> None:
    with pytest.raises(PlatformNotRunnable, match="Linux containers only"):
        check_runnable(Platform(architecture="amd64", os="windows"), ())
    with pytest.raises(PlatformNotRunnable, match="no emulator is known"):
        check_runnable(Platform(architecture="bar", os="linux"), ())


def test_elf_headers_match_the_handlers_of_their_machine() -> None:
    aarch64 = Handler("qemu-aarch64", True, "", "F", 0, bytes.fromhex("7f454c460201010000000000000000000200b700"),
                      bytes.fromhex("ffffffffffffff00fffffffffffffffffeffffff"))  # fmt: skip
    assert aarch64.matches(elf_header("arm64") or b"")
    assert not aarch64.matches(elf_header("riscv64") or b"")
    assert not aarch64.matches(elf_header("amd64") or b"")
    assert elf_header("bar") is None
