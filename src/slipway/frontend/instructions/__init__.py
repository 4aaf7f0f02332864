"""Typed Dockerfile instructions, by BuildKit's `frontend/dockerfile/instructions` rules.

`parse_command(instruction)` turns one parsed `Instruction` into one frozen dataclass per instruction kind
(`RunCommand`, `CopyCommand`, ...), with its flags checked: each instruction accepts exactly BuildKit's
flags, with BuildKit's value rules. Nothing is expanded here (the converter expands words with the stage's
scope); values that hold no variable are checked here already, so a typo fails before any image is pulled.
Every error leaving this module is a `DockerfileError` carrying the instruction's location.
"""

from __future__ import annotations

from slipway.frontend.instructions.commands import (
    AddCommand,
    ArgCommand,
    ArgDeclaration,
    CmdCommand,
    Command,
    CopyCommand,
    EntrypointCommand,
    EnvCommand,
    ExposeCommand,
    FromCommand,
    HealthcheckCommand,
    InlineFile,
    InvalidValue,
    KeyValue,
    LabelCommand,
    MaintainerCommand,
    OnbuildCommand,
    RunCommand,
    ShellCommand,
    StopSignalCommand,
    UserCommand,
    VolumeCommand,
    WorkdirCommand,
)
from slipway.frontend.instructions.parse import heredoc_name, parse_command, written_keyword
from slipway.frontend.instructions.run_mounts import MountSpec, check_mount, mount_from, parse_mount
from slipway.frontend.instructions.values import check_chmod, check_signal, parse_duration, parse_ram_bytes

__all__ = [
    "AddCommand",
    "ArgCommand",
    "ArgDeclaration",
    "CmdCommand",
    "Command",
    "CopyCommand",
    "EntrypointCommand",
    "EnvCommand",
    "ExposeCommand",
    "FromCommand",
    "HealthcheckCommand",
    "InlineFile",
    "InvalidValue",
    "KeyValue",
    "LabelCommand",
    "MaintainerCommand",
    "MountSpec",
    "OnbuildCommand",
    "RunCommand",
    "ShellCommand",
    "StopSignalCommand",
    "UserCommand",
    "VolumeCommand",
    "WorkdirCommand",
    "check_chmod",
    "check_mount",
    "check_signal",
    "heredoc_name",
    "mount_from",
    "parse_command",
    "parse_duration",
    "parse_mount",
    "parse_ram_bytes",
    "written_keyword",
]
