"""copy_files and make_directory on real trees, as root (ownership): Docker's COPY/ADD rules, and that
nothing is ever read or written outside the two roots."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import os
import shutil
import stat
import tarfile
import tempfile
import threading
from pathlib import Path

import pytest
import zstandard

from slipway.errors import ArchiveError, ContextError
from slipway.graph.ops import Copy, Mkdir
from slipway.image.compression import worker_threads
from slipway.worker.fileops import copy_files, make_directory

pytestmark = pytest.mark.root

PASSWD = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n"
GROUP = "root:x:0:\napp:x:1000:\nstaff:x:50:app\n"
OLD = 1_500_000_000  # a fixed mtime, to see it kept


@pytest.fixture
def context(tmp_path: Path) -> Path:
    root = tmp_path / "context"
    files = {
        "a.txt": "a\n",
        "b.txt": "b\n",
        "c.md": "c\n",
        ".hidden": "h\n",
        "dir/one.txt": "1\n",
        "dir/sub/two.txt": "2\n",
        "other/sub/three.txt": "3\n",
    }
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        os.chown(path, 1000, 1000)
        os.utime(path, (OLD, OLD))
    (root / "dir" / "link-to-one").symlink_to("one.txt")
    (root / "alias").symlink_to("a.txt")
    return root


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    root = tmp_path / "dest"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text(PASSWD)
    (root / "etc" / "group").write_text(GROUP)
    (root / "existing").mkdir()
    return root


def tree(root: Path) -> dict[str, str]:
    """Every entry under root (but /etc): "f <content>", "d", "l <target>"."""
    found = {}
    for path in sorted(root.rglob("*")):
        relative = str(path.relative_to(root))
        if relative == "etc" or relative.startswith("etc/"):
            continue
        if path.is_symlink():
            found[relative] = f"l {os.readlink(path)}"
        elif path.is_dir():
            found[relative] = "d"
        else:
            found[relative] = f"f {path.read_text()}"
    return found


def owner(path: Path) -> tuple[int, int]:
    info = os.lstat(path)
    return info.st_uid, info.st_gid


def test_a_file_to_a_new_path_makes_the_parents(context: Path, dest: Path) -> None:
    copy_files(Copy(("a.txt",), "/x/y/renamed"), context, dest)
    assert tree(dest) == {"existing": "d", "x": "d", "x/y": "d", "x/y/renamed": "f a\n"}
    assert stat.S_IMODE(os.stat(dest / "x").st_mode) == 0o755 and owner(dest / "x") == (0, 0)


def test_a_file_to_a_trailing_slash_or_an_existing_dir_goes_inside(context: Path, dest: Path) -> None:
    copy_files(Copy(("a.txt",), "/new/"), context, dest)
    copy_files(Copy(("/b.txt",), "/existing"), context, dest)
    assert (dest / "new" / "a.txt").read_text() == "a\n"
    assert (dest / "existing" / "b.txt").read_text() == "b\n"


def test_a_directory_copies_its_contents_not_itself(context: Path, dest: Path) -> None:
    copy_files(Copy(("dir",), "/app"), context, dest)
    assert tree(dest / "app") == {
        "link-to-one": "l one.txt",
        "one.txt": "f 1\n",
        "sub": "d",
        "sub/two.txt": "f 2\n",
    }


def test_the_whole_context(context: Path, dest: Path) -> None:
    copy_files(Copy((".",), "/all/"), context, dest)
    assert set(tree(dest / "all")) == {str(path.relative_to(context)) for path in context.rglob("*")}


def test_several_sources_need_a_directory_destination(context: Path, dest: Path) -> None:
    with pytest.raises(ContextError, match="must be a directory and end with a /"):
        copy_files(Copy(("a.txt", "b.txt"), "/file"), context, dest)
    # The rule counts source arguments: one glob matching several files is one source (BuildKit copies
    # each match in turn to the one destination).
    copy_files(Copy(("*.txt",), "/file"), context, dest)
    assert (dest / "file").read_text() == "b\n"
    copy_files(Copy(("a.txt", "b.txt"), "/existing"), context, dest)
    copy_files(Copy(("*.txt",), "/slash/"), context, dest)
    assert sorted(os.listdir(dest / "existing")) == ["a.txt", "b.txt"]
    assert sorted(os.listdir(dest / "slash")) == ["a.txt", "b.txt"]


def test_a_glob_matching_one_file_may_name_the_file(context: Path, dest: Path) -> None:
    copy_files(Copy(("*.md",), "/notes"), context, dest)
    assert (dest / "notes").read_text() == "c\n"


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("?.txt", ["a.txt", "b.txt"]),
        ("[^a].txt", ["b.txt"]),
        ("[a-b].*", ["a.txt", "b.txt"]),
        ("*", [".hidden", "a.txt", "alias", "b.txt", "c.md", "link-to-one", "one.txt", "sub"]),
        ("*/sub/*.txt", ["three.txt", "two.txt"]),
    ],
)
def test_globs_use_go_filepath_match(context: Path, dest: Path, pattern: str, expected: list[str]) -> None:
    copy_files(Copy((pattern,), "/out/"), context, dest)
    assert sorted(os.listdir(dest / "out")) == expected


def test_nothing_matched_names_the_source(context: Path, dest: Path) -> None:
    with pytest.raises(ContextError, match='"/missing.txt": not found'):
        copy_files(Copy(("missing.txt",), "/x"), context, dest)
    # A glob may match nothing (BuildKit's AllowEmptyWildcard): no error, nothing copied.
    copy_files(Copy(("nope/*.txt", "a.txt"), "/x/"), context, dest)
    assert os.listdir(dest / "x") == ["a.txt"]
    with pytest.raises(ContextError, match="ADD failed"):
        copy_files(Copy(("missing.txt",), "/x", is_add=True), context, dest)


def test_symlinks_inside_are_copied_as_symlinks_and_a_named_one_is_followed(
    context: Path, dest: Path
) -> None:
    copy_files(Copy(("dir",), "/d"), context, dest)
    copy_files(Copy(("alias",), "/followed"), context, dest)
    copy_files(Copy(("alias",), "/kept", follow_symlinks=False), context, dest)
    assert os.readlink(dest / "d" / "link-to-one") == "one.txt"
    assert not (dest / "followed").is_symlink() and (dest / "followed").read_text() == "a\n"
    assert os.readlink(dest / "kept") == "a.txt"


def host_etc() -> str:
    digest = hashlib.sha256()
    for entry in sorted(Path("/etc").iterdir()):
        digest.update(entry.name.encode())
        if entry.is_file() and not entry.is_symlink():
            try:
                digest.update(entry.read_bytes())
            except OSError:
                continue
    return digest.hexdigest()


def test_a_context_symlink_to_etc_resolves_inside_the_context(
    context: Path, dest: Path, tmp_path: Path
) -> None:
    before = host_etc()
    (context / "etclink").symlink_to("/etc")
    with pytest.raises(ContextError, match="not found"):
        copy_files(Copy(("etclink/passwd",), "/x"), context, dest)
    (context / "etc").mkdir()
    (context / "etc" / "passwd").write_text("the context's own\n")
    copy_files(Copy(("etclink/passwd",), "/x"), context, dest)
    copy_files(Copy(("etclink",), "/y/"), context, dest)
    assert (dest / "x").read_text() == "the context's own\n"
    assert sorted(os.listdir(dest / "y")) == ["passwd"]
    assert host_etc() == before
    assert sorted(os.listdir(tmp_path)) == ["context", "dest"]


def test_a_destination_through_an_image_symlink_stays_in_the_destination(
    context: Path, dest: Path, tmp_path: Path
) -> None:
    before = host_etc()
    (dest / "danger").symlink_to("/etc")
    copy_files(Copy(("a.txt",), "/danger/slipway-test-file"), context, dest)
    copy_files(Copy(("b.txt",), "/danger/../../../../escaped"), context, dest)
    copy_files(Copy(("dir",), "/danger/"), context, dest)
    assert (dest / "etc" / "slipway-test-file").read_text() == "a\n"
    assert (dest / "escaped").read_text() == "b\n"
    assert (dest / "etc" / "one.txt").read_text() == "1\n"
    assert not Path("/etc/slipway-test-file").exists() and not Path("/escaped").exists()
    assert host_etc() == before
    assert sorted(os.listdir(tmp_path)) == ["context", "dest"]


def test_an_existing_symlink_at_the_target_is_replaced_not_written_through(
    context: Path, dest: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("untouched\n")
    (dest / "existing" / "a.txt").symlink_to(outside)
    copy_files(Copy(("a.txt",), "/existing/"), context, dest)
    assert not (dest / "existing" / "a.txt").is_symlink()
    assert (dest / "existing" / "a.txt").read_text() == "a\n"
    assert outside.read_text() == "untouched\n"


def test_ownership_is_root_for_the_context_and_kept_for_copies_from_a_stage(
    context: Path, dest: Path
) -> None:
    copy_files(Copy(("dir",), "/context-copy"), context, dest)
    copy_files(Copy(("dir",), "/stage-copy"), context, dest, preserve_owner=True)
    assert owner(dest / "context-copy" / "sub" / "two.txt") == (0, 0)
    assert owner(dest / "context-copy" / "link-to-one") == (0, 0)
    assert owner(dest / "stage-copy" / "sub" / "two.txt") == (1000, 1000)


@pytest.mark.parametrize(
    ("chown", "expected"),
    [
        ("app", (1000, 1000)),
        ("app:staff", (1000, 50)),
        ("42", (42, 42)),
        ("42:43", (42, 43)),
        ("1000:staff", (1000, 50)),
    ],
)
def test_chown_by_name_and_number(context: Path, dest: Path, chown: str, expected: tuple[int, int]) -> None:
    copy_files(Copy(("dir",), "/owned/app", chown=chown), context, dest)
    for path in (dest / "owned" / "app", dest / "owned" / "app" / "sub" / "two.txt", dest / "owned"):
        assert owner(path) == expected, path


def test_chown_of_an_unknown_name_is_an_error(context: Path, dest: Path) -> None:
    with pytest.raises(ContextError, match="unable to find user nobody"):
        copy_files(Copy(("a.txt",), "/x", chown="nobody"), context, dest)
    with pytest.raises(ContextError, match="unable to find group nogroup"):
        copy_files(Copy(("a.txt",), "/x", chown="app:nogroup"), context, dest)


@pytest.mark.parametrize(
    ("chmod", "file_mode", "dir_mode"),
    [("640", 0o640, 0o640), ("u+x,go-r", 0o700, 0o711), ("a=rX", 0o444, 0o555)],
)
def test_chmod_applies_to_copied_files_and_dirs(
    context: Path, dest: Path, chmod: str, file_mode: int, dir_mode: int
) -> None:
    os.chmod(context / "dir" / "sub", 0o755)
    os.chmod(context / "dir" / "sub" / "two.txt", 0o644)
    copy_files(Copy(("dir",), "/m", chmod=chmod), context, dest)
    assert stat.S_IMODE(os.stat(dest / "m" / "sub" / "two.txt").st_mode) == file_mode
    assert stat.S_IMODE(os.stat(dest / "m" / "sub").st_mode) == dir_mode


def test_mtimes_modes_and_hard_links_are_kept(context: Path, dest: Path) -> None:
    os.chmod(context / "a.txt", 0o4755)
    os.link(context / "a.txt", context / "dir" / "hard")
    copy_files(Copy((".",), "/c/"), context, dest)
    assert os.stat(dest / "c" / "b.txt").st_mtime == OLD
    assert stat.S_IMODE(os.stat(dest / "c" / "a.txt").st_mode) == 0o4755
    assert os.stat(dest / "c" / "a.txt").st_ino == os.stat(dest / "c" / "dir" / "hard").st_ino


def test_a_large_directory_copied_by_several_threads_keeps_every_file_and_its_metadata(
    tmp_path: Path, dest: Path
) -> None:
    # More files than one batch, so the thread pool copies most of them; a few hard links among them.
    source = tmp_path / "many"
    expected = {}
    for number in range(300):
        path = source / f"d{number % 3}" / f"f{number:03d}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(bytes([number % 256]) * (number * 37))
        os.chmod(path, 0o600 + (number % 2) * 0o155)
        os.setxattr(path, "user.number", str(number).encode())
        os.utime(path, (OLD + number, OLD + number))
        expected[f"d{number % 3}/f{number:03d}"] = path
    os.link(source / "d0" / "f000", source / "d0" / "hard-a")
    os.link(source / "d0" / "f000", source / "d1" / "hard-b")
    for directory in source.iterdir():
        os.utime(directory, (OLD, OLD))

    copy_files(Copy(("many",), "/copied"), tmp_path, dest, preserve_owner=False)

    for relative, original in expected.items():
        copied, info = dest / "copied" / relative, original.stat()
        assert copied.read_bytes() == original.read_bytes(), relative
        assert os.stat(copied).st_mode == info.st_mode, relative
        assert os.stat(copied).st_mtime == info.st_mtime, relative
        assert owner(copied) == (0, 0), relative
        assert os.getxattr(copied, "user.number") == os.getxattr(original, "user.number"), relative
    links = {os.stat(dest / "copied" / name).st_ino for name in ("d0/f000", "d0/hard-a", "d1/hard-b")}
    assert len(links) == 1
    # Every file was in place before its directory's times were set.
    assert {os.stat(path).st_mtime for path in (dest / "copied").iterdir()} == {OLD}


def test_excluded_paths_are_invisible_and_an_exception_below_an_excluded_dir_is_copied(
    context: Path, dest: Path
) -> None:
    # As .dockerignore "other" + "!other/sub/three.txt" + "*.md": the predicate answers for every path.
    def is_excluded(path: str) -> bool:
        if path == "other/sub/three.txt":
            return False
        return path.endswith(".md") or path == "other" or path.startswith("other/")

    copy_files(Copy((".",), "/c/"), context, dest, is_excluded=is_excluded)
    copied = tree(dest / "c")
    assert "c.md" not in copied and "a.txt" in copied
    assert copied["other/sub/three.txt"] == "f 3\n"
    with pytest.raises(ContextError, match="not found"):
        copy_files(Copy(("c.md",), "/x"), context, dest, is_excluded=is_excluded)


def test_exclude_patterns_are_relative_to_each_source(context: Path, dest: Path) -> None:
    # BuildKit's ExcludePatterns: `--exclude=*.txt dir* /x/` hides dir/one.txt (one.txt in its source).
    def exclude(path: str) -> bool:
        return path.endswith(".txt") and "/" not in path

    copy_files(Copy(("di*",), "/x/"), context, dest, exclude=exclude)
    assert tree(dest / "x") == {"link-to-one": "l one.txt", "sub": "d", "sub/two.txt": "f 2\n"}
    copy_files(Copy(("di*",), "/all/"), context, dest, exclude=lambda _path: True)
    assert tree(dest / "all") == {}  # everything excluded: an empty copy, no error


def test_a_directory_source_fills_a_new_dir_owned_by_the_copy(context: Path, dest: Path) -> None:
    # The destination BuildKit makes for a directory's contents is its own (0:0, 0755), not the source dir's.
    os.chmod(context / "dir", 0o700)
    copy_files(Copy(("dir",), "/made"), context, dest, preserve_owner=True)
    info = os.stat(dest / "made")
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (0, 0, 0o755)
    assert owner(dest / "made" / "one.txt") == (1000, 1000)


def test_a_socket_of_the_context_arrives_as_an_empty_file(context: Path, dest: Path) -> None:
    import socket

    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(context / "sock"))
        copy_files(Copy(("sock",), "/from-context"), context, dest, from_context=True)
        copy_files(Copy(("sock",), "/from-stage"), context, dest, preserve_owner=True)
    assert stat.S_ISREG(os.lstat(dest / "from-context").st_mode)
    assert os.lstat(dest / "from-context").st_size == 0
    assert stat.S_ISSOCK(os.lstat(dest / "from-stage").st_mode)


def test_parents_keeps_the_source_paths(context: Path, dest: Path) -> None:
    copy_files(Copy(("dir/sub/two.txt", "other"), "/p/", parents=True), context, dest)
    copy_files(Copy(("dir/./sub/*.txt",), "/pivot/", parents=True), context, dest)
    assert (dest / "p" / "dir" / "sub" / "two.txt").read_text() == "2\n"
    assert (dest / "p" / "other" / "sub" / "three.txt").read_text() == "3\n"
    assert tree(dest / "pivot") == {"sub": "d", "sub/two.txt": "f 2\n"}


def archive_bytes(entries: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for info, data in entries:
            if data is not None:
                info.size = len(data)
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def entry(
    name: str, kind: bytes = tarfile.REGTYPE, *, link: str = "", mode: int = 0o644, uid: int = 0
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode, info.uid, info.gid, info.mtime = kind, link, mode, uid, uid, OLD
    return info


SIMPLE_ARCHIVE = [
    (entry("./", tarfile.DIRTYPE, mode=0o700), None),
    (entry("pkg/", tarfile.DIRTYPE, mode=0o750, uid=1000), None),
    (entry("pkg/tool", mode=0o755, uid=1000), b"#!/bin/sh\n"),
    (entry("pkg/alias", tarfile.SYMTYPE, link="tool"), None),
]
COMPRESSORS = {
    "tar": lambda data: data,
    "tar.gz": gzip.compress,
    "tar.bz2": bz2.compress,
    "tar.xz": lzma.compress,
    "tar.zst": lambda data: zstandard.ZstdCompressor().compress(data),
}


@pytest.mark.parametrize("suffix", sorted(COMPRESSORS))
def test_add_unpacks_a_local_archive_detected_by_content(context: Path, dest: Path, suffix: str) -> None:
    (context / "bundle.bin").write_bytes(COMPRESSORS[suffix](archive_bytes(SIMPLE_ARCHIVE)))
    copy_files(Copy(("bundle.bin",), "/opt", is_add=True), context, dest)
    assert tree(dest / "opt") == {"pkg": "d", "pkg/alias": "l tool", "pkg/tool": "f #!/bin/sh\n"}
    assert owner(dest / "opt" / "pkg" / "tool") == (1000, 1000)
    assert stat.S_IMODE(os.stat(dest / "opt" / "pkg").st_mode) == 0o750
    assert os.stat(dest / "opt" / "pkg").st_mtime == OLD
    assert stat.S_IMODE(os.stat(dest / "opt").st_mode) == 0o755, "the destination keeps its own mode"


def test_add_with_chown_owns_what_it_unpacks(context: Path, dest: Path) -> None:
    (context / "bundle.tgz").write_bytes(gzip.compress(archive_bytes(SIMPLE_ARCHIVE)))
    copy_files(Copy(("bundle.tgz",), "/opt/", is_add=True, chown="42:43"), context, dest)
    assert owner(dest / "opt" / "pkg" / "tool") == (42, 43)


def test_what_is_not_unpacked(context: Path, dest: Path) -> None:
    (context / "bundle.tgz").write_bytes(gzip.compress(archive_bytes(SIMPLE_ARCHIVE)))
    (context / "notes.gz").write_bytes(gzip.compress(b"just text, not a tar\n"))
    copy_files(Copy(("bundle.tgz",), "/copied/"), context, dest)
    copy_files(Copy(("bundle.tgz",), "/kept/", is_add=True, unpack=False), context, dest)
    copy_files(Copy(("bundle.tgz",), "/remote/", is_add=True), context, dest, remote=True)
    copy_files(Copy(("notes.gz",), "/notes/", is_add=True), context, dest)
    for directory in ("copied", "kept", "remote"):
        assert sorted(os.listdir(dest / directory)) == ["bundle.tgz"]
    assert sorted(os.listdir(dest / "notes")) == ["notes.gz"]


def test_an_archive_entry_leaving_the_destination_is_refused(
    context: Path, dest: Path, tmp_path: Path
) -> None:
    (context / "evil.tar").write_bytes(archive_bytes([(entry("../../evil.txt"), b"evil\n")]))
    with pytest.raises(ArchiveError, match="outside"):
        copy_files(Copy(("evil.tar",), "/opt/", is_add=True), context, dest)
    assert not (tmp_path / "evil.txt").exists() and not (dest / "evil.txt").exists()


def test_archive_symlinks_resolve_inside_the_destination(context: Path, dest: Path, tmp_path: Path) -> None:
    before = host_etc()
    entries = [
        (entry("root-link", tarfile.SYMTYPE, link="/"), None),
        (entry("root-link/etc/slipway-evil"), b"evil\n"),
        (entry("up-link", tarfile.SYMTYPE, link="../../../../.."), None),
        (entry("up-link/slipway-evil-up"), b"evil\n"),
        (entry("hard", tarfile.LNKTYPE, link="/root-link/etc/slipway-evil"), None),
    ]
    (context / "evil.tar").write_bytes(archive_bytes(entries))
    copy_files(Copy(("evil.tar",), "/opt/", is_add=True), context, dest)
    assert (dest / "opt" / "etc" / "slipway-evil").read_text() == "evil\n"
    assert (dest / "opt" / "slipway-evil-up").read_text() == "evil\n"
    assert (dest / "opt" / "hard").read_text() == "evil\n"
    assert host_etc() == before
    assert not Path("/slipway-evil-up").exists()
    assert sorted(os.listdir(tmp_path)) == ["context", "dest"]


def test_a_truncated_archive_is_an_archive_error(context: Path, dest: Path) -> None:
    data = gzip.compress(archive_bytes([(entry("big"), b"x" * 100_000)]))
    (context / "cut.tgz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ArchiveError, match=r"cut\.tgz"):
        copy_files(Copy(("cut.tgz",), "/opt/", is_add=True), context, dest)


def test_make_directory(dest: Path) -> None:
    make_directory(Mkdir("/work/dir"), dest)
    make_directory(Mkdir("/home/app/project", chown="app"), dest)
    make_directory(Mkdir("/work/dir", chown="app"), dest)  # exists: left as it is
    assert (dest / "work" / "dir").is_dir() and owner(dest / "work" / "dir") == (0, 0)
    assert owner(dest / "home" / "app" / "project") == (1000, 1000)
    assert stat.S_IMODE(os.stat(dest / "home").st_mode) == 0o755
    (dest / "file").write_text("x")
    with pytest.raises(ContextError, match="not a directory"):
        make_directory(Mkdir("/file"), dest)


def test_a_context_on_another_file_system_is_copied_whole_and_the_copy_method_is_chosen_once(
    dest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A context on a tmpfs copied into a snapshot on the store's file system: copy_file_range cannot cross
    them (EXDEV), so after the first file the rest go straight to sendfile, not one failed call per file; and
    by no more threads than cores (more only hand the GIL to each other at every system call)."""
    shm = Path("/dev/shm")
    if os.stat(shm).st_dev == os.stat(dest).st_dev:
        pytest.skip("/dev/shm is on the same file system as the test's tmp dir")
    source = Path(tempfile.mkdtemp(dir=shm))
    try:
        contents = {f"f{index:03}.bin": os.urandom(index * 37 + 1) for index in range(600)}
        for name, data in contents.items():
            (source / "tree" / name).parent.mkdir(exist_ok=True)
            (source / "tree" / name).write_bytes(data)
        calls = []
        real = os.copy_file_range
        real_sendfile = os.sendfile
        senders = set()

        def counted(*args: int) -> int:
            calls.append(args)
            return real(*args)

        def sendfile(*args: int) -> int:
            senders.add(threading.current_thread().name)
            return real_sendfile(*args)

        monkeypatch.setattr(os, "copy_file_range", counted)
        monkeypatch.setattr(os, "sendfile", sendfile)
        copy_files(Copy(sources=("tree",), dest="/tree/"), source, dest)
        assert {path.name: path.read_bytes() for path in (dest / "tree").iterdir()} == contents
        assert len(calls) == 1
        assert 1 <= len(senders - {threading.main_thread().name}) <= worker_threads()
    finally:
        shutil.rmtree(source)
