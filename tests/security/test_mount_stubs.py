"""BuildKit CVE-2024-23652: the mount points made for a RUN's mounts are removed afterwards by paths computed
before the RUN; a RUN that replaces a parent directory with a symlink made that cleanup delete host files.

The stubs must be removed only inside the root file system, and only while they are the empty entries made
for the mount: the host's /tmp/victim/sub/b/c (and an empty host file at a file mount's stub) survive.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _host import Host, context

pytestmark = pytest.mark.root


def test_tmpfs_stub_cleanup_does_not_follow_a_swapped_parent_onto_the_host(
    store: Any, host: Host, tmp_path: Path
) -> None:
    victim = host.canaries / "sub"
    dockerfile = (
        "FROM busybox:test\n"
        f"RUN --mount=type=tmpfs,target=/a/b/c sh -c 'mv /a /a.old && ln -s {victim} /a'\n"
        "RUN test -L /a && test -d /a.old/b\n"
    )
    store.build_ok(context(tmp_path / "ctx", dockerfile), "-t", "stubs:tmpfs")
    assert (victim / "b" / "c").is_dir()
    host.assert_intact()


def test_bind_stub_cleanup_does_not_unlink_an_empty_host_file(store: Any, host: Host, tmp_path: Path) -> None:
    victim = host.canaries / "sub"
    dockerfile = (
        "FROM busybox:test\n"
        f"RUN --mount=type=bind,source=empty.txt,target=/a/b/f sh -c 'mv /a /a.old && ln -s {victim} /a'\n"
    )
    store.build_ok(context(tmp_path / "ctx", dockerfile, {"empty.txt": ""}), "-t", "stubs:bind")
    assert (victim / "b" / "f").is_file()
    host.assert_intact()


def test_stubs_through_a_relative_symlink_chain_stay_inside(store: Any, host: Host, tmp_path: Path) -> None:
    # A relative chain that climbs out on the host (as many ".." as it takes) but not in the container.
    climb = "../" * 40 + str(host.canaries / "sub").lstrip("/")
    dockerfile = (
        f"FROM busybox:test\nRUN --mount=type=tmpfs,target=/a/b/c sh -c 'mv /a /gone && ln -s {climb} /a'\n"
    )
    store.build_ok(context(tmp_path / "ctx", dockerfile), "-t", "stubs:climb")
    assert (host.canaries / "sub" / "b" / "c").is_dir()
    host.assert_intact()


def test_mount_points_leave_nothing_in_the_layer(store: Any, tmp_path: Path) -> None:
    # The fix keeps the cleanup working: stubs the RUN left alone are gone from the image.
    dockerfile = (
        "FROM busybox:test\n"
        "RUN --mount=type=tmpfs,target=/made/for/tmpfs --mount=type=bind,source=f.txt,target=/made/file "
        "touch /kept\n"
    )
    store.build_ok(context(tmp_path / "ctx", dockerfile, {"f.txt": "x"}), "-t", "stubs:clean")
    tree = store.image_tree("stubs:clean", tmp_path)
    assert "kept" in tree
    assert not [path for path in tree if path.startswith("made")]
