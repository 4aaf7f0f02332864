"""`docker import --change` instructions applied to an image's container config.

The few Dockerfile instructions that only edit the config (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD,
STOPSIGNAL, USER, VOLUME, WORKDIR), one per string, parsed with shell-like quoting. No variable expansion:
`docker import` has no build args, and an image with no base has no environment to expand from.
"""

from __future__ import annotations

import json
import posixpath
import shlex
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType

import msgspec

from slipway.errors import UsageError
from slipway.image.oci import DEFAULT_SHELL, ContainerConfig

__all__ = ["SUPPORTED_CHANGES", "apply_changes"]


def apply_changes(config: ContainerConfig, changes: Sequence[str]) -> ContainerConfig:
    """`config` with each change applied in order; UsageError naming a change that does not parse."""
    for change in changes:
        keyword, _, rest = change.strip().partition(" ")
        apply = SUPPORTED_CHANGES.get(keyword.upper())
        if apply is None:
            supported = ", ".join(sorted(SUPPORTED_CHANGES))
            raise UsageError(
                f"--change {change!r}: {keyword or 'an empty change'} is not supported; use one of {supported}"
            )
        rest = rest.strip()
        if not rest:
            raise UsageError(f"--change {change!r}: {keyword.upper()} needs an argument")
        config = apply(config, rest, change)
    return config


def _words(text: str, change: str) -> list[str]:
    lexer = shlex.shlex(text, posix=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        return list(lexer)
    except ValueError as err:
        raise UsageError(f"--change {change!r}: {err}") from err


def _json_array(text: str) -> tuple[str, ...] | None:
    """The exec form (["a", "b"]) when `text` is one, else None: the shell form."""
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    return None


def _command(config: ContainerConfig, text: str) -> tuple[str, ...]:
    exec_form = _json_array(text)
    if exec_form is not None:
        return exec_form
    return (*(config.shell or DEFAULT_SHELL), text)


def _pairs(text: str, change: str, keyword: str) -> list[tuple[str, str]]:
    words = _words(text, change)
    if "=" not in words[0] and keyword == "ENV" and len(words) > 1:
        # The legacy form `ENV NAME value with spaces`: one pair, the rest of the line as the value.
        name, _, value = text.partition(" ")
        return [(name, value.strip())]
    pairs = []
    for word in words:
        name, equals, value = word.partition("=")
        if not equals or not name:
            raise UsageError(f"--change {change!r}: {keyword} takes NAME=VALUE pairs; {word!r} is not one")
        pairs.append((name, value))
    return pairs


def _cmd(config: ContainerConfig, text: str, change: str) -> ContainerConfig:
    return msgspec.structs.replace(config, cmd=_command(config, text))


def _entrypoint(config: ContainerConfig, text: str, change: str) -> ContainerConfig:
    return msgspec.structs.replace(config, entrypoint=_command(config, text))


def _env(config: ContainerConfig, text: str, change: str) -> ContainerConfig:
    env = list(config.env or ())
    for name, value in _pairs(text, change, "ENV"):
        env = [item for item in env if item.partition("=")[0] != name]
        env.append(f"{name}={value}")
    return msgspec.structs.replace(config, env=tuple(env))


def _label(config: ContainerConfig, text: str, change: str) -> ContainerConfig:
    labels = dict(config.labels or {})
    labels.update(_pairs(text, change, "LABEL"))
    return msgspec.structs.replace(config, labels=labels)


def _expose(config: ContainerConfig, text: str, change: str) -> ContainerConfig:
    ports = dict(config.exposed_ports or {})
    for word in _words(text, change):
        port, _, protocol = word.partition("/")
        if not port.replace("-", "").isdigit() or protocol not in ("", "tcp", "udp", "sctp"):
            raise UsageError(f"--change {change!r}: {word!r} is not a port (80, 80/udp, 8000-8010/tcp)")
        ports[f"{port}/{protocol or 'tcp'}"] = {}
    return msgspec.structs.replace(config, exposed_ports=ports)


def _volume(config: ContainerConfig, text: str, change: str) -> ContainerConfig:
    volumes = dict(config.volumes or {})
    paths = _json_array(text)
    for path in paths if paths is not None else _words(text, change):
        volumes[path] = {}
    return msgspec.structs.replace(config, volumes=volumes)


def _workdir(config: ContainerConfig, text: str, change: str) -> ContainerConfig:
    # A relative WORKDIR is relative to the one before, as in a Dockerfile.
    path = posixpath.normpath(posixpath.join(config.working_dir or "/", text))
    return msgspec.structs.replace(config, working_dir=path)


def _user(config: ContainerConfig, text: str, change: str) -> ContainerConfig:
    return msgspec.structs.replace(config, user=text)


def _stopsignal(config: ContainerConfig, text: str, change: str) -> ContainerConfig:
    return msgspec.structs.replace(config, stop_signal=text)


def _onbuild(config: ContainerConfig, text: str, change: str) -> ContainerConfig:
    return msgspec.structs.replace(config, on_build=(*(config.on_build or ()), text))


SUPPORTED_CHANGES: Mapping[str, Callable[[ContainerConfig, str, str], ContainerConfig]] = MappingProxyType(
    {
        "CMD": _cmd,
        "ENTRYPOINT": _entrypoint,
        "ENV": _env,
        "EXPOSE": _expose,
        "LABEL": _label,
        "ONBUILD": _onbuild,
        "STOPSIGNAL": _stopsignal,
        "USER": _user,
        "VOLUME": _volume,
        "WORKDIR": _workdir,
    }
)
