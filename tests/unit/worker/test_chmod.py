"""COPY --chmod: octal and chmod(1)'s symbolic modes."""

from __future__ import annotations

import pytest

from slipway.errors import ContextError
from slipway.worker._chmod import parse_chmod


@pytest.mark.parametrize(
    ("text", "mode", "is_dir", "expected"),
    [
        ("755", 0o600, False, 0o755),
        ("0640", 0o777, True, 0o640),
        ("4755", 0o644, False, 0o4755),
        ("u+x", 0o644, False, 0o744),
        ("+x", 0o644, False, 0o755),
        ("go-w", 0o666, False, 0o644),
        ("a=r", 0o755, False, 0o444),
        ("a=rX", 0o644, False, 0o444),
        ("a=rX", 0o744, False, 0o555),
        ("a=rX", 0o700, True, 0o555),
        ("u=rw,g=u,o=", 0o777, False, 0o660),
        ("u+s", 0o755, False, 0o4755),
        ("g+s", 0o755, True, 0o2755),
        ("o+t", 0o777, True, 0o1777),
        ("u=rwx", 0o4755, True, 0o4755),
        ("u=rwx", 0o4755, False, 0o755),
        ("u+x-w", 0o644, False, 0o544),
    ],
)
def test_modes(text: str, mode: int, is_dir: bool, expected: int) -> None:
    assert oct(parse_chmod(text)(mode, is_dir)) == oct(expected)


@pytest.mark.parametrize("text", ["888", "u+q", "x+r", "u", "755,", "12345"])
def test_invalid_modes_are_context_errors(text: str) -> None:
    with pytest.raises(ContextError, match="--chmod"):
        parse_chmod(text)
