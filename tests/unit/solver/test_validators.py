"""URL validators: what a server said of a download, kept between builds in one small file."""

from __future__ import annotations

from pathlib import Path

from slipway.solver import validators
from slipway.solver.validators import Validator, Validators


def test_validators_survive_a_save_and_a_new_reader(tmp_path: Path) -> None:
    path = tmp_path / "cache" / "url-validators.msgpack"
    first = Validators(path)
    assert first.get("sha256:a") is None
    first.put("sha256:a", Validator('"v1"', None, "sha256:key1"))
    first.save()
    again = Validators(path)
    assert again.get("sha256:a") == Validator('"v1"', None, "sha256:key1")


def test_the_newest_are_kept_past_the_limit(tmp_path: Path, monkeypatch: object) -> None:
    path = tmp_path / "validators"
    many = Validators(path)
    for number in range(validators.LIMIT + 5):
        many.put(f"url{number}", Validator(None, "Mon, 01 Jan 2024 00:00:00 GMT", f"key{number}"))
    many.save()
    kept = Validators(path)
    assert kept.get("url0") is None
    assert kept.get(f"url{validators.LIMIT + 4}") is not None


def test_a_damaged_file_costs_only_downloads(tmp_path: Path) -> None:
    path = tmp_path / "validators"
    path.write_bytes(b"\xff not msgpack")
    assert Validators(path).get("anything") is None
