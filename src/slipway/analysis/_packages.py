"""The packages an image holds, read from what package managers leave in it. Pure: bytes and paths in.

dpkg (/var/lib/dpkg/status, and distroless' status.d/), apk (/lib/apk/db/installed), Python distributions
(site-packages/NAME-VERSION.dist-info), and the Go build info of Go binaries (Go 1.18's format: the module
path, the dependencies with their versions, the Go version).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

__all__ = ["DPKG_STATUS", "APK_INSTALLED", "Package", "is_package_database", "packages"]

DPKG_STATUS = "var/lib/dpkg/status"
DPKG_STATUS_DIR = "var/lib/dpkg/status.d/"
APK_INSTALLED = "lib/apk/db/installed"
_DIST_INFO = re.compile(r"(?:^|/)(?:site|dist)-packages/([^/]+?)-([^-/]+?)\.(?:dist-info|egg-info)(?:/|$)")
_GO_MAGIC = b"\xff Go buildinf:"
_GO_INLINE_STRINGS = 0x2
_GO_HEADER = 32
_GO_SENTINEL = 16  # modinfo is wrapped in 16 bytes of marker on each side


@dataclass(frozen=True, slots=True)
class Package:
    ecosystem: str  # "dpkg", "apk", "python", "go" (a binary: version is its Go version), "go-module"
    name: str  # for "go-module": "module in /path/of/binary"
    version: str


def is_package_database(path: str) -> bool:
    """Whether `path` is a file whose content `packages` needs."""
    return path in (DPKG_STATUS, APK_INSTALLED) or path.startswith(DPKG_STATUS_DIR)


def packages(
    paths: Iterable[str], databases: Mapping[str, bytes], go_info: Mapping[str, bytes]
) -> tuple[Package, ...]:
    """Every package found: `paths` are the tree's, `databases` the content of its package databases,
    `go_info` the bytes from a Go build info magic on, per binary."""
    found: list[Package] = []
    for path, content in sorted(databases.items()):
        if path == APK_INSTALLED:
            found += _apk(content)
        elif path == DPKG_STATUS or path.startswith(DPKG_STATUS_DIR):
            found += _dpkg(content)
    for path in paths:
        match = _DIST_INFO.search(path)
        if match:
            found.append(Package("python", _normalize_python_name(match.group(1)), match.group(2)))
    for path, blob in sorted(go_info.items()):
        found += _go_binary("/" + path, blob)
    return tuple(sorted(set(found), key=lambda package: (package.ecosystem, package.name, package.version)))


def _paragraphs(content: bytes) -> Iterator[dict[str, str]]:
    text = content.decode("utf-8", errors="replace")
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            if line[:1] in (" ", "\t") or ":" not in line:
                continue  # a continuation line
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
        if fields:
            yield fields


def _dpkg(content: bytes) -> Iterator[Package]:
    for fields in _paragraphs(content):
        status = fields.get("Status", "install ok installed").split()
        if "Package" in fields and status[-1:] == ["installed"]:
            yield Package("dpkg", fields["Package"], fields.get("Version", ""))


def _apk(content: bytes) -> Iterator[Package]:
    for fields in _paragraphs(content):
        if "P" in fields:
            yield Package("apk", fields["P"], fields.get("V", ""))


def _normalize_python_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503


def _go_binary(path: str, blob: bytes) -> list[Package]:
    info = parse_go_build_info(blob)
    if info is None:
        return []
    version, modinfo = info
    main = ""
    found = []
    for line in modinfo.splitlines():
        fields = line.split("\t")
        if fields[0] == "path" and len(fields) > 1:
            main = fields[1]
        elif fields[0] in ("mod", "dep") and len(fields) > 2:
            found.append(Package("go-module", f"{fields[1]} in {path}", fields[2]))
    found.append(Package("go", path, f"{version} ({main})" if main else version))
    return found


def parse_go_build_info(blob: bytes) -> tuple[str, str] | None:
    """(Go version, module info text) from bytes starting at a Go build info magic; None for the older
    pointer-based format (Go before 1.18) or anything malformed."""
    if not blob.startswith(_GO_MAGIC) or len(blob) < _GO_HEADER:
        return None
    if not blob[15] & _GO_INLINE_STRINGS:
        return None
    position = _GO_HEADER
    strings = []
    for _ in range(2):
        length, position = _uvarint(blob, position)
        if length < 0 or position + length > len(blob):
            return None
        strings.append(blob[position : position + length])
        position += length
    version, modinfo = strings
    if len(modinfo) >= 2 * _GO_SENTINEL:
        modinfo = modinfo[_GO_SENTINEL:-_GO_SENTINEL]
    return version.decode("utf-8", errors="replace"), modinfo.decode("utf-8", errors="replace")


def _uvarint(blob: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while position < len(blob) and shift < 64:
        byte = blob[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, position
        shift += 7
    return -1, position
