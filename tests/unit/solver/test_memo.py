"""The memo plan: which request a memo answers (its key, pinned) and what the build read (its fingerprint)."""

from __future__ import annotations

from pathlib import Path

from slipway.solver.memo import MEMO_KEY_VERSION, fingerprint, may_memoize, plan_memo, request_key


def test_remote_add_is_never_memoized() -> None:
    assert may_memoize("FROM a\nADD local.tar /x\nCOPY . /y\n")
    assert not may_memoize("FROM a\nADD https://example.invalid/f /f\n")
    assert not may_memoize("FROM a\nadd --chmod=644 git@example.invalid:o/r.git /src\n")
    assert not may_memoize("FROM a\nONBUILD ADD http://example.invalid/x /x\n")


def test_request_key_covers_every_option() -> None:
    base = {"tags": ("a:1",), "build_args": (("A", "1"),)}
    assert request_key(base) == request_key(dict(base))
    assert request_key(base) != request_key({**base, "build_args": (("A", "2"),)})
    assert request_key(base) != request_key({**base, "context": "/other"})


def test_the_request_key_is_pinned() -> None:
    """A memo written by one slipway is found by the next only if the key is computed the same way: a change
    here must come with a new MEMO_KEY_VERSION (and a new golden value)."""
    request = {
        "tags": ("app:1",), "target": None, "build_args": (("A", "1"),), "labels": (), "network": "default",
        "platform": "linux/amd64", "compression": None, "source_date_epoch": None, "pull": "missing",
        "context": "/src/app", "dockerfile": "/src/app/Dockerfile",
    }  # fmt: skip
    assert MEMO_KEY_VERSION == 2
    assert request_key(request) == "0e915bfca93c469e8cd388d187bc0c3232f2f3a06256dcd7d9806ad3502fd81c"


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


def test_a_piped_dockerfile_is_planned_apart_from_a_file_named_dash(tmp_path: Path) -> None:
    context = tmp_path / "ctx"
    context.mkdir()
    (tmp_path / "-").write_text("FROM scratch\nCOPY a /a\n")
    from_file = plan_memo(context, tmp_path / "-", None, {})
    piped = plan_memo(context, None, "FROM scratch\nCOPY a /a\n", {})
    assert from_file is not None and piped is not None
    assert from_file.key != piped.key


def test_no_plan_for_what_the_build_must_report(tmp_path: Path) -> None:
    assert plan_memo(tmp_path / "missing", None, None, {}) is None
    assert plan_memo(tmp_path, None, None, {}) is None, "no Dockerfile: the build names it"
    assert plan_memo(tmp_path, None, "FROM a\nADD https://example.invalid/f /f\n", {}) is None
