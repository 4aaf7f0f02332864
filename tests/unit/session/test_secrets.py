"""--secret's grammar (docker buildx's) and the reading of values."""

from __future__ import annotations

from pathlib import Path

import pytest

from slipway.errors import SecretError
from slipway.session.secrets import MAX_SECRET_BYTES, SecretSource, parse_secret, read_secrets


@pytest.mark.parametrize(
    ("text", "environ", "expected"),
    [
        ("id=npmrc,src=/home/u/.npmrc", {}, ("npmrc", "/home/u/.npmrc", None)),
        ("id=npmrc,source=rel/file", {}, ("npmrc", "rel/file", None)),
        ("id=token,env=GH_TOKEN", {}, ("token", None, "GH_TOKEN")),
        ("id=token,type=env,src=GH_TOKEN", {}, ("token", None, "GH_TOKEN")),
        ("id=token,type=env", {}, ("token", None, "token")),
        ("id=TOKEN", {"TOKEN": "x"}, ("TOKEN", None, "TOKEN")),  # the variable when it is set...
        ("id=TOKEN", {}, ("TOKEN", "TOKEN", None)),  # ...else the file of that name
        ("id=TOKEN,type=file", {"TOKEN": "x"}, ("TOKEN", "TOKEN", None)),
        ('"id=a,b",src=f', {}, ("a,b", "f", None)),  # CSV quoting, as buildx reads the value
    ],
)
def test_parse_secret(
    text: str, environ: dict[str, str], expected: tuple[str, str | None, str | None]
) -> None:
    parsed = parse_secret(text, environ)
    assert (parsed.id, parsed.file, parsed.env) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("src=/x", "secret missing ID"),
        ("id=a,type=ssh", "unsupported secret type"),
        ("id=a,mode=0400", "unexpected key 'mode'"),
        ("id=a,src", "must be a key=value pair"),
        ("id=a,src=f,env=V", "not both"),
    ],
)
def test_bad_secret_flags(text: str, message: str) -> None:
    with pytest.raises(SecretError, match=message) as caught:
        parse_secret(text, {})
    assert str(caught.value).startswith(f"--secret {text!r}")


def test_read_secrets_from_files_and_variables(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"\x00binary\xff")
    values = read_secrets(
        (
            SecretSource("a", file=str(tmp_path / "f")),
            SecretSource("b", env="B"),
            SecretSource("c", env="UNSET"),
        ),
        {"B": "from-env"},
    )
    assert values.get("a") == b"\x00binary\xff"
    assert values.get("b") == b"from-env"
    assert values.get("c") == b""  # BuildKit: a variable that is not set is an empty secret
    assert values.get("d") is None
    assert "binary" not in repr(values) and "from-env" not in repr(values)


def test_unreadable_or_oversized_secret_names_its_flag(tmp_path: Path) -> None:
    with pytest.raises(SecretError, match=r"^--secret id=a,src=.*/missing: cannot read .*: No such file"):
        read_secrets((parse_secret(f"id=a,src={tmp_path / 'missing'}", {}),), {})
    with pytest.raises(SecretError, match="Is a directory"):
        read_secrets((parse_secret(f"id=a,src={tmp_path}", {}),), {})
    (tmp_path / "big").write_bytes(b"x" * (MAX_SECRET_BYTES + 1))
    with pytest.raises(SecretError, match="too big"):
        read_secrets((parse_secret(f"id=a,src={tmp_path / 'big'}", {}),), {})
    (tmp_path / "edge").write_bytes(b"x" * MAX_SECRET_BYTES)
    assert (
        len(read_secrets((SecretSource("a", file=str(tmp_path / "edge")),), {}).get("a") or b"")
        == MAX_SECRET_BYTES
    )
    with pytest.raises(SecretError, match="given twice"):
        read_secrets((SecretSource("a", env="X"), SecretSource("a", env="Y")), {})
