"""What kind of content a path is: toolchains, package manager leftovers, caches, VCS and build directories,
documentation, locales. One table; the first matching kind wins. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["CONTENT_KINDS", "TOOLCHAIN_KINDS", "ContentKind", "classify"]


@dataclass(frozen=True, slots=True)
class ContentKind:
    name: str  # shown: "Go toolchain"
    short: str  # in a sentence: "the Go toolchain", "gcc"
    pattern: re.Pattern[str]  # matched against the relative path ("usr/local/go/bin/go")
    toolchain: bool = False  # build-time only: a candidate for a build stage


def _kind(name: str, short: str, *patterns: str, toolchain: bool = False) -> ContentKind:
    return ContentKind(name, short, re.compile("|".join(f"(?:{p})" for p in patterns)), toolchain)


_ARCH = r"(?:x86_64|aarch64|arm|i686|riscv64|s390x|powerpc64le)[a-z0-9_-]*"
CONTENT_KINDS: tuple[ContentKind, ...] = (
    _kind(
        "Go toolchain", "the Go toolchain",
        r"^usr/local/go/", r"^usr/lib/go(?:-[0-9.]+)?/", r"^usr/share/go(?:-[0-9.]+)?/",
        toolchain=True,
    ),
    _kind(
        "C/C++ toolchain", "gcc",
        r"^usr/(?:lib|libexec)/gcc(?:-cross)?/", r"^usr/include/",
        rf"^usr/bin/(?:{_ARCH}-)?(?:gcc|g\+\+|cc|c\+\+|cpp|ld|ld\.bfd|ld\.gold|as|ar|nm|objdump|objcopy|strip|"
        r"ranlib|readelf|gprof|lto-dump|gcov)(?:-[0-9.]+)?$",
        r"^usr/lib/llvm-[0-9.]+/", r"^usr/bin/clang",
        rf"^usr/lib/{_ARCH}/(?:libbfd|libopcodes|libctf|libsframe|libgprofng|libasan|libtsan|liblsan|libubsan|"
        r"libhwasan|libisl|libmpc|libmpfr|libcc1|libitm|libquadmath|libLLVM)",
        toolchain=True,
    ),
    _kind(
        "Rust toolchain", "the Rust toolchain",
        r"^usr/local/(?:rustup|cargo)/", r"^(?:root|home/[^/]+)/\.(?:rustup|cargo)/", toolchain=True,
    ),
    _kind("JDK", "a JDK", r"^usr/lib/jvm/[^/]+/(?:bin/javac|lib/(?:ct\.sym|src\.zip)|jmods/)", toolchain=True),
    _kind("apt lists and caches", "apt lists and caches", r"^var/lib/apt/lists/", r"^var/cache/apt/"),
    _kind(
        "pip/npm/yarn/Go caches", "package manager caches",
        r"(?:^|/)\.cache/(?:pip|go-build|yarn|pypoetry|uv)/", r"(?:^|/)\.npm/", r"^usr/local/share/\.cache/",
        r"^(?:root|home/[^/]+)/go/pkg/mod/",
    ),
    _kind(".git directories", ".git directories", r"(?:^|/)\.git/"),
    _kind(
        "build directories", "build output",
        r"(?:^|/)(?:CMakeFiles|__pycache__|_build)/", r"^(?!usr/)(?:[^/]+/)*(?:build|target|obj)/",
        r"^(?!usr/)(?:[^/]+/)*[^/]+\.o$",
    ),
    _kind("temporary files", "temporary files", r"^(?:var/)?tmp/"),
    _kind("documentation", "documentation", r"^usr/share/(?:doc|man|info|gtk-doc|help)/"),
    _kind("locales", "locales", r"^usr/share/(?:locale|i18n)/", r"^usr/lib/locale/"),
)  # fmt: skip
TOOLCHAIN_KINDS = tuple(kind for kind in CONTENT_KINDS if kind.toolchain)


def classify(path: str) -> ContentKind | None:
    for kind in CONTENT_KINDS:
        if kind.pattern.search(path):
            return kind
    return None
