"""extract_archive's bounds for archives unpacked on the host (build contexts): a size cap on what the archive
unpacks to, and no device nodes."""

from __future__ import annotations

import gzip
import io
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from slipway.errors import ArchiveError
from slipway.worker._archive import extract_archive
from slipway.worker.rootpath import Root


def archive_of(*members: tarfile.TarInfo, content: bytes = b"") -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        for member in members:
            archive.addfile(member, io.BytesIO(content) if member.isreg() else None)
    return out.getvalue()


def regular(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    return info


def test_an_archive_unpacking_past_the_cap_is_refused(tmp_path: Path) -> None:
    # A small gzip that unpacks to 4 MiB of zeros: the cap counts the unpacked stream, not the download.
    bomb = gzip.compress(archive_of(regular("zeros", 4 << 20), content=bytes(4 << 20)))
    assert len(bomb) < 64 << 10
    dest = tmp_path / "dest"
    dest.mkdir()
    with Root(dest) as root, pytest.raises(ArchiveError, match="more than 1,048,576 bytes"):
        extract_archive(io.BytesIO(bomb), "bomb.tar.gz", root, what="context", max_bytes=1 << 20)
    with Root(dest) as root:
        extract_archive(io.BytesIO(bomb), "bomb.tar.gz", root, what="context", max_bytes=8 << 20)
    assert (dest / "zeros").stat().st_size == 4 << 20


def test_device_nodes_are_refused_when_asked(tmp_path: Path) -> None:
    device = tarfile.TarInfo("disk")
    device.type, device.devmajor, device.devminor = tarfile.BLKTYPE, 8, 0
    dest = tmp_path / "dest"
    dest.mkdir()
    with (
        Root(dest) as root,
        pytest.raises(ArchiveError, match="context x.tar: entry 'disk' is a device node"),
    ):
        extract_archive(io.BytesIO(archive_of(device)), "x.tar", root, what="context", devices=False)
    assert not (dest / "disk").exists()


def test_an_entry_declaring_more_than_the_archive_holds_is_one_error(tmp_path: Path) -> None:
    # tarfile's stream mode skips an entry's data by reading it: a declared size of 2**62 bytes after a
    # 10 KiB archive must end in an error, not in reading nothing for ever. "./" is an entry not unpacked.
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as archive:
        archive.addfile(regular("./", 1 << 62))  # the header alone
    dest = tmp_path / "dest"
    dest.mkdir()
    with Root(dest) as root, pytest.raises(ArchiveError, match="x.tar: .*more bytes than the archive holds"):
        extract_archive(io.BytesIO(out.getvalue()), "x.tar", root, what="context")


def test_a_sparse_entry_of_exabytes_of_holes_is_one_error(tmp_path: Path) -> None:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as archive:
        sparse = regular("holes", 1 << 62)
        sparse.type = tarfile.GNUTYPE_SPARSE
        archive.addfile(sparse)
    dest = tmp_path / "dest"
    dest.mkdir()
    with Root(dest) as root, pytest.raises(ArchiveError, match="x.tar: cannot unpack entry 'holes'"):
        extract_archive(io.BytesIO(out.getvalue()), "x.tar", root)


@pytest.mark.skipif(shutil.which("tar") is None, reason="GNU tar writes the sparse archive")
def test_a_sparse_file_unpacks_with_its_data_at_its_offsets(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    with (source / "sparse").open("wb") as file:
        file.write(b"head")
        file.seek(1 << 20)
        file.write(b"middle")
        file.truncate(3 << 20)
    packed = tmp_path / "sparse.tar"
    subprocess.run(["tar", "--sparse", "--format=gnu", "-cf", packed, "-C", source, "sparse"], check=True)
    dest = tmp_path / "dest"
    dest.mkdir()
    with Root(dest) as root, packed.open("rb") as raw:
        extract_archive(raw, "sparse.tar", root)
    assert (dest / "sparse").read_bytes() == (source / "sparse").read_bytes()
