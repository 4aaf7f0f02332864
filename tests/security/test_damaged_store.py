"""A damaged store (a garbage or truncated meta.db, a truncated layer blob) and impossible destinations give
one clear error line and a non-zero exit from every command, never a traceback; `system check` reports the
damage instead of crashing."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from _store_helpers import Slipway, describe, make_busybox_tar, make_context

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def busybox_tar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_busybox_tar(tmp_path_factory.mktemp("busybox"))


@pytest.fixture
def slipway(tmp_path: Path, busybox_tar: Path) -> Slipway:
    store = Slipway(tmp_path / "store")
    store.ok("import", str(busybox_tar), "busybox:test")
    return store


def assert_one_error(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert result.returncode != 0, describe(result)
    assert "Traceback" not in result.stderr + result.stdout, describe(result)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, describe(result)
    for text in expected:
        assert text in errors[0], describe(result)


def commands(tmp_path: Path, busybox_tar: Path) -> list[tuple[str, ...]]:
    context = make_context(tmp_path / "ctx", "FROM busybox:test\nRUN true\n")
    return [
        ("images",),
        ("inspect", "busybox:test"),
        ("history", "busybox:test"),
        ("tag", "busybox:test", "other:1"),
        ("rmi", "busybox:test"),
        ("save", "-o", str(tmp_path / "out.tar"), "busybox:test"),
        ("import", str(busybox_tar), "again:1"),
        ("build", "-t", "built:1", str(context)),
        ("run", "--rm", "busybox:test", "true"),
        ("system", "df"),
        ("image", "prune", "-af"),
        ("builder", "prune", "-af"),
        ("system", "prune", "-af"),
    ]


def keep_first(path: Path, size: int) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:size])


@pytest.mark.parametrize(
    "damage",
    ["garbage", "truncated-to-a-page", "truncated-to-half"],
)
def test_a_damaged_meta_db_is_one_clear_error_everywhere(
    slipway: Slipway, tmp_path: Path, busybox_tar: Path, damage: str
) -> None:
    meta = slipway.root / "meta.db"
    if damage == "garbage":
        meta.write_bytes(os.urandom(meta.stat().st_size))
    else:
        keep_first(meta, 4096 if damage == "truncated-to-a-page" else meta.stat().st_size // 2)
    damaged = f"the store's metadata at {meta} is damaged"

    for command in commands(tmp_path, busybox_tar):
        assert_one_error(slipway(*command), damaged)
    check = slipway("system", "check")
    assert check.returncode == 1 and "Traceback" not in check.stderr, describe(check)
    assert damaged in check.stdout
    assert not (tmp_path / "out.tar").exists()


def test_a_meta_db_that_is_not_a_file_is_one_clear_error(slipway: Slipway) -> None:
    meta = slipway.root / "meta.db"
    meta.unlink()
    meta.mkdir()
    assert_one_error(slipway("images"), str(meta))


def test_a_truncated_layer_blob_is_one_clear_error(slipway: Slipway, tmp_path: Path) -> None:
    layer = next(
        path for path in (slipway.root / "blobs" / "sha256").iterdir() if path.stat().st_size > 100_000
    )
    layer.chmod(0o644)
    keep_first(layer, layer.stat().st_size // 2)

    assert_one_error(slipway("run", "--rm", "busybox:test", "true"), "truncated")
    assert_one_error(slipway("save", "-o", str(tmp_path / "out.tar"), "busybox:test"), "is corrupt")
    assert not (tmp_path / "out.tar").exists()


@pytest.mark.parametrize("destination", ["/proc/self", "/proc/self/status", "directory", "file/under"])
def test_save_to_a_destination_that_cannot_be_a_file(
    slipway: Slipway, tmp_path: Path, destination: str
) -> None:
    (tmp_path / "directory").mkdir()
    (tmp_path / "file").write_text("a file, not a directory")
    target = destination if destination.startswith("/") else str(tmp_path / destination)
    before = sorted(os.listdir(tmp_path))

    assert_one_error(slipway("save", "-o", target, "busybox:test"), f"cannot write {target}")
    assert sorted(os.listdir(tmp_path)) == before
    assert os.listdir(tmp_path / "directory") == []
