"""compare_images and the package readers: exactly the expected paths, differences and package versions."""

from __future__ import annotations

from _analysis_entries import directory, file, symlink, whiteout

from slipway.analysis._packages import parse_go_build_info
from slipway.analysis._read import LayerFiles
from slipway.analysis.diff import compare_images, contents

DPKG = b"""Package: libc6
Status: install ok installed
Version: 2.36-9

Package: gcc-12
Status: install ok installed
Version: 12.2.0-14
Description: the compiler
 continued line: with a colon

Package: removed-one
Status: deinstall ok config-files
Version: 1.0
"""


def go_build_info(version: bytes, modinfo: bytes) -> bytes:
    def string(value: bytes) -> bytes:
        return bytes([len(value)]) + value  # lengths under 128: one varint byte

    header = b"\xff Go buildinf:" + bytes([8, 2]) + bytes(16)
    return header + string(version) + string(bytes(16) + modinfo + bytes(16))


MODINFO = b"path\texample.com/app\nmod\texample.com/app\t(devel)\t\ndep\tgolang.org/x/text\tv0.3.0\th1:x\n"


def test_files_added_removed_and_changed_with_what_changed() -> None:
    before = contents(
        "a",
        (
            LayerFiles(
                (
                    directory("etc"),
                    file("etc/conf", 10),
                    file("gone", 5),
                    symlink("link", "x"),
                    file("same", 3),
                ),
                {"etc/conf": "1", "gone": "2", "same": "3"},
            ),
        ),
    )
    after = contents(
        "b",
        (
            LayerFiles(
                (directory("etc"), file("etc/conf", 10), symlink("link", "y"), file("same", 3)),
                {"etc/conf": "9", "same": "3"},
            ),
            LayerFiles(
                (file("new", 7, mode=0o755, uid=1000), whiteout("same"), directory("same")), {"new": "4"}
            ),
        ),
    )
    result = compare_images(before, after)
    assert [(item.path, item.change, item.differences) for item in result.files] == [
        ("/etc/conf", "changed", ("content",)),
        ("/gone", "removed", ()),
        ("/link", "changed", ("link",)),
        ("/new", "added", ()),
        ("/same", "changed", ("type",)),
    ]
    by_directory = {item.path: item for item in result.directories}
    assert (by_directory["/"].added, by_directory["/"].removed, by_directory["/"].changed) == (1, 1, 2)
    assert (by_directory["/etc"].changed, by_directory["/etc"].bytes_added) == (1, 0)


def test_packages_from_dpkg_python_and_go_build_info() -> None:
    before = contents(
        "a",
        (
            LayerFiles(
                (directory("var"), file("var/lib/dpkg/status", len(DPKG))), kept={"var/lib/dpkg/status": DPKG}
            ),
        ),
    )
    after = contents(
        "b",
        (
            LayerFiles(
                (
                    file("usr/lib/python3/site-packages/Foo_Bar-1.2.dist-info/METADATA"),
                    file("app", 100, mode=0o755),
                ),
                go_info={"app": go_build_info(b"go1.22.1", MODINFO)},
            ),
        ),
    )
    changes = {
        (item.ecosystem, item.name): (item.before, item.after)
        for item in compare_images(before, after).packages
    }
    assert changes == {
        ("dpkg", "libc6"): ("2.36-9", None),
        ("dpkg", "gcc-12"): ("12.2.0-14", None),
        ("python", "foo-bar"): (None, "1.2"),
        ("go", "/app"): (None, "go1.22.1 (example.com/app)"),
        ("go-module", "example.com/app in /app"): (None, "(devel)"),
        ("go-module", "golang.org/x/text in /app"): (None, "v0.3.0"),
    }


def test_go_build_info_before_go_1_18_or_truncated_is_none() -> None:
    blob = go_build_info(b"go1.22.1", MODINFO)
    assert parse_go_build_info(blob) == ("go1.22.1", MODINFO.decode())
    assert parse_go_build_info(blob[:40]) is None
    assert parse_go_build_info(blob[:15] + b"\x00" + blob[16:]) is None  # pointer-based format
