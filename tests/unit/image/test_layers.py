"""pack_layer and unpack_layer without root: determinism, tar format, round trips, whiteouts applied, attacks.

Device nodes, fifos, overlay whiteouts and trusted.* xattrs need root: tests/integration/image/.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest
import zstandard

from _layer_trees import TarBuilder, describe
from slipway.errors import ArchiveError
from slipway.image.compression import compressed_writer
from slipway.image.layers import LayerInfo, measure_layer, pack_layer, unpack_layer
from slipway.image.oci import MEDIA_OCI_LAYER, MEDIA_OCI_LAYER_GZIP, MEDIA_OCI_LAYER_ZSTD

EPOCH = 1_700_000_000


def make_tree(root: Path) -> Path:
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "os-release").write_text("NAME=test\n")
    (root / "bin").mkdir()
    tool = root / "bin" / "tool"
    tool.write_bytes(b"\x7fELF" + bytes(range(256)) * 300)
    tool.chmod(0o4755)
    os.link(tool, root / "bin" / "tool-link")
    os.symlink("tool", root / "bin" / "alias")
    os.symlink("/etc/os-release", root / "os-release")
    (root / "empty").mkdir(mode=0o700)
    (root / "a-b").write_text("sorts before a/ by bytes, after it component-wise")
    (root / "a").mkdir()
    (root / "a" / "z").write_text("z")
    (root / ("long-" * 30)).write_text("a name longer than 100 bytes")
    (root / "ünïcode").write_text("non-ASCII name")
    return root


def pack(directory: Path, compression: str = "gzip", epoch: int | None = EPOCH) -> tuple[bytes, LayerInfo]:
    out = io.BytesIO()
    info = pack_layer(directory, out, compression=compression, source_date_epoch=epoch)  # type: ignore[arg-type]
    return out.getvalue(), info


def tar_members(blob: bytes) -> list[tarfile.TarInfo]:
    data = (
        zstandard.ZstdDecompressor().decompressobj().decompress(blob)
        if blob[:4] == b"\x28\xb5\x2f\xfd"
        else blob
    )
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return tar.getmembers()


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_pack_twice_is_byte_identical(tmp_path: Path, compression: str) -> None:
    tree = make_tree(tmp_path / "tree")
    first, first_info = pack(tree, compression)
    second, second_info = pack(tree, compression)
    assert first == second
    assert first_info == second_info


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_compressed_bytes_do_not_depend_on_thread_count(compression: str) -> None:
    data = b"".join(hashlib.sha256(b"%d" % i).hexdigest().encode() * (i % 7 + 1) for i in range(200_000))
    outputs = set()
    for threads in (1, 2, 3):
        out = io.BytesIO()
        with compressed_writer(compression, out, threads=threads) as writer:  # type: ignore[arg-type]
            writer.write(data)
        outputs.add(out.getvalue())
    assert len(outputs) == 1


def test_layer_info_digests_are_those_of_the_bytes(tmp_path: Path) -> None:
    blob, info = pack(make_tree(tmp_path / "tree"))
    uncompressed = gzip.decompress(blob)
    assert info.descriptor.media_type == MEDIA_OCI_LAYER_GZIP
    assert info.descriptor.digest == "sha256:" + hashlib.sha256(blob).hexdigest()
    assert info.descriptor.size == len(blob)
    assert info.diff_id == "sha256:" + hashlib.sha256(uncompressed).hexdigest()
    assert info.uncompressed_size == len(uncompressed)
    assert measure_layer(io.BytesIO(blob), info.descriptor.media_type) == (
        info.diff_id,
        len(uncompressed),
        info.content_size,
    )
    with tarfile.open(fileobj=io.BytesIO(uncompressed)) as tar:
        assert info.content_size == sum(member.size for member in tar if member.isreg())


def test_media_types_are_ocis(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree")
    assert pack(tree, "zstd")[1].descriptor.media_type == MEDIA_OCI_LAYER_ZSTD
    assert pack(tree, "none")[1].descriptor.media_type == MEDIA_OCI_LAYER


def test_gzip_header_has_no_name_and_no_mtime(tmp_path: Path) -> None:
    blob, _ = pack(make_tree(tmp_path / "tree"))
    assert blob[:3] == b"\x1f\x8b\x08"
    assert blob[3] == 0  # FLG: no FNAME, FCOMMENT, FEXTRA
    assert blob[4:8] == b"\0\0\0\0"  # MTIME


def test_entries_are_in_walk_order_with_numeric_owners_only(tmp_path: Path) -> None:
    blob, _ = pack(make_tree(tmp_path / "tree"))
    members = tar_members(blob)
    names = [member.name for member in members]
    # Depth first, siblings sorted: "a/z" comes before "a-b" (Go's WalkDir order, BuildKit's).
    assert names == sorted(names, key=lambda name: name.split("/"))
    assert names.index("a/z") < names.index("a-b")
    assert "." not in names and "" not in names
    for member in members:
        assert member.uname == "" and member.gname == ""
        assert "atime" not in member.pax_headers and "ctime" not in member.pax_headers


def test_pax_headers_only_where_ustar_does_not_fit(tmp_path: Path) -> None:
    blob, _ = pack(make_tree(tmp_path / "tree"))
    with_pax = {member.name for member in tar_members(blob) if member.pax_headers}
    assert with_pax == {"long-" * 30, "ünïcode"}


def test_hardlinks_within_the_layer_are_tar_hardlinks(tmp_path: Path) -> None:
    blob, _ = pack(make_tree(tmp_path / "tree"))
    by_name = {member.name: member for member in tar_members(blob)}
    assert by_name["bin/tool"].isreg()
    assert by_name["bin/tool-link"].islnk()
    assert by_name["bin/tool-link"].linkname == "bin/tool"


def test_source_date_epoch_clamps_newer_mtimes_only(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "old").write_text("old")
    (tree / "new").write_text("new")
    os.utime(tree / "old", (1_000_000_000, 1_000_000_000))
    os.utime(tree / "new", (2_000_000_000, 2_000_000_000))
    mtimes = {member.name: member.mtime for member in tar_members(pack(tree, epoch=EPOCH)[0])}
    assert mtimes == {"new": EPOCH, "old": 1_000_000_000}
    unclamped = {member.name: member.mtime for member in tar_members(pack(tree, epoch=None)[0])}
    assert unclamped == {"new": 2_000_000_000, "old": 1_000_000_000}


def test_epoch_makes_a_touched_tree_pack_the_same(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree")
    _, before = pack(tree)
    for path in tree.rglob("*"):
        if not path.is_symlink():
            os.utime(path)  # now, later than EPOCH
    _, after = pack(tree)
    assert before == after


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_round_trip_keeps_the_tree(tmp_path: Path, compression: str) -> None:
    tree = make_tree(tmp_path / "tree")
    blob, info = pack(tree, compression, epoch=None)
    dest = tmp_path / "dest"
    diff_id = unpack_layer(io.BytesIO(blob), info.descriptor.media_type, dest)
    assert diff_id == info.diff_id
    assert describe(dest) == describe(tree)
    assert os.stat(dest / "bin" / "tool").st_ino == os.stat(dest / "bin" / "tool-link").st_ino
    assert os.stat(dest / "bin" / "tool").st_mode & 0o4000  # setuid kept
    assert pack(dest, compression, epoch=None)[1] == info  # and packs back to the same layer


def test_unpack_sniffs_the_compression(tmp_path: Path) -> None:
    blob, info = pack(make_tree(tmp_path / "tree"), "zstd")
    assert unpack_layer(io.BytesIO(blob), "application/octet-stream", tmp_path / "dest") == info.diff_id


def test_apply_mode_deletes_what_whiteouts_name(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    lower = TarBuilder().directory("etc").file("etc/keep", b"k").file("etc/gone", b"g").directory("cache")
    lower.file("cache/old", b"o").directory("cache/sub").file("cache/sub/deep", b"d").directory("tree")
    lower.file("tree/leaf", b"l")
    unpack_layer(io.BytesIO(lower.bytes()), MEDIA_OCI_LAYER, dest, whiteouts="apply")
    upper = TarBuilder().file("etc/.wh.gone").file(".wh.tree").directory("cache").file("cache/.wh..wh..opq")
    upper.file("cache/new", b"n")
    unpack_layer(io.BytesIO(upper.bytes()), MEDIA_OCI_LAYER, dest, whiteouts="apply")
    assert sorted(str(path.relative_to(dest)) for path in dest.rglob("*")) == [
        "cache",
        "cache/new",
        "etc",
        "etc/keep",
    ]


def test_apply_mode_replaces_a_lower_dir_with_a_file(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    unpack_layer(
        io.BytesIO(TarBuilder().directory("x").file("x/y", b"y").bytes()),
        MEDIA_OCI_LAYER,
        dest,
        whiteouts="apply",
    )
    unpack_layer(
        io.BytesIO(TarBuilder().file("x", b"now a file").bytes()), MEDIA_OCI_LAYER, dest, whiteouts="apply"
    )
    assert (dest / "x").read_bytes() == b"now a file"


def test_a_later_entry_may_replace_a_directory_of_the_same_layer(tmp_path: Path) -> None:
    layer = TarBuilder().directory("x").file("x/y", b"y").file("x", b"a file now").bytes()
    unpack_layer(io.BytesIO(layer), MEDIA_OCI_LAYER, tmp_path / "dest")
    assert (tmp_path / "dest" / "x").read_bytes() == b"a file now"


def test_parents_missing_from_the_tar_are_made(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    unpack_layer(io.BytesIO(TarBuilder().file("usr/local/bin/app", b"#!").bytes()), MEDIA_OCI_LAYER, dest)
    assert (dest / "usr" / "local" / "bin" / "app").read_bytes() == b"#!"


def test_an_empty_layer_unpacks_to_nothing(tmp_path: Path) -> None:
    blob = TarBuilder().bytes()
    assert unpack_layer(io.BytesIO(blob), MEDIA_OCI_LAYER, tmp_path / "dest") == (
        "sha256:" + hashlib.sha256(blob).hexdigest()
    )
    assert list((tmp_path / "dest").iterdir()) == []


# Malicious and broken layers: ArchiveError, and nothing written outside dest.


def _truncated_gzip() -> bytes:
    return gzip.compress(TarBuilder().file("a", os.urandom(100_000)).bytes(), mtime=0)[:-1000]


def _corrupt_gzip() -> bytes:
    blob = bytearray(gzip.compress(TarBuilder().file("a", b"x" * 100_000).bytes(), mtime=0))
    blob[-6] ^= 0xFF  # the CRC
    return bytes(blob)


def _truncated_zstd() -> bytes:
    return zstandard.ZstdCompressor().compress(TarBuilder().file("a", os.urandom(100_000)).bytes())[:-500]


def _tar_cut_inside_a_header() -> bytes:
    return TarBuilder().file("a", b"a" * 600).file("b", b"b").bytes()[: 1536 + 100]


def _tar_without_end_marker() -> bytes:
    return TarBuilder().file("a", b"a" * 600).bytes()[:1536]  # header + two data blocks, then nothing


def _tar_cut_inside_data() -> bytes:
    return TarBuilder().file("a", b"a" * 6000).bytes()[:2048]


def _tar_with_a_corrupt_second_header() -> bytes:
    data = bytearray(TarBuilder().file("a", b"a").file("b", b"b").bytes())
    data[1024 + 148 : 1024 + 156] = b"0000000\0"  # wrong checksum of the second header
    return bytes(data)


MALICIOUS = {
    "parent-dir": TarBuilder().file("../evil", b"x").bytes(),
    "deep-parent-dir": TarBuilder().directory("a").file("a/../../evil", b"x").bytes(),
    "absolute": TarBuilder().file("/tmp/evil", b"x").bytes(),
    "symlink-then-file": TarBuilder().symlink("link", "../outside").file("link/evil", b"x").bytes(),
    "absolute-symlink-then-file": TarBuilder().symlink("link", "/").file("link/tmp/evil", b"x").bytes(),
    "symlink-then-dir": TarBuilder().symlink("link", "..").directory("link/evil").bytes(),
    "hardlink-outside": TarBuilder().hardlink("evil", "../outside/secret").bytes(),
    "hardlink-absolute": TarBuilder().hardlink("evil", "/etc/passwd").bytes(),
    "hardlink-not-yet-extracted": TarBuilder().hardlink("evil", "later").file("later", b"x").bytes(),
    "hardlink-through-symlink": TarBuilder()
    .symlink("link", "../outside")
    .hardlink("evil", "link/secret")
    .bytes(),
    "whiteout-of-parent": TarBuilder().file("a/.wh..").bytes(),
    "truncated-gzip": _truncated_gzip(),
    "corrupt-gzip": _corrupt_gzip(),
    "truncated-zstd": _truncated_zstd(),
    "tar-cut-inside-a-header": _tar_cut_inside_a_header(),
    "tar-without-end-marker": _tar_without_end_marker(),
    "tar-cut-inside-data": _tar_cut_inside_data(),
    "tar-corrupt-second-header": _tar_with_a_corrupt_second_header(),
    "not-a-tar": b"hello, this is not a tar at all" * 40,
}


@pytest.mark.parametrize("whiteouts", ["overlay", "apply"])
@pytest.mark.parametrize("case", sorted(MALICIOUS))
def test_malicious_or_broken_layers_are_refused(tmp_path: Path, case: str, whiteouts: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("secret")
    dest = tmp_path / "layers" / "dest"
    dest.mkdir(parents=True)
    before = describe(tmp_path)
    with pytest.raises(ArchiveError):
        unpack_layer(
            io.BytesIO(MALICIOUS[case]), "application/vnd.oci.image.layer.v1.tar", dest, whiteouts=whiteouts
        )  # type: ignore[arg-type]
    after = {path: entry for path, entry in describe(tmp_path).items() if not path.startswith("layers/dest/")}
    before.pop("layers/dest")
    after.pop("layers/dest")
    assert after == before
    assert not (Path("/tmp") / "evil").exists()


def test_an_existing_symlink_in_dest_is_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "dest"
    dest.mkdir()
    os.symlink(outside, dest / "lib")  # from a lower layer, flattened with whiteouts="apply"
    layer = TarBuilder().file("lib/evil.so", b"x").bytes()
    with pytest.raises(ArchiveError, match="lib"):
        unpack_layer(io.BytesIO(layer), MEDIA_OCI_LAYER, dest, whiteouts="apply")
    assert list(outside.iterdir()) == []


def test_a_file_replacing_a_symlink_does_not_write_through_it(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "target").write_text("original")
    dest = tmp_path / "dest"
    layer = TarBuilder().symlink("x", str(outside / "target")).file("x", b"replaced").bytes()
    unpack_layer(io.BytesIO(layer), MEDIA_OCI_LAYER, dest)
    assert (outside / "target").read_text() == "original"
    assert (dest / "x").read_bytes() == b"replaced"
    assert not (dest / "x").is_symlink()


@pytest.mark.parametrize(
    ("case", "entry"),
    [
        ("parent-dir", "../evil"),
        ("symlink-then-file", "link/evil"),
        ("hardlink-absolute", "evil"),
        ("hardlink-not-yet-extracted", "evil"),
    ],
)
def test_error_names_the_entry(tmp_path: Path, case: str, entry: str) -> None:
    with pytest.raises(ArchiveError, match=f"layer entry '{entry}'"):
        unpack_layer(io.BytesIO(MALICIOUS[case]), MEDIA_OCI_LAYER, tmp_path / "dest")


@pytest.mark.parametrize("chunk", [1, 7, 512, 1 << 20])
@pytest.mark.parametrize("tar_format", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT])
def test_content_size_counts_regular_files_from_the_headers_alone(chunk: int, tar_format: int) -> None:
    from slipway.image._streams import TarContentCounter

    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tar_format) as tar:
        for name, size in (("a", 10), ("dir/" + "long-" * 40 + "name", 1_000), ("ü-utf8", 513), ("empty", 0)):
            info = tarfile.TarInfo(name)
            info.size = size
            tar.addfile(info, io.BytesIO(b"x" * size))
        link = tarfile.TarInfo("hard")
        link.type, link.linkname = tarfile.LNKTYPE, "a"
        tar.addfile(link)
        symlink = tarfile.TarInfo("sym")
        symlink.type, symlink.linkname = tarfile.SYMTYPE, "a" * 300
        tar.addfile(symlink)
    counter = TarContentCounter()
    data = memoryview(out.getvalue())
    for start in range(0, len(data), chunk):
        counter.feed(data[start : start + chunk])
    assert counter.content_size == 10 + 1_000 + 513
