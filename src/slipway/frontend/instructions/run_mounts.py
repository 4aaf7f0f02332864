"""RUN --mount (BuildKit's instructions/commands_runmount.go): the CSV `key=value` fields, checked as
written, read once expanded."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

import msgspec

from slipway._fields import BadFields, split_fields
from slipway.frontend._golang import go_quote
from slipway.frontend._suggest import did_you_mean
from slipway.frontend.instructions.commands import InvalidValue
from slipway.frontend.instructions.values import parse_ram_bytes

MountType = Literal["bind", "cache", "tmpfs", "secret", "ssh"]

Sharing = Literal["shared", "private", "locked"]

# In BuildKit's order: the first of two equally close names is the one suggested.
_MOUNT_KEYS = (
    *("type", "from", "source", "target", "readonly", "id", "sharing", "required", "size", "mode", "uid"),
    *("gid", "src", "dst", "destination", "ro", "rw", "readwrite", "env"),
)

_MOUNT_TYPES = ("bind", "cache", "tmpfs", "secret", "ssh")

_SHARING_MODES = ("shared", "private", "locked")

_FROM_VARIABLE = "'from' doesn't support variable expansion, define alias stage instead"


class MountSpec(msgspec.Struct, frozen=True):
    """One RUN --mount after expansion, with BuildKit's defaults for what it left out."""

    type: MountType = "bind"
    target: str = ""
    source: str = ""
    from_ref: str = ""  # stage name, stage index or image reference; "" is the build context
    readonly: bool = True
    id: str = ""
    sharing: Sharing | None = None
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    size: int | None = None
    required: bool = False
    env: str | None = None


def check_mount(text: str) -> None:
    """Check a --mount as far as possible before expansion: all of it when it holds no variable."""
    if "$" not in text:
        parse_mount(text, lambda word: word)
        return
    for field in _mount_fields(text):
        key, has_value, value = field.partition("=")
        key = key.lower()
        if key not in _MOUNT_KEYS:
            raise InvalidValue(_unknown_mount_key(key, field))
        if key == "from" and re.search(r"\$.", value):
            raise InvalidValue(_FROM_VARIABLE)
        del has_value


def parse_mount(text: str, expand: Callable[[str], str]) -> MountSpec:
    """BuildKit's parseMount: CSV `key=value` fields; values go through `expand` (the stage's scope).

    Raises `InvalidValue`, which the caller turns into a DockerfileError at the instruction's location.
    """
    fields: dict[str, object] = {"type": "bind"}
    readonly_auto = True
    for field in _mount_fields(text):
        key, has_value, value = field.partition("=")
        key = key.lower()
        if not has_value:
            readonly_auto = _mount_flag(fields, key, field) and readonly_auto
            continue
        if key == "from" and re.search(r"\$.", value):
            raise InvalidValue(_FROM_VARIABLE)
        if key != "from":
            value = expand(value)
        if key in ("readonly", "ro", "readwrite", "rw"):
            readonly_auto = False
        _mount_value(fields, key, value, field)
    return _validate_mount(fields, readonly_auto)


def mount_from(text: str) -> str | None:
    """The from= of a --mount as written (the stage or image it reads); None when it has none or the
    fields do not parse (then `parse_mount` reports it)."""
    try:
        fields = _mount_fields(text)
    except InvalidValue:
        return None
    found = None
    for field in fields:
        key, has_value, value = field.partition("=")
        if has_value and key.lower() == "from":
            found = value  # the last one counts, as in parse_mount
    return found


def _mount_fields(text: str) -> list[str]:
    try:
        fields = split_fields(text)
    except BadFields as err:
        raise InvalidValue(f"--mount={text}: failed to parse the comma-separated fields ({err})") from None
    if not fields:
        raise InvalidValue("--mount needs fields, e.g. --mount=type=cache,target=/root/.cache")
    return fields


def _mount_flag(fields: dict[str, object], key: str, field: str) -> bool:
    """A field without `=`; returns whether readonly is still automatic."""
    if key in ("readonly", "ro"):
        fields["readonly"] = True
        return False
    if key in ("readwrite", "rw"):
        fields["readonly"] = False
        return False
    if key == "required":
        if fields["type"] not in ("secret", "ssh"):
            raise InvalidValue(f"--mount: unexpected key 'required' for mount type {fields['type']!r}")
        fields["required"] = True
        return True
    raise InvalidValue(f"--mount: invalid field {field!r}: it must be a key=value pair")


