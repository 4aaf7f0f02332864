"""What a user can fix in place, with the bytes at stake: package lists and caches left in a layer, files a
later layer deletes (they still ship), and a `COPY . .` ahead of dependency installation (every source edit
reinstalls the dependencies). Pure: layer entries, the history and the parsed Dockerfile in."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from slipway.analysis._analyze import ImageAnalysis
from slipway.analysis._tree import Tree
from slipway.frontend.parser import Instruction, ParsedDockerfile
from slipway.image.layers import LayerEntry

__all__ = ["Hint", "fix_in_place_hints"]

MINIMUM_BYTES = 1 << 20  # smaller leftovers are not worth a line

_LEFTOVERS = (
    ("apt lists", re.compile(r"^var/lib/apt/lists/"), "end it with `&& rm -rf /var/lib/apt/lists/*`"),
    ("apt's package cache", re.compile(r"^var/cache/apt/"), "end it with `&& apt-get clean`"),
    ("the pip cache", re.compile(r"(?:^|/)\.cache/pip/"), "use `pip install --no-cache-dir`"),
    ("the npm cache", re.compile(r"(?:^|/)\.npm/"), "use `RUN --mount=type=cache,target=/root/.npm`"),
    ("the yarn cache", re.compile(r"(?:^|/)\.cache/yarn/|^usr/local/share/\.cache/yarn/"), "run `yarn cache clean`"),
    ("the Go build cache", re.compile(r"(?:^|/)\.cache/go-build/|^tmp/gocache/"),
     "use `RUN --mount=type=cache,target=<GOCACHE>` so the cache stays out of the layer"),
)  # fmt: skip
_DEPENDENCY_INSTALL = re.compile(
    r"\b(?:pip3?\s+install\b.*(?:-r\b|requirements)|npm\s+(?:install|ci)\b|yarn(?:\s+install)?\b|"
    r"go\s+mod\s+download\b|bundle\s+install\b|composer\s+install\b|cargo\s+(?:fetch|build)\b|"
    r"poetry\s+install\b|mvn\b.*dependency|gradle\b.*dependencies|apt-get\s+install\b)"
)
_WHOLE_CONTEXT = (".", "./", "*")


@dataclass(frozen=True, slots=True)
class Hint:
    message: str
    bytes: int  # at stake: what the fix saves in the image (or rebuilds on every source edit)
    line: int | None = None  # in the Dockerfile, when known


def fix_in_place_hints(
    analysis: ImageAnalysis,
    layers: Sequence[Sequence[LayerEntry]],
    tree: Tree,
    dockerfile: ParsedDockerfile | None,
) -> tuple[Hint, ...]:
    hints = [*_leftovers(analysis, tree), *_deleted_later(analysis)]
    if dockerfile is not None:
        hints += _copy_before_install(dockerfile, analysis)
    return tuple(sorted(hints, key=lambda hint: -hint.bytes))


def _leftovers(analysis: ImageAnalysis, tree: Tree) -> list[Hint]:
    totals: dict[tuple[int, int], int] = {}  # (layer, leftover kind) -> bytes in the final image
    for path, file in tree.files():
        if file.entry.kind != "file":
            continue
        for index, (_, pattern, _) in enumerate(_LEFTOVERS):
            if pattern.search(path):
                key = (file.layer, index)
                totals[key] = totals.get(key, 0) + file.entry.size
                break
    hints = []
    for (layer, index), size in totals.items():
        if size < MINIMUM_BYTES:
            continue
        what, _, fix = _LEFTOVERS[index]
        step = _step(analysis, layer)
        hints.append(Hint(f"{step} leaves {what} in the image: {fix}", size))
    return hints


def _deleted_later(analysis: ImageAnalysis) -> list[Hint]:
    return [
        Hint(
            f"{_step(analysis, layer.index)} writes files a later step deletes or overwrites: they still ship in "
            "its layer; remove them in the same RUN (or build them in a stage of their own)",
            layer.wasted_bytes,
        )
        for layer in analysis.layers
        if layer.wasted_bytes >= MINIMUM_BYTES
    ]


def _copy_before_install(dockerfile: ParsedDockerfile, analysis: ImageAnalysis) -> list[Hint]:
    stage = _final_stage(dockerfile.instructions)
    hints = []
    copied: Instruction | None = None
    for instruction in stage:
        if instruction.keyword in ("copy", "add") and _copies_whole_context(instruction):
            copied = copied or instruction
        elif instruction.keyword == "run" and copied is not None:
            command = " ".join(instruction.args)
            if _DEPENDENCY_INSTALL.search(command):
                hints.append(
                    Hint(
                        f"line {copied.location.line}: `{copied.original.strip()}` comes before "
                        f"`RUN {command[:60]}` (line {instruction.location.line}): every source edit reinstalls "
                        "the dependencies; copy the dependency manifests first, install, then copy the rest",
                        _layer_size_of(analysis, command),
                        copied.location.line,
                    )
                )
                break
    return hints


def _final_stage(instructions: Sequence[Instruction]) -> Sequence[Instruction]:
    starts = [index for index, instruction in enumerate(instructions) if instruction.keyword == "from"]
    return instructions[starts[-1] :] if starts else ()


def _copies_whole_context(instruction: Instruction) -> bool:
    if any(flag.startswith("--from") for flag in instruction.flags) or len(instruction.args) < 2:
        return False
    return any(source in _WHOLE_CONTEXT for source in instruction.args[:-1])


def _layer_size_of(analysis: ImageAnalysis, command: str) -> int:
    for layer in analysis.layers:
        if command and command in layer.instruction:
            return layer.size
    return 0


def _step(analysis: ImageAnalysis, layer: int) -> str:
    instruction = analysis.layers[layer].instruction.removesuffix(" # buildkit").strip() or f"layer {layer}"
    instruction = instruction.replace("/bin/sh -c ", "")
    return f"`{instruction[:70]}{'…' if len(instruction) > 70 else ''}`"
