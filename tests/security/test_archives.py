"""Archives built to escape their extraction dir, fed through every archive reader slipway has.

The CPython tarfile filter bypasses (CVE-2024-12718, CVE-2025-4138, CVE-2025-4330, CVE-2025-4517) are
patterns any extractor can fall for: a symlink (or a chain of them, long enough that a realpath() check
overflows PATH_MAX) leading out, then an entry written, linked or chmod-ed through it; a hard link to a
symlink that leads out, then content written to the link. slipway extracts with its own code, not
tarfile.extractall, but each reader must hold against each pattern: ADD of a local archive, `slipway
import`, `slipway load` (a layer, and the outer archive itself), and the loaded image's layer unpacked
into a snapshot for a RUN. Nothing may be written or changed outside; the result is an image or a clear
error, never a traceback.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _host import Host, context, failure

pytestmark = pytest.mark.root

Entries = list[tarfile.TarInfo | tuple[tarfile.TarInfo, bytes]]


def member(name: str, kind: bytes = tarfile.REGTYPE, *, link: str = "", mode: int = 0o644) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode, info.mtime = kind, link, mode, 0
    return info


def tar_bytes(entries: Entries) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for item in entries:
            info, data = item if isinstance(item, tuple) else (item, None)
            if data is not None:
                info.size = len(data)
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def climb(target: Path) -> str:
    """A relative path that reaches `target` from any directory less than 40 levels deep."""
    return "../" * 40 + str(target).lstrip("/")


# -- the patterns --------------------------------------------------------------------------------------------


def symlink_then_write(host: Host) -> Entries:
    return [
        member("abs", tarfile.SYMTYPE, link=str(host.canaries / "empty")),
        (member("abs/pwned"), b"pwned\n"),
        member("rel", tarfile.SYMTYPE, link=climb(host.canaries / "empty")),
        (member("rel/pwned"), b"pwned\n"),
        member("file", tarfile.SYMTYPE, link=str(host.canaries / "secret.txt")),
        (member("file"), b"overwritten\n"),  # a regular entry over a symlink: replaced, not written through
    ]


def hardlink_to_outside(host: Host) -> Entries:
    # CVE-2025-4330: a hard link to a symlink that leads out, then content written to the link.
    return [
        member("out", tarfile.SYMTYPE, link=str(host.canaries / "secret.txt")),
        member("linked", tarfile.LNKTYPE, link="out"),
        (member("linked"), b"overwritten\n"),
        member("direct", tarfile.LNKTYPE, link=str(host.canaries / "secret.txt")),
        member("climbing", tarfile.LNKTYPE, link=climb(host.canaries / "secret.txt")),
    ]


def metadata_through_symlink(host: Host) -> Entries:
    # CVE-2024-12718: a directory or file entry named like a symlink to an outside dir gets its mode and
    # mtime applied through the link.
    return [
        member("dir", tarfile.SYMTYPE, link=str(host.canaries / "sub")),
        member("dir", tarfile.DIRTYPE, mode=0o777),
        member("up", tarfile.SYMTYPE, link=climb(host.canaries / "sub")),
        member("up", tarfile.DIRTYPE, mode=0o777),
        member("f", tarfile.SYMTYPE, link=str(host.canaries / "secret.txt")),
        (member("f", mode=0o4777), b"x"),
    ]


def path_max_chain(host: Host) -> Entries:
    # CVE-2025-4517 / CVE-2025-4138: each step a 247-character directory and a one-letter symlink to it, so
    # that "a/b/c/..." is short while what it resolves to is far past PATH_MAX; a last symlink climbs with
    # as many ".." as steps and more, then goes where it likes.
    long_name = "d" * 247
    steps = "abcdefghijklmnop"
    entries: Entries = []
    real = ""
    for step in steps:
        entries.append(member(f"{real}{long_name}", tarfile.DIRTYPE, mode=0o755))
        entries.append(member(f"{real}{step}", tarfile.SYMTYPE, link=long_name))
        real += long_name + "/"
    short = "/".join(steps)
    entries.append(member(f"{short}/link", tarfile.SYMTYPE, link="../" * (len(steps) + 40)))
    entries.append(
        member("escape", tarfile.SYMTYPE, link=f"{short}/link/" + str(host.canaries / "empty").lstrip("/"))
    )
    entries.append((member("escape/pwned"), b"pwned\n"))
    entries.append(member("hard", tarfile.LNKTYPE, link="escape/../secret.txt"))
    return entries


PATTERNS: dict[str, Callable[[Host], Entries]] = {
    "symlink-then-write": symlink_then_write,
    "hardlink-to-outside": hardlink_to_outside,
    "metadata-through-symlink": metadata_through_symlink,
    "path-max-chain": path_max_chain,
}


def docker_archive(layer: bytes, tag: str) -> bytes:
    """A `docker save` archive of one image whose only layer is `layer`."""
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["sh"]},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        }
    ).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = json.dumps(
        [{"Config": config_name, "RepoTags": [tag], "Layers": ["layer/layer.tar"]}]
    ).encode()
    return tar_bytes(
        [
            (member("manifest.json"), manifest),
            (member(config_name), config),
            (member("layer/layer.tar"), layer),
        ]
    )


def assert_clean_outcome(result: Any) -> None:
    """An image or a clear error: never a traceback."""
    assert "Traceback" not in result.stderr, result.stderr
    if result.returncode != 0:
        assert result.stderr.strip(), "a failure says why"


@pytest.mark.parametrize("pattern", sorted(PATTERNS))
def test_add_of_a_malicious_archive(store: Any, host: Host, tmp_path: Path, pattern: str) -> None:
    archive = tar_bytes(PATTERNS[pattern](host))
    dockerfile = (
        "FROM busybox:test\nADD evil.tar /unpacked/\nRUN ls -la /unpacked; cat /unpacked/file; true\n"
    )
    result = store.build(context(tmp_path / "ctx", dockerfile, {"evil.tar": archive}), "-t", f"add-{pattern}")
    assert_clean_outcome(result)
    assert "host-secret" not in result.stderr
    host.assert_intact()


@pytest.mark.parametrize("pattern", sorted(PATTERNS))
def test_import_of_a_malicious_rootfs(store: Any, host: Host, tmp_path: Path, pattern: str) -> None:
    archive = tmp_path / "evil.tar"
    archive.write_bytes(tar_bytes(PATTERNS[pattern](host)))
    result = store("import", str(archive), f"imported-{pattern}:1")
    assert_clean_outcome(result)
    if result.returncode == 0:
        assert_clean_outcome(store("run", "--rm", f"imported-{pattern}:1", "/bin/true"))
    host.assert_intact()


@pytest.mark.parametrize("pattern", sorted(PATTERNS))
def test_load_of_an_image_with_a_malicious_layer_then_using_it(
    store: Any, host: Host, tmp_path: Path, pattern: str
) -> None:
    archive = tmp_path / "evil-image.tar"
    archive.write_bytes(docker_archive(tar_bytes(PATTERNS[pattern](host)), f"loaded-{pattern}:1"))
    loaded = store("load", "-i", str(archive))
    assert_clean_outcome(loaded)
    if loaded.returncode == 0:
        # The layer is unpacked into a snapshot when a step first needs the image.
        used = store.build(context(tmp_path / "ctx", f"FROM loaded-{pattern}:1\nCOPY f /f\n", {"f": "x"}))
        assert_clean_outcome(used)
        assert_clean_outcome(store("run", "--rm", f"loaded-{pattern}:1", "/bin/true"))
    host.assert_intact()


def test_load_of_a_malicious_outer_archive(store: Any, host: Host, tmp_path: Path) -> None:
    # The outer tar of `docker save` links its own entries: here they lead out, or climb through a link.
    layer = tar_bytes([(member("f"), b"f")])
    cases = {
        "manifest-link": [member("manifest.json", tarfile.SYMTYPE, link=str(host.canaries / "secret.txt"))],
        "climbing-link": [member("manifest.json", tarfile.SYMTYPE, link=climb(host.canaries / "secret.txt"))],
        "hard-link": [member("manifest.json", tarfile.LNKTYPE, link=str(host.canaries / "secret.txt"))],
        "through-link": [
            member("blobs", tarfile.SYMTYPE, link=str(host.canaries / "empty")),
            (member("blobs/pwned"), b"pwned\n"),
            (member("layer.tar"), layer),
        ],
        "dotdot": [(member("../../pwned"), b"pwned\n")],
    }
    for name, entries in cases.items():
        archive = tmp_path / f"{name}.tar"
        archive.write_bytes(tar_bytes(entries))
        result = store("load", "-i", str(archive))
        assert host.secret not in result.stdout + result.stderr
        failure(result)
    assert not (tmp_path / "pwned").exists()
    host.assert_intact()


def test_an_invalid_file_capability_is_a_clear_error_in_every_reader(
    store: Any, host: Host, tmp_path: Path
) -> None:
    # A security.capability the kernel rejects (EINVAL) was an "[Errno 22] Invalid argument: 9" traceback;
    # containerd and Docker refuse such a layer, naming the attribute.
    info = member("bin/tool", mode=0o755)
    info.pax_headers = {"SCHILY.xattr.security.capability": "\x01\x02"}
    archive = tar_bytes([member("bin", tarfile.DIRTYPE, mode=0o755), (info, b"#!/bin/sh\n")])
    (tmp_path / "cap.tar").write_bytes(archive)
    (tmp_path / "cap-image.tar").write_bytes(docker_archive(archive, "cap:1"))
    imported = store("import", str(tmp_path / "cap.tar"), "cap-import:1")
    added = store.build(context(tmp_path / "ctx", "FROM busybox:test\nADD cap.tar /\n", {"cap.tar": archive}))
    outcomes = [imported, added]
    if store("load", "-i", str(tmp_path / "cap-image.tar")).returncode == 0:
        outcomes.append(store.build(context(tmp_path / "use", "FROM cap:1\nCOPY f /f\n", {"f": "x"})))
    for result in outcomes:
        error = failure(result)
        assert "security.capability" in error and "bin/tool" in error, error
        assert "Errno" not in error
    host.assert_intact()
