"""Build secrets: `--secret id=ID[,src=FILE|,env=VAR][,type=file|env]`, as docker buildx reads it, and their
values, read once when the build starts and kept in memory only.

A secret's value reaches a RUN through a private tmpfs (worker/secret_mounts.py) or the process environment;
it is never part of a cache key, a layer, the build memo or a progress event. Standard library only: the
command line reads these flags before it knows whether a memo answers the build.
"""

import os
from collections.abc import Mapping
from typing import Literal, NamedTuple

from slipway._fields import BadFields, key_value, split_fields

__all__ = ["MAX_SECRET_BYTES", "SecretSource", "SecretValues", "parse_secret", "read_secrets"]

# BuildKit's secretsprovider.MaxSecretSize: a secret is a token or a key file, not a data set.
MAX_SECRET_BYTES = 500 * 1024


class SecretSource(NamedTuple):
    """Where the value of secret `id` comes from: a file or an environment variable (exactly one is set)."""

    id: str
    file: str | None = None
    env: str | None = None
    flag: str = ""  # the --secret value as given, for messages

    def describe(self) -> str:
        return f"--secret {self.flag or 'id=' + self.id}"


class SecretValues:
    """The secrets of one build by id; never printed (repr shows the ids only)."""

    __slots__ = ("_values",)

    def __init__(self, values: dict[str, bytes] | None = None) -> None:
        self._values = dict(values or {})

    def get(self, secret_id: str) -> bytes | None:
        return self._values.get(secret_id)

    def ids(self) -> tuple[str, ...]:
        return tuple(sorted(self._values))

    def __repr__(self) -> str:
        return f"SecretValues(ids={self.ids()!r})"


def parse_secret(text: str, environ: Mapping[str, str]) -> SecretSource:
    """One --secret value, by buildx's rules: `id=` names it; `src=`/`source=` a file or `env=` a variable;
    `type=env` makes `src=` a variable's name; with neither, the variable named ID if it is set, else the file
    named ID."""
    try:
        written = split_fields(text)
    except BadFields as err:
        raise _error(f"--secret {text!r}: cannot read its comma-separated fields ({err})") from None
    fields: dict[str, str] = {}
    kind: Literal["file", "env", ""] = ""
    for field in written:
        pair = key_value(field)
        if pair is None:
            raise _error(f"--secret {text!r}: invalid field {field!r}: it must be a key=value pair")
        key, value = pair
        if key == "type":
            if value not in ("file", "env"):
                raise _error(f"--secret {text!r}: unsupported secret type {value!r}; use file or env")
            kind = "file" if value == "file" else "env"
        elif key in ("id", "src", "source", "env"):
            fields["src" if key == "source" else key] = value
        else:
            raise _error(f"--secret {text!r}: unexpected key {key!r}; keys are id, src, env and type")
    secret_id, file, env = fields.get("id", ""), fields.get("src") or None, fields.get("env") or None
    if not secret_id:
        raise _error(f"--secret {text!r}: secret missing ID: name it with id=ID")
    if kind == "env" and env is None:
        env, file = file or secret_id, None
    if file is None and env is None:
        env, file = (secret_id, None) if kind != "file" and secret_id in environ else (None, secret_id)
    if file is not None and env is not None:
        raise _error(f"--secret {text!r}: give src= (a file) or env= (a variable), not both")
    return SecretSource(secret_id, file, env, text)


def read_secrets(sources: tuple[SecretSource, ...], environ: Mapping[str, str]) -> SecretValues:
    """Every secret's value, read now; a file that cannot be read is one line naming its flag."""
    values: dict[str, bytes] = {}
    for source in sources:
        if source.id in values:
            raise _error(f"{source.describe()}: secret {source.id!r} is given twice")
        if source.env is not None:
            # As BuildKit: a variable that is not set is an empty secret.
            values[source.id] = os.fsencode(environ.get(source.env, ""))
        else:
            assert source.file is not None
            values[source.id] = _read_secret_file(source, source.file)
    return SecretValues(values)


def _read_secret_file(source: SecretSource, path: str) -> bytes:
    try:
        # Followed if a symlink: the path is the user's own, as `docker buildx build` takes it. A FIFO
        # (src=/dev/stdin) is read as it comes.
        with open(path, "rb") as stream:
            data = stream.read(MAX_SECRET_BYTES + 1)
    except OSError as err:
        raise _error(f"{source.describe()}: cannot read {path}: {err.strerror or err}") from None
    if len(data) > MAX_SECRET_BYTES:
        raise _error(
            f"{source.describe()}: secret {source.id} too big. max size {MAX_SECRET_BYTES // 1024}KB"
        )
    return data


def _error(message: str) -> Exception:
    from slipway.errors import SecretError  # only for the error: slipway.errors imports dataclasses

    return SecretError(message)