def _mount_value(fields: dict[str, object], key: str, value: str, field: str) -> None:
    match key:
        case "type":
            kind = value.lower()
            if kind not in _MOUNT_TYPES:
                message = did_you_mean(
                    f"--mount: unsupported mount type {go_quote(value)}", value, _MOUNT_TYPES
                )
                raise InvalidValue(
                    message if message.endswith("?)") else f"{message}; use {', '.join(_MOUNT_TYPES)}"
                )
            fields["type"] = kind
        case "from":
            fields["from_ref"] = value
        case "source" | "src":
            fields["source"] = value
        case "target" | "dst" | "destination":
            fields["target"] = value
        case "readonly" | "ro":
            fields["readonly"] = _parse_go_bool(key, value)
        case "readwrite" | "rw":
            fields["readonly"] = not _parse_go_bool(key, value)
        case "required":
            if fields["type"] not in ("secret", "ssh"):
                raise InvalidValue(f"--mount: unexpected key 'required' for mount type {fields['type']!r}")
            fields["required"] = _parse_go_bool(key, value)
        case "size":
            if fields["type"] != "tmpfs":
                raise InvalidValue(f"--mount: unexpected key 'size' for mount type {fields['type']!r}")
            try:
                fields["size"] = parse_ram_bytes(value)
            except ValueError:
                raise InvalidValue(f"--mount: invalid value for size: {value!r}") from None
        case "id":
            fields["id"] = value
        case "sharing":
            if value.lower() not in _SHARING_MODES:
                message = did_you_mean(
                    f"--mount: unsupported sharing value {go_quote(value)}", value, _SHARING_MODES
                )
                raise InvalidValue(
                    message if message.endswith("?)") else f"{message}; use {', '.join(_SHARING_MODES)}"
                )
            fields["sharing"] = value.lower()
        case "mode":
            fields["mode"] = _parse_unsigned(key, value, base=8)
        case "uid" | "gid":
            fields[key] = _parse_unsigned(key, value, base=10)
        case "env":
            if fields["type"] != "secret":
                raise InvalidValue(f"--mount: unexpected key 'env' for mount type {fields['type']!r}")
            fields["env"] = value
        case _:
            raise InvalidValue(_unknown_mount_key(key, field))


def _unknown_mount_key(key: str, field: str) -> str:
    message = did_you_mean(f"--mount: unexpected key '{key}' in '{field}'", key, _MOUNT_KEYS)
    return message if message.endswith("?)") else f"{message}; keys are {', '.join(_MOUNT_KEYS)}"


def _parse_go_bool(key: str, value: str) -> bool:
    # strconv.ParseBool
    if value in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if value in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    raise InvalidValue(f"--mount: invalid value for {key}: {value!r}")


def _parse_unsigned(key: str, value: str, *, base: int) -> int:
    try:
        number = int(value, base)
    except ValueError:
        number = -1
    if number < 0 or number > 2**32 - 1 or not value.isdigit():
        raise InvalidValue(f"--mount: invalid value {value!r} for {key}")
    return number


def _validate_mount(fields: dict[str, object], readonly_auto: bool) -> MountSpec:
    kind = fields["type"]
    if kind not in ("secret", "ssh", "cache"):
        for key in ("mode", "uid", "gid"):
            if fields.get(key) is not None:
                raise InvalidValue(f"--mount: {key} not allowed for {kind!r} type mounts")
    if readonly_auto:
        fields["readonly"] = kind not in ("cache", "tmpfs")
    if kind == "secret":
        if fields.get("from_ref"):
            raise InvalidValue("--mount: a secret mount should not have a from")
        if fields.get("sharing"):
            raise InvalidValue("--mount: a secret mount should not define sharing")
        if (
            not fields.get("source")
            and not fields.get("target")
            and not fields.get("id")
            and not fields.get("env")
        ):
            raise InvalidValue("--mount: invalid secret mount: one of id, source, target or env is required")
        if fields.get("source") and fields.get("id"):
            raise InvalidValue("--mount: both source and id can't be set on a secret mount")
    if fields.get("sharing") and kind != "cache":
        raise InvalidValue(f"--mount: sharing is only for cache mounts, not {kind!r}")
    if kind == "tmpfs" and fields.get("from_ref"):
        raise InvalidValue("--mount: a tmpfs mount has no from")
    return MountSpec(**fields)  # type: ignore[arg-type]
