"""Tar headers as Go's archive/tar (and so BuildKit) writes them: USTAR where it fits, PAX records where not.

Only what a layer needs: no uname/gname, no atime/ctime, integer mtimes. PAX is used for a name or link name
that is not ASCII or does not fit USTAR's name/prefix split, numbers that overflow their octal fields, and
xattrs (SCHILY.xattr.*), so a plain tree gives plain USTAR headers.
"""

from __future__ import annotations

BLOCK_SIZE = 512
END_OF_ARCHIVE = bytes(2 * BLOCK_SIZE)  # Go's tar.Writer.Close: two zero blocks, no padding to a record

REGULAR = b"0"
HARDLINK = b"1"
SYMLINK = b"2"
CHAR_DEVICE = b"3"
BLOCK_DEVICE = b"4"
DIRECTORY = b"5"
FIFO = b"6"
_PAX_HEADER = b"x"

_NAME_SIZE = 100
_PREFIX_SIZE = 155
_MAX_OCTAL_7 = 0o7777777
_MAX_OCTAL_11 = 0o77777777777
_MAGIC = b"ustar\x0000"
_BLANK_CHECKSUM = b" " * 8


def padding(size: int) -> bytes:
    return bytes(-size % BLOCK_SIZE)


def encode_header(
    name: bytes,
    typeflag: bytes,
    *,
    mode: int = 0,
    uid: int = 0,
    gid: int = 0,
    size: int = 0,
    mtime: int = 0,
    linkname: bytes = b"",
    devmajor: int = 0,
    devminor: int = 0,
    xattrs: tuple[tuple[bytes, bytes], ...] = (),
) -> bytes:
    """One entry's header blocks: a PAX extended header first when a field does not fit USTAR."""
    pax: list[tuple[bytes, bytes]] = []
    split = _split_ustar_name(name)
    if split is None:
        pax.append((b"path", name))
        split = (b"", _truncate_ascii(name))
    if len(linkname) > _NAME_SIZE or not linkname.isascii():
        pax.append((b"linkpath", linkname))
        linkname = _truncate_ascii(linkname)
    if uid > _MAX_OCTAL_7:
        pax.append((b"uid", b"%d" % uid))
        uid = 0
    if gid > _MAX_OCTAL_7:
        pax.append((b"gid", b"%d" % gid))
        gid = 0
    if size > _MAX_OCTAL_11:
        pax.append((b"size", b"%d" % size))
    if not 0 <= mtime <= _MAX_OCTAL_11:
        pax.append((b"mtime", b"%d" % mtime))
        mtime = 0
    pax.extend((b"SCHILY.xattr." + key, value) for key, value in xattrs)
    prefix, short_name = split
    header = _ustar(
        short_name,
        prefix,
        typeflag,
        mode,
        uid,
        gid,
        size if size <= _MAX_OCTAL_11 else 0,
        mtime,
        linkname,
        devmajor,
        devminor,
    )
    if not pax:
        return header
    return _pax_header(name, pax) + header


def _ustar(
    name: bytes,
    prefix: bytes,
    typeflag: bytes,
    mode: int,
    uid: int,
    gid: int,
    size: int,
    mtime: int,
    linkname: bytes,
    devmajor: int,
    devminor: int,
) -> bytes:
    block = bytearray(BLOCK_SIZE)
    block[0 : len(name)] = name
    block[100:108] = b"%07o\0" % (mode & 0o7777)
    block[108:116] = b"%07o\0" % uid
    block[116:124] = b"%07o\0" % gid
    block[124:136] = b"%011o\0" % size
    block[136:148] = b"%011o\0" % mtime
    block[148:156] = _BLANK_CHECKSUM
    block[156:157] = typeflag
    block[157 : 157 + len(linkname)] = linkname
    block[257:265] = _MAGIC
    block[329:337] = b"%07o\0" % (devmajor & _MAX_OCTAL_7)
    block[337:345] = b"%07o\0" % (devminor & _MAX_OCTAL_7)
    block[345 : 345 + len(prefix)] = prefix
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block)


def _pax_header(name: bytes, records: list[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(_pax_record(key, value) for key, value in sorted(records))
    # Go names the extended header "<dir>/PaxHeaders.0/<base>", cut to fit USTAR's name field.
    directory, _, base = name.rstrip(b"/").rpartition(b"/")
    header_name = _truncate_ascii((directory + b"/" if directory else b"") + b"PaxHeaders.0/" + base)
    return _ustar(header_name, b"", _PAX_HEADER, 0, 0, 0, len(body), 0, b"", 0, 0) + body + padding(len(body))


def _pax_record(key: bytes, value: bytes) -> bytes:
    """ "<length> <key>=<value>\\n" where <length> counts itself."""
    payload = b" " + key + b"=" + value + b"\n"
    length = len(payload) + 1
    while len(b"%d" % length) + len(payload) != length:
        length += 1
    return b"%d" % length + payload


def _split_ustar_name(name: bytes) -> tuple[bytes, bytes] | None:
    """Go's splitUSTARPath: (prefix, name) fitting the two USTAR fields, or None when PAX is needed."""
    if not name.isascii():
        return None
    if len(name) <= _NAME_SIZE:
        return b"", name
    length = len(name)
    if length > _PREFIX_SIZE + 1:
        length = _PREFIX_SIZE + 1
    elif name[length - 1 : length] == b"/":
        length -= 1
    index = name.rfind(b"/", 0, length)
    suffix_length = len(name) - index - 1
    if index <= 0 or suffix_length > _NAME_SIZE or suffix_length == 0 or index > _PREFIX_SIZE:
        return None
    return name[:index], name[index + 1 :]


def _truncate_ascii(text: bytes) -> bytes:
    return bytes(byte for byte in text if byte < 0x80)[:_NAME_SIZE]
