"""The text of `slipway analyze`, `diff` and `advise`: tables a user reads, sizes as `docker images` shows them."""

from __future__ import annotations

from collections.abc import Sequence

from slipway.analysis import ImageAnalysis, PathSize
from slipway.analysis.advise import Advice
from slipway.analysis.diff import FileChange, ImageDiff
from slipway.cli._humanize import human_size

INSTRUCTION_WIDTH = 60
TOP_INEFFICIENCIES = 10
_MARKS = {"added": "+", "removed": "-", "changed": "~"}
MAX_FILE_LINES = 60


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
                (
                    share.kind,
                    size(share.bytes),
                    str(share.files),
                    "build-time only" if share.toolchain else "",
                )
                for share in analysis.content
            ],
        )
    inefficient = [item for item in analysis.inefficiencies if item.wasted][:TOP_INEFFICIENCIES]
    if inefficient:
        lines += ["", "Inefficient files (written in several layers, or deleted):"]
        lines += table(
            ("COUNT", "WASTED", "PATH"),
            [(str(item.count), size(item.wasted), item.path) for item in inefficient],
        )
    return "\n".join(lines)


def _paths(items: Sequence[PathSize]) -> list[str]:
    return [f"  {size(item.size):>8}  {item.path}" for item in items] or ["  (none)"]


def _short(instruction: str) -> str:
    text = instruction.replace("\t", " ").removesuffix(" # buildkit")
    text = text.removeprefix("/bin/sh -c #(nop) ").strip()
    return text if len(text) <= INSTRUCTION_WIDTH else text[: INSTRUCTION_WIDTH - 1] + "…"


def diff_text(result: ImageDiff) -> str:
    counts = {change: sum(1 for item in result.files if item.change == change) for change in _MARKS}
    lines = [
        f"{result.before} ({size(result.before_size)}) -> {result.after} ({size(result.after_size)}): "
        f"{counts['added']} added, {counts['removed']} removed, {counts['changed']} changed",
    ]
    if result.directories:
        lines += ["", "By directory:"]
        lines += table(
            ("DIRECTORY", "ADDED", "REMOVED", "CHANGED", "+BYTES", "-BYTES"),
            [
                (
                    item.path,
                    str(item.added),
                    str(item.removed),
                    str(item.changed),
                    size(item.bytes_added),
                    size(item.bytes_removed),
                )
                for item in result.directories
            ],  # fmt: skip
        )
    if result.files:
        lines += [
            "",
            "Files (+ added, - removed, ~ changed; a directory added or removed whole is one line):",
        ]
        folded = _folded(result.files)
        lines += [f"  {line}" for line in folded[:MAX_FILE_LINES]]
        if len(folded) > MAX_FILE_LINES:
            lines.append(f"  … and {len(folded) - MAX_FILE_LINES} more (--format json lists every path)")
    if result.packages:
        lines += ["", "Packages:"]
        lines += table(
            ("ECOSYSTEM", "PACKAGE", "IN " + result.before, "IN " + result.after),
            [(item.ecosystem, item.name, item.before or "-", item.after or "-") for item in result.packages],
        )
    return "\n".join(lines)


def _folded(changes: Sequence[FileChange]) -> list[str]:
    """One line per change, but a directory added or removed whole stands for everything under it."""
    lines: list[str] = []
    whole: tuple[str, str] | None = None  # (directory path + "/", change) being folded
    folded = [0, 0]
    for item in changes:
        if whole is not None and item.path.startswith(whole[0]) and item.change == whole[1]:
            folded[0] += item.kind != "dir"
            folded[1] += max(item.size_before, item.size_after)
            continue
        if whole is not None:
            lines[-1] += f" ({folded[0]} files, {size(folded[1])})"
            whole = None
        detail = f" ({', '.join(item.differences)})" if item.differences else ""
        lines.append(f"{_MARKS[item.change]} {item.path}{'/' if item.kind == 'dir' else ''}{detail}")
        if item.kind == "dir" and item.change != "changed":
            whole, folded = (item.path + "/", item.change), [0, 0]
    if whole is not None:
        lines[-1] += f" ({folded[0]} files, {size(folded[1])})"
    return lines


def advice_text(advice: Advice, written: str | None) -> str:
    lines: list[str] = []
    if advice.image:
        lines.append(
            f"Image {advice.image[:19]}: {size(advice.image_size)}; it runs {advice.program or '(unknown)'}"
        )
    for share in advice.toolchains:
        lines.append(f"  it ships {share.short} ({size(share.bytes)}), needed only to build")
    if advice.dockerfile is None:
        lines.append(f"No rewrite: {advice.declined}")
    else:
        lines.append(
            f"The final stage needs {len(advice.copies)} file(s), {size(advice.copied_bytes)}: "
            + ", ".join(advice.copies)
        )
        lines += [f"Note: {note}" for note in advice.notes]
        if written and written != "-":
            lines.append(f"Wrote the multi-stage Dockerfile to {written}")
        elif not written:
            lines += [
                "",
                "Multi-stage Dockerfile (--write FILE writes it):",
                "",
                advice.dockerfile.rstrip("\n"),
            ]
    verification = advice.verification
    if verification is not None:
        lines += [
            "",
            "Verification:" + (" both images behave the same" if verification.passed else " FAILED"),
        ]
        ratio = (
            advice.image_size / verification.rewritten_size if verification.rewritten_size else float("inf")
        )
        lines += table(
            ("IMAGE", "ID", "SIZE", "EXIT CODE", "OUTPUT LINES"),
            [
                (
                    "original",
                    advice.image[7:19],
                    size(advice.image_size),
                    str(verification.original.exit_code),
                    str(len(verification.original.stdout.splitlines())),
                ),
                (
                    "multi-stage",
                    verification.rewritten_image[7:19],
                    size(verification.rewritten_size),
                    str(verification.rewritten.exit_code),
                    str(len(verification.rewritten.stdout.splitlines())),
                ),
            ],  # fmt: skip
        )
        lines.append(f"  the multi-stage image is {ratio:.0f}x smaller")
    if advice.hints:
        lines += ["", "Fixes in place:"]
        lines += [f"  {size(hint.bytes):>8}  {hint.message}" for hint in advice.hints]
    return "\n".join(lines)
