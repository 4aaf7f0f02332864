"""What a program file is: an ELF executable (its loader, the libraries it needs, where it looks for them) or a
script (its #! interpreter). ELF is parsed with pyelftools, from the program headers, so stripped binaries
without section headers read too. Files come from images: hostile; a malformed one is "not ELF"."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ElfProgram", "ScriptProgram", "inspect_program"]

_ELF_MAGIC = b"\x7fELF"
_SHEBANG = b"#!"
_SHEBANG_LINE_LIMIT = 256


@dataclass(frozen=True, slots=True)
class ElfProgram:
    interpreter: str | None  # PT_INTERP: the loader, None for a static program
    needed: tuple[str, ...]  # DT_NEEDED, in order
    search_paths: tuple[str, ...]  # DT_RPATH or DT_RUNPATH entries, as written ($ORIGIN unexpanded)
    elf_class: int  # 32 or 64
    machine: str  # "EM_X86_64"

    @property
    def is_static(self) -> bool:
        return self.interpreter is None and not self.needed


@dataclass(frozen=True, slots=True)
class ScriptProgram:
    interpreter: str  # "/bin/sh", "/usr/bin/env python3"


def inspect_program(path: Path) -> ElfProgram | ScriptProgram | None:
    """None when the file is neither an ELF program nor a #! script (or is a malformed ELF file)."""
    with path.open("rb") as handle:
        head = handle.read(_SHEBANG_LINE_LIMIT)
        if head.startswith(_SHEBANG):
            line = head[2:].split(b"\n", 1)[0].strip()
            return ScriptProgram(line.decode("utf-8", errors="replace"))
        if not head.startswith(_ELF_MAGIC):
            return None
        handle.seek(0)
        return _read_elf(handle)


def _read_elf(handle: object) -> ElfProgram | None:
    from elftools.common.exceptions import ELFError
    from elftools.construct import ConstructError

    try:
        return _elf_program(handle)
    except (ELFError, ConstructError, struct.error, ValueError, IndexError, KeyError, UnicodeDecodeError):
        return None


def _elf_program(handle: object) -> ElfProgram:
    from elftools.elf.elffile import ELFFile

    elf = ELFFile(handle)  # type: ignore[arg-type]
    interpreter = None
    needed: list[str] = []
    search: list[str] = []
    for segment in elf.iter_segments():
        kind = segment["p_type"]
        if kind == "PT_INTERP":
            interpreter = segment.get_interp_name()  # type: ignore[attr-defined]
        elif kind == "PT_DYNAMIC":
            runpath: list[str] = []
            rpath: list[str] = []
            for tag in segment.iter_tags():  # type: ignore[attr-defined]
                match tag.entry.d_tag:
                    case "DT_NEEDED":
                        needed.append(tag.needed)
                    case "DT_RUNPATH":
                        runpath += tag.runpath.split(":")
                    case "DT_RPATH":
                        rpath += tag.rpath.split(":")
            search = runpath or rpath  # glibc ignores DT_RPATH when DT_RUNPATH is present
    return ElfProgram(
        interpreter=interpreter,
        needed=tuple(needed),
        search_paths=tuple(item for item in search if item),
        elf_class=elf.elfclass,
        machine=str(elf["e_machine"]),
    )
