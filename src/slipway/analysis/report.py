"""Pictures of an analysis, as self-contained SVG (and an HTML page that inlines them): a treemap of the merged
tree by directory, a bar per layer split into the bytes that stay and the bytes wasted, the stage graph of the
build, and the before/after sizes of `advise --verify`.

Drawn with matplotlib (its SVG backend: static, no script, no network at view time; text kept as text so the
page is searchable) and squarify (the treemap layout). Both are imported only here, only when a picture is
asked for; a figure is a `matplotlib.figure.Figure`, never pyplot, so no global state is touched.
"""

from __future__ import annotations

import html
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slipway.analysis._analyze import ImageAnalysis
from slipway.analysis.advise import Advice
from slipway.analysis.stages import StageGraph
from slipway.errors import UsageError

__all__ = ["Picture", "advice_pictures", "analysis_pictures", "write_html", "write_svgs"]

KEPT, WASTED, OTHER = "#4C78A8", "#E45756", "#BAB0AC"
MB = 1e6


@dataclass(frozen=True, slots=True)
class Picture:
    name: str  # the file name stem and the element id: "treemap"
    title: str
    svg: str


def analysis_pictures(analysis: ImageAnalysis, graph: StageGraph | None = None) -> tuple[Picture, ...]:
    pictures = [_treemap(analysis), _layer_bars(analysis)]
    if graph is not None:
        pictures.append(_stage_graph(graph))
    return tuple(pictures)


def advice_pictures(advice: Advice) -> tuple[Picture, ...]:
    """The seed's comparison: the original image and the multi-stage one, side by side."""
    verification = advice.verification
    sizes = [("original", advice.image_size)]
    sizes.append(("multi-stage", verification.rewritten_size if verification else advice.copied_bytes))
    figure = _figure(6, 3.5)
    axes = figure.add_subplot()
    bars = axes.bar([name for name, _ in sizes], [size / MB for _, size in sizes], color=[OTHER, KEPT])
    axes.bar_label(bars, labels=[f"{size / MB:.1f} MB" for _, size in sizes])
    axes.set_ylabel("MB")
    axes.set_title("Image size before and after the multi-stage rewrite")
    return (Picture("sizes", "Before and after", _svg(figure)),)


def write_html(pictures: Sequence[Picture], path: Path, title: str) -> None:
    figures = "\n".join(
        f'<figure id="{picture.name}"><figcaption>{html.escape(picture.title)}</figcaption>\n{picture.svg}</figure>'
        for picture in pictures
    )
    page = (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>\n'
        "<style>body{font-family:sans-serif;margin:2em}figure{margin:0 0 2em}figcaption{font-weight:bold}"
        "svg{max-width:100%;height:auto}</style></head>\n"
        f"<body><h1>{html.escape(title)}</h1>\n{figures}\n</body></html>\n"
    )
    _write(path, page)


def write_svgs(pictures: Sequence[Picture], directory: Path) -> list[Path]:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UsageError(f"--svg {directory}: cannot make the directory: {err}") from err
    written = []
    for picture in pictures:
        path = directory / f"{picture.name}.svg"
        _write(path, picture.svg)
        written.append(path)
    return written


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as err:
        raise UsageError(f"cannot write {path}: {err}") from err


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _svg(figure: Any) -> str:
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "slipway"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # inline: no XML prologue or doctype


def _treemap(analysis: ImageAnalysis) -> Picture:
    import squarify

    top = _treemap_cells(analysis)
    figure = _figure(10, 6)
    axes = figure.add_subplot()
    axes.set_axis_off()
    if top:
        values = squarify.normalize_sizes([size for _, size in top], 100, 60)
        for (label, size), rect in zip(top, squarify.squarify(values, 0, 0, 100, 60), strict=True):
            axes.add_patch(_rectangle(rect, KEPT if not label.endswith("(other)") else OTHER))
            if rect["dx"] * rect["dy"] > 40:
                axes.text(rect["x"] + 1, rect["y"] + rect["dy"] - 3, f"{label}\n{size / MB:.1f} MB",
                          fontsize=7, color="white", va="top")  # fmt: skip
    axes.set_xlim(0, 100)
    axes.set_ylim(0, 60)
    axes.set_title(f"{analysis.image}: {analysis.size / MB:.1f} MB by directory")
    return Picture("treemap", "Where the bytes are", _svg(figure))


def _treemap_cells(analysis: ImageAnalysis) -> list[tuple[str, int]]:
    """Second-level directories, and what their first-level directory holds besides them."""
    sizes = {item.path: item.size for item in analysis.directories}
    cells = []
    for path, size in sizes.items():
        if path.count("/") == 1:
            children = {
                child: value
                for child, value in sizes.items()
                if child.startswith(path + "/") and child.count("/") == 2
            }
            cells += [(child, value) for child, value in children.items() if value > 0]
            rest = size - sum(children.values())
            if rest > 0:
                cells.append((f"{path} (other)", rest))
    return sorted(cells, key=lambda cell: -cell[1])[:60]


def _rectangle(rect: dict[str, float], colour: str) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle((rect["x"], rect["y"]), rect["dx"], rect["dy"], facecolor=colour, edgecolor="white")


def _layer_bars(analysis: ImageAnalysis) -> Picture:
    figure = _figure(10, max(2.5, 0.45 * len(analysis.layers) + 1.5))
    axes = figure.add_subplot()
    labels = [f"{layer.index}: {(layer.instruction or '(no history)')[:50]}" for layer in analysis.layers]
    kept = [(layer.size - layer.wasted_bytes) / MB for layer in analysis.layers]
    wasted = [layer.wasted_bytes / MB for layer in analysis.layers]
    axes.barh(labels, kept, color=KEPT, label="added, in the image")
    axes.barh(labels, wasted, left=kept, color=WASTED, label="wasted (overwritten or deleted later)")
    axes.invert_yaxis()
    axes.set_xlabel("MB")
    axes.legend(loc="lower right", fontsize=8)
    axes.set_title(
        f"Layers: {analysis.wasted_bytes / MB:.2f} MB wasted, efficiency {analysis.efficiency * 100:.1f} %"
    )
    return Picture("layers", "Bytes per layer", _svg(figure))


def _stage_graph(graph: StageGraph) -> Picture:
    figure = _figure(10, 3)
    axes = figure.add_subplot()
    axes.set_axis_off()
    count = len(graph.stages)
    positions = {stage.index: (index + 0.5) / count for index, stage in enumerate(graph.stages)}
    for source, target, kind in graph.edges:
        axes.annotate("", xy=(positions[target] - 0.06, 0.5), xytext=(positions[source] + 0.06, 0.5),
                      arrowprops={"arrowstyle": "->"})  # fmt: skip
        axes.text((positions[source] + positions[target]) / 2, 0.56, kind, ha="center", fontsize=8)
    for stage in graph.stages:
        size = f"\n{stage.size / MB:.1f} MB" if stage.size is not None else ""
        colour = KEPT if stage.index == graph.target else OTHER
        axes.text(positions[stage.index], 0.5, f"{stage.name}{size}", ha="center", va="center", color="white",
                  bbox={"boxstyle": "round", "facecolor": colour})  # fmt: skip
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_title("Stages (the target in blue)")
    return Picture("stages", "The stage graph", _svg(figure))
