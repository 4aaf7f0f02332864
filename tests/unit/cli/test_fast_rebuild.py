"""The fast rebuild's reading of `slipway build` arguments: what it takes, and that it leaves the rest to click."""

from __future__ import annotations

import pytest

from slipway.fast_rebuild import _parse


def test_the_common_form_in_any_order_and_spelling() -> None:
    parsed = _parse(["--root", "/r", "build", "--progress", "plain", "-t", "a:1", "--tag=b", "-tc", ".",
                     "--network=host", "-f", "Dockerfile.x", "-q"])  # fmt: skip
    assert parsed is not None
    root, values, quiet, context = parsed
    assert (root, quiet, context) == ("/r", True, ".")
    assert values["tags"] == ["a:1", "b", "c"]
    assert values["file"] == ["Dockerfile.x"]
    assert values["progress"] == ["plain"]
    assert values["network"] == ["host"]


def test_an_attached_short_value_is_taken_whole_as_click_takes_it() -> None:
    parsed = _parse(["build", "-t=odd", "ctx"])
    assert parsed is not None and parsed[1]["tags"] == ["=odd"]


@pytest.mark.parametrize(
    "argv",
    [
        ["build", "--no-cache", "."],
        ["build", "--build-arg", "A=1", "."],
        ["build", "--push", "-t", "x", "."],
        ["build", "-o", "out", "."],
        ["build", "-qt", "x", "."],
        ["build", ".", "second"],
        ["build"],
        ["build", "-t"],
        ["build", "--progress", "fancy", "."],
        ["build", "--network", "bridge", "."],
        ["build", "--", "."],
        ["--debug", "build", "."],
        ["--version"],
        ["images"],
        ["build", "--root", "/r", "."],
    ],
)
def test_anything_else_is_left_to_click(argv: list[str]) -> None:
    assert _parse(argv) is None
