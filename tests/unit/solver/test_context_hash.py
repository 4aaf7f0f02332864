import os
from pathlib import Path

from slipway.solver.context_hash import FileHashCache, hash_selection, selection_roots


def test_globs_widen_the_selection_to_the_directory_above() -> None:
    assert selection_roots(["src/*.go", "./README.md", "/etc/x", "a/[ab]/c"]) == [
        "README.md",
        "a",
        "etc/x",
        "src",
    ]
    assert selection_roots(["."]) == [""]


def test_content_not_mtime_decides(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("one")
    cache = FileHashCache()
    first = hash_selection(tmp_path, ["a.txt"], cache=cache)
    os.utime(tmp_path / "a.txt", (1, 1))
    assert hash_selection(tmp_path, ["a.txt"], cache=FileHashCache()) == first
    (tmp_path / "a.txt").write_text("two")
    assert hash_selection(tmp_path, ["a.txt"], cache=FileHashCache()) != first


def test_a_file_a_glob_does_not_match_changes_no_key(tmp_path: Path) -> None:
    # BuildKit checksums a wildcard's matches (testCopyWildcardCache): `COPY foo*` ignores bar.
    for name in ("foo1", "foo2", "bar"):
        (tmp_path / name).write_text(name)
    first = hash_selection(tmp_path, ["foo*"], cache=FileHashCache())
    (tmp_path / "bar").write_text("changed")
    (tmp_path / "other").write_text("new")
    assert hash_selection(tmp_path, ["foo*"], cache=FileHashCache()) == first
    (tmp_path / "foo3").write_text("a new match")
    second = hash_selection(tmp_path, ["foo*"], cache=FileHashCache())
    assert second != first
    (tmp_path / "foo2").write_text("changed")
    assert hash_selection(tmp_path, ["foo*"], cache=FileHashCache()) != second


def test_excluded_files_do_not_count(tmp_path: Path) -> None:
    (tmp_path / "keep").write_text("k")
    (tmp_path / "skip").write_text("s")
    excluded = {"skip"}.__contains__
    first = hash_selection(tmp_path, ["."], cache=FileHashCache(), is_excluded=excluded)
    (tmp_path / "skip").write_text("changed")
    assert hash_selection(tmp_path, ["."], cache=FileHashCache(), is_excluded=excluded) == first


def test_the_cache_file_is_reused_and_bounded(tmp_path: Path) -> None:
    store = tmp_path / "hashes.msgpack"
    files = []
    for index in range(6):
        path = tmp_path / f"f{index}"
        path.write_text(str(index))
        files.append(path)
    cache = FileHashCache(store, limit=10)
    for path in files[:5]:
        cache.file_hash(path, path.stat())
    cache.save()

    again = FileHashCache(store, limit=3)
    again.file_hash(files[4], files[4].stat())
    assert not again._dirty, "a known file is not read again"
    again.file_hash(files[5], files[5].stat())  # a new file: the cache is saved, and trimmed
    again.save()
    kept = FileHashCache(store)._known()
    assert len(kept) == 3, "this build's two entries and the newest other one"
    assert {key[1] for key in kept} >= {files[4].stat().st_ino, files[5].stat().st_ino}
