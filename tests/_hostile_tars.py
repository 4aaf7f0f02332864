"""Hypothesis strategies for hostile tar streams: odd entry types, names and links, PAX headers with junk
xattrs, huge declared sizes, then truncated, bit-flipped or wrapped in a broken gzip stream."""

from __future__ import annotations

import gzip
import io
import tarfile

from hypothesis import strategies as st

NAMES = st.sampled_from(
    ["a", "a/b", "./a", "../x", "/abs", "a/../../x", ".wh.a", "a/.wh..wh..opq", ".wh..wh.plnk", "", ".", "a/",
     "é", "a\udcff", "x" * 300, "/".join(["d"] * 200), "dev/null", "etc/passwd"]
)  # fmt: skip
KINDS = st.sampled_from(
    [tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE, tarfile.FIFOTYPE,
     tarfile.BLKTYPE, tarfile.CONTTYPE, b"Z", b"\x00"]
)  # fmt: skip
PAX = st.dictionaries(
    st.sampled_from(
        [
            "SCHILY.xattr.security.capability",
            "SCHILY.xattr.user.a",
            "SCHILY.xattr.trusted.overlay.opaque",
            "mtime",
            "uid",
            "size",
            "path",
            "linkpath",
            "LIBARCHIVE.xattr.user.b",
            "gid",
        ]
    ),  # fmt: skip
    st.one_of(st.text(max_size=40), st.sampled_from(["-1", "1e400", "nan", "99999999999999999999", "\x00"])),
    max_size=3,
)


@st.composite
def entries(draw: st.DrawFn) -> tarfile.TarInfo:
    info = tarfile.TarInfo(draw(NAMES))
    info.type = draw(KINDS)
    info.linkname = draw(NAMES)
    info.mode = draw(st.integers(0, 0o7777))
    info.uid = draw(st.integers(0, 2**21 - 1))
    info.gid = draw(st.integers(0, 2**21 - 1))
    info.mtime = draw(st.integers(-(2**33), 2**33))
    info.pax_headers = draw(PAX)
    return info


@st.composite
def tar_streams(draw: st.DrawFn) -> bytes:
    """A tar stream of a few hostile entries, maybe damaged."""
    out = io.BytesIO()
    with tarfile.open(
        fileobj=out, mode="w", format=draw(st.sampled_from([tarfile.PAX_FORMAT, tarfile.GNU_FORMAT]))
    ) as tar:
        for info in draw(st.lists(entries(), max_size=6)):
            data = draw(st.binary(max_size=64)) if info.type in (tarfile.REGTYPE, tarfile.CONTTYPE) else b""
            info.size = len(data)
            try:
                tar.addfile(info, io.BytesIO(data))
            except (ValueError, UnicodeError, tarfile.TarError, OverflowError):
                continue  # tarfile cannot even write it: a header no writer makes is the damage below
    blob = out.getvalue()
    damage = draw(st.sampled_from(["none", "truncate", "flip", "gzip", "garbage"]))
    if damage == "truncate":
        blob = blob[: draw(st.integers(0, len(blob)))]
    elif damage == "flip" and blob:
        position = draw(st.integers(0, len(blob) - 1))
        blob = blob[:position] + bytes([blob[position] ^ draw(st.integers(1, 255))]) + blob[position + 1 :]
    elif damage == "gzip":
        packed = gzip.compress(blob)
        blob = packed[: draw(st.integers(0, len(packed)))]
    elif damage == "garbage":
        blob = draw(st.binary(max_size=2048))
    return blob
