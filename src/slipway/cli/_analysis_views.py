"""The text of `slipway analyze`, `diff` and `advise`: tables a user reads, sizes as `docker images` shows them."""

from __future__ import annotations

from collections.abc import Sequence

from slipway.analysis.analyze import ImageAnalysis, PathSize
from slipway.cli._humanize import human_size

INSTRUCTION_WIDTH = 60
TOP_INEFFICIENCIES = 10


def size(value: int) -> str:
    return human_size(value, 3)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    """Columns padded to their widest cell, as docker's tables."""
    widths = [max(len(str(row[index])) for row in [headers, *rows]) for index in range(len(headers))]
    return [
        indent + "   ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [headers, *rows]
    ]


def analysis_text(analysis: ImageAnalysis) -> str:
    lines = [
        f"Image {analysis.image} ({analysis.image_id[:19]})",
        f"  size {size(analysis.size)} in {len(analysis.layers)} layers; efficiency "
        f"{analysis.efficiency * 100:.2f} %; wasted {analysis.wasted_bytes} bytes ({size(analysis.wasted_bytes)}); "
        f"user wasted {analysis.user_wasted_percent * 100:.2f} %",
        "",
        "Layers (bottom first):",
        *table(
            ("#", "SIZE", "ADDED", "MODIFIED", "REMOVED", "WASTED", "INSTRUCTION"),
            [
                (
                    str(layer.index),
                    size(layer.size),
                    f"{layer.added_files} / {size(layer.added_bytes)}",
                    f"{layer.modified_files} / {size(layer.modified_bytes)}",
                    f"{layer.removed_files} / {size(layer.removed_bytes)}",
                    size(layer.wasted_bytes),
                    _short(layer.instruction),
                )
                for layer in analysis.layers
            ],
        ),
        "",
        "Largest directories:",
        *_paths(analysis.largest_directories),
        "",
        "Largest files:",
        *_paths(analysis.largest_files),
    ]
    if analysis.content:
        lines += ["", "Content by kind:"]
        lines += table(
            ("KIND", "SIZE", "FILES", "NOTE"),
            [
                (share.kind, size(share.bytes), str(share.files), "build-time only" if share.toolchain else "")
                for share in analysis.content
            ],
        )
    inefficient = [item for item in analysis.inefficiencies if item.wasted][:TOP_INEFFICIENCIES]
    if inefficient:
        lines += ["", "Inefficient files (written in several layers, or deleted):"]
        lines += table(
            ("COUNT", "WASTED", "PATH"), [(str(item.count), size(item.wasted), item.path) for item in inefficient]
        )
    return "\n".join(lines)


def _paths(items: Sequence[PathSize]) -> list[str]:
    return [f"  {size(item.size):>8}  {item.path}" for item in items] or ["  (none)"]


def _short(instruction: str) -> str:
    text = instruction.replace("\t", " ").removesuffix(" # buildkit")
    text = text.removeprefix("/bin/sh -c #(nop) ").strip()
    return text if len(text) <= INSTRUCTION_WIDTH else text[: INSTRUCTION_WIDTH - 1] + "…"
