"""The multi-stage Dockerfile `slipway advise` writes: the original stages kept as they are (the last one becomes
the builder, named by its index so no line of the original changes), and a new final stage that copies only
what the program needs and carries the image's runtime settings over. Pure: text and values in, text out."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass

from slipway.image.oci import ContainerConfig

__all__ = ["RewritePlan", "exec_form", "render_dockerfile"]

# A shell-form command with none of these runs the same as its words in exec form.
_SHELL_SYNTAX = re.compile(r"[|&;<>()$`\\*?\[\]{}~#!\n]|^\s*\w+=")
SHELLS = ("/bin/sh", "/bin/bash", "/bin/ash", "/bin/dash", "/usr/bin/sh", "/usr/bin/bash")


@dataclass(frozen=True, slots=True)
class RewritePlan:
    builder: str  # what COPY --from names: the original final stage's index, or an image reference
    copies: tuple[str, ...]  # absolute paths, copied from the builder to the same place
    inline_files: tuple[tuple[str, str], ...]  # (absolute path, content) written from the Dockerfile
    config: ContainerConfig  # the runtime settings carried over (command already in exec form)
    base: str = "scratch"
    program: str = ""  # for the comment: the program the stage is made for


def exec_form(argv: tuple[str, ...]) -> tuple[str, ...] | None:
    """A shell-form command (`sh -c "prog args"`) as the exec form that does the same, when its script is
    plain words; None when it needs a shell. Other commands are returned as they are."""
    if len(argv) == 3 and argv[0] in SHELLS and argv[1] == "-c":
        script = argv[2]
        if _SHELL_SYNTAX.search(script):
            return None
        words = tuple(shlex.split(script))
        return words or None
    return argv


def render_dockerfile(original: str | None, plan: RewritePlan) -> str:
    """`original` (None: the builder is an image, named in plan.builder) followed by the new final stage."""
    if original is None:
        head = f"FROM {plan.builder} AS build\n"
        source = "build"
    else:
        head = original if original.endswith("\n") else original + "\n"
        source = plan.builder
    lines = [
        "",
        f"# Added by `slipway advise`: the final stage ships {plan.program or 'the program'} and what it needs",
        "# to run; the stages above build it and are left behind.",
        f"FROM {plan.base}",
    ]
    for path in plan.copies:
        lines.append(f"COPY --from={source} {json.dumps([path, path])}")
    for path, content in plan.inline_files:
        lines += [f'COPY <<"SLIPWAY_EOF" {path}', content.rstrip("\n"), "SLIPWAY_EOF"]
    lines += _config_lines(plan.config)
    return head + "\n".join(lines) + "\n"


def _config_lines(config: ContainerConfig) -> list[str]:
    lines = []
    for item in config.env or ():
        name, _, value = item.partition("=")
        quoted = json.dumps(value, ensure_ascii=False).replace("$", "\\$")
        lines.append(f"ENV {name}={quoted}")
    if config.working_dir:
        lines.append(f"WORKDIR {config.working_dir}")
    for port in sorted(config.exposed_ports or {}):
        lines.append(f"EXPOSE {port}")
    if config.volumes:
        lines.append(f"VOLUME {json.dumps(sorted(config.volumes))}")
    if config.stop_signal:
        lines.append(f"STOPSIGNAL {config.stop_signal}")
    if config.user:
        lines.append(f"USER {config.user}")
    if config.entrypoint:
        lines.append(f"ENTRYPOINT {json.dumps(list(config.entrypoint))}")
    if config.cmd:
        lines.append(f"CMD {json.dumps(list(config.cmd))}")
    return lines
