from pathlib import Path

from slipway.build_memo import Memo, MemoStep, fingerprint, may_memoize, read_memo, request_key, write_memo


def test_remote_add_is_never_memoized() -> None:
    assert may_memoize("FROM a\nADD local.tar /x\nCOPY . /y\n")
    assert not may_memoize("FROM a\nADD https://example.invalid/f /f\n")
    assert not may_memoize("FROM a\nadd --chmod=644 git@example.invalid:o/r.git /src\n")
    assert not may_memoize("FROM a\nONBUILD ADD http://example.invalid/x /x\n")


def test_request_key_covers_every_option() -> None:
    root = Path("/store")
    base = {"tags": ("a:1",), "build_args": (("A", "1"),)}
    assert request_key(root, base) == request_key(root, dict(base))
    assert request_key(root, base) != request_key(root, {**base, "build_args": (("A", "2"),)})
    assert request_key(root, base) != request_key(Path("/other"), base)


def test_fingerprint_sees_content_metadata_and_ignore_files(tmp_path: Path) -> None:
    context = tmp_path / "ctx"
    (context / "sub").mkdir(parents=True)
    (context / "sub" / "f").write_text("x")
    ignore = context / ".dockerignore"
    first = fingerprint("FROM a", [ignore], context)
    assert first == fingerprint("FROM a", [ignore], context)
    assert first != fingerprint("FROM b", [ignore], context)
    (context / "sub" / "f").write_text("y")
    second = fingerprint("FROM a", [ignore], context)
    assert second != first
    ignore.write_text("sub\n")
    assert fingerprint("FROM a", [ignore], context) != second


def test_a_memo_without_its_store_is_not_trusted(tmp_path: Path) -> None:
    memo = Memo(
        image_id="sha256:" + "a" * 64, names=(), bases=(), steps=(MemoStep("v", "[1/1] RUN x", "step"),)
    )
    write_memo(tmp_path, "key", "print", memo)
    assert read_memo(tmp_path, "key", "print") is None, "no meta.db: the image cannot be confirmed"
    assert read_memo(tmp_path, "key", "other") is None
