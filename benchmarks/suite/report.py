"""Turn results into the markdown table, the chart and the one-line summaries."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from benchmarks.suite.measure import Result
from benchmarks.suite.workloads import TABLE_ORDER

BUILDER_COLOURS = {
    "slipway": "#2a9d8f", "buildkit": "#264653", "buildah": "#e9c46a", "floor": "#bbbbbb", "skopeo": "#f4a261",
    "docker": "#264653", "slipway-registry": "#2a9d8f", "slipway-local": "#57cc99", "slipway-inline": "#80ed99",
    "buildkit-inline": "#264653",
}  # fmt: skip
# The tools slipway is compared with: the builders by default, skopeo and docker for the transfer workloads.
BUILD_PEERS = ("buildkit", "buildah")
PEER_TITLES = {
    "buildkit": "BuildKit", "buildah": "Buildah", "skopeo": "skopeo", "docker": "docker",
    "buildkit-inline": "BuildKit inline",
}  # fmt: skip
FLOOR = "floor"  # the work with no builder (floor.py): each builder's overhead is its time above it


@dataclass(frozen=True, slots=True)
class Cell:
    median: float | None
    low: float | None
    high: float | None
    peak_bytes: int | None
    image_bytes: int | None
    runs: int
    failed: int
    noisy: int


def _rows(results: list[Result]) -> list[str]:
    seen = {r.row for r in results}
    ordered = []
    for name in TABLE_ORDER:
        for row in (name, f"{name} (cold)", f"{name} (warm)"):
            if row in seen:
                ordered.append(row)
    others = [r.row for r in results if r.row not in ordered]  # workloads of another family, as they ran
    return ordered + list(dict.fromkeys(others))


def _cell(results: list[Result]) -> Cell:
    good = [r for r in results if r.ok and r.seconds is not None]
    times = [r.seconds for r in good if r.seconds is not None]
    peaks = [r.peak_bytes for r in good]
    sizes = [r.image_bytes for r in good if r.image_bytes is not None]
    return Cell(
        statistics.median(times) if times else None,
        min(times) if times else None,
        max(times) if times else None,
        int(statistics.median(peaks)) if peaks else None,
        int(statistics.median(sizes)) if sizes else None,
        len(results),
        len(results) - len(good),
        sum(1 for r in results if not r.quiet),
    )


def _ratio(results: list[Result], row: str, numerator: str, denominator: str) -> float | None:
    """The median over runs of the per-run ratio (builders alternate within a run, so each pair saw one machine)."""
    by_run: dict[int, dict[str, float]] = defaultdict(dict)
    for r in results:
        if r.row == row and r.ok and r.seconds is not None:
            by_run[r.run][r.builder] = r.seconds
    ratios = [
        t[numerator] / t[denominator]
        for t in by_run.values()
        if numerator in t and denominator in t and t[denominator] > 0
    ]
    return statistics.median(ratios) if ratios else None


def is_slipway(builder: str) -> bool:
    """slipway, or one way of running it (the cache workloads' slipway-registry, slipway-local, ...): the
    builders whose rows carry a ratio to each peer."""
    return builder == "slipway" or builder.startswith("slipway-")


def _overhead(results: list[Result], row: str, builder: str) -> float | None:
    """The median over runs of the builder's time above the floor's in the same run."""
    by_run: dict[int, dict[str, float]] = defaultdict(dict)
    for r in results:
        if r.row == row and r.ok and r.seconds is not None:
            by_run[r.run][r.builder] = r.seconds
    above = [t[builder] - t[FLOOR] for t in by_run.values() if builder in t and FLOOR in t]
    return statistics.median(above) if above else None


def _overhead_ratio(results: list[Result], row: str) -> float | None:
    slipway, buildkit = _overhead(results, row, "slipway"), _overhead(results, row, "buildkit")
    if slipway is None or buildkit is None or buildkit <= 0:
        return None
    return slipway / buildkit


def _fmt_seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}s"


def _fmt_bytes(value: int | None) -> str:
    return "–" if value is None else f"{value / 2**20:.0f} MiB"


def _fmt_size(value: int | None) -> str:
    return "–" if value is None else f"{value / 1e6:.2f} MB"


def _fmt_ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def table(results: list[Result], builders: list[str], peers: tuple[str, ...] = BUILD_PEERS) -> str:
    titles = "".join(f" slipway/{PEER_TITLES.get(peer, peer)} |" for peer in peers)
    floor = any(r.builder == FLOOR for r in results)  # its columns only where it was measured
    lines = [
        f"| workload | builder | median | min–max |{' over the floor |' if floor else ''} peak memory | image size |"
        f"{titles}{' overhead slipway/BuildKit |' if floor else ''} notes |",
        "| --- " * (7 + len(peers) + 2 * floor) + "|",
    ]
    for row in _rows(results):
        overheads = _fmt_ratio(_overhead_ratio(results, row))
        for i, builder in enumerate(builders):
            cell = _cell([r for r in results if r.row == row and r.builder == builder])
            if cell.runs == 0:
                continue
            span = "–" if cell.low is None else f"{cell.low:.2f}–{cell.high:.2f}s"
            notes = []
            if cell.failed:
                notes.append(f"{cell.failed}/{cell.runs} failed or wrong")
            if cell.noisy:
                notes.append(f"{cell.noisy} not quiet")
            above = "" if builder == FLOOR else _fmt_seconds(_overhead(results, row, builder))
            ratios = [
                _fmt_ratio(_ratio(results, row, builder, peer)) if is_slipway(builder) else ""
                for peer in peers
            ]
            shown = "".join(f" {ratio} |" for ratio in ratios)
            if floor:
                shown += f" {overheads if i == 0 else ''} |"
            lines.append(
                f"| {row if i == 0 else ''} | {builder} | {_fmt_seconds(cell.median)} | {span} |"
                f"{f' {above} |' if floor else ''} {_fmt_bytes(cell.peak_bytes)} | {_fmt_size(cell.image_bytes)} |"
                f"{shown} {'; '.join(notes)} |"
            )
    return "\n".join(lines) + "\n"


def summaries(results: list[Result], builders: list[str], peers: tuple[str, ...] = BUILD_PEERS) -> list[str]:
    lines = []
    for row in _rows(results):
        parts = []
        for builder in builders:
            cell = _cell([r for r in results if r.row == row and r.builder == builder])
            if cell.runs:
                parts.append(f"{builder} {'failed' if cell.median is None else f'{cell.median:.1f}s'}")
        for mine, other in _pairs(builders, peers):
            ratio = _ratio(results, row, mine, other)
            if ratio is not None:
                parts.append(f"{mine}/{other} {ratio:.2f}")
        overhead = _overhead_ratio(results, row)
        if overhead is not None:
            parts.append(f"overhead over the floor slipway/buildkit {overhead:.2f}")
        sizes = {
            b: _cell([r for r in results if r.row == row and r.builder == b]).image_bytes for b in builders
        }
        if sizes.get("slipway") and sizes.get("buildkit"):
            parts.append(f"image size slipway/buildkit {sizes['slipway'] / sizes['buildkit']:.4f}")
        lines.append(f"{row}: {', '.join(parts)}")
    return lines


def _pairs(builders: list[str], peers: tuple[str, ...]) -> list[tuple[str, str]]:
    """(a slipway builder, a peer) for each ratio drawn: slipway against each peer that ran."""
    return [(mine, peer) for mine in builders if is_slipway(mine) for peer in peers if peer in builders]


def _medians(results: list[Result], builders: list[str]) -> tuple[list[str], dict[str, list[float]]]:
    rows = _rows(results)
    values = {b: [_cell([r for r in results if r.row == row and r.builder == b]).median or 0.0 for row in rows]
              for b in builders}  # fmt: skip
    return rows, values


def chart(
    results: list[Result], builders: list[str], out_dir: Path, peers: tuple[str, ...] = BUILD_PEERS
) -> Path:
    """A grouped bar chart of median wall time: PNG with matplotlib where it imports, else a hand-written SVG."""
    rows, values = _medians(results, builders)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return _svg_chart(rows, values, out_dir / "chart.svg")
    width = 0.8 / max(1, len(builders))
    fig, (ax, ratio_ax) = plt.subplots(
        2, 1, figsize=(max(8, len(rows) * 1.1), 8), sharex=True, gridspec_kw={"height_ratios": (3, 2)}
    )
    for i, builder in enumerate(builders):
        xs = [x + (i - (len(builders) - 1) / 2) * width for x in range(len(rows))]
        ax.bar(xs, values[builder], width, label=builder, color=BUILDER_COLOURS.get(builder))
    ax.set_yscale("log")  # no-op rebuilds take 0.05 s, cold builds 10 s: both must show
    ax.set_ylabel("median wall time (s, log scale)")
    ax.set_title(", ".join(PEER_TITLES.get(b, b) for b in builders) + ", side by side")
    ax.legend()
    pairs = _pairs(builders, peers)
    bar = 0.8 / max(1, len(pairs))
    for i, (mine, other) in enumerate(pairs):
        ratios = [_ratio(results, row, mine, other) or 0.0 for row in rows]
        xs = [x + (i - (len(pairs) - 1) / 2) * bar for x in range(len(rows))]
        colour = BUILDER_COLOURS.get(other if len(pairs) <= len(peers) else mine)
        ratio_ax.bar(xs, ratios, bar, label=f"{mine}/{other}", color=colour)
    ratio_ax.axhline(1.0, color="black", linewidth=0.8)
    ratio_ax.set_ylabel("median per-run ratio (below 1: slipway faster)")
    ratio_ax.legend()
    ratio_ax.set_xticks(range(len(rows)), rows, rotation=30, ha="right")
    fig.tight_layout()
    path = out_dir / "chart.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _svg_chart(rows: list[str], values: dict[str, list[float]], path: Path) -> Path:
    builders = list(values)
    top = max((v for vs in values.values() for v in vs), default=1.0) or 1.0
    group, bar, height, left, bottom = 90, 22, 300, 50, 110
    width = left + group * len(rows) + 20
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + bottom + 30}" '
             'font-family="sans-serif" font-size="11">']  # fmt: skip
    for g, row in enumerate(rows):
        for b, builder in enumerate(builders):
            v = values[builder][g]
            h = v / top * height
            x = left + g * group + b * bar
            parts.append(f'<rect x="{x}" y="{20 + height - h:.1f}" width="{bar - 2}" height="{h:.1f}" '
                         f'fill="{BUILDER_COLOURS.get(builder, "#888")}"><title>{escape(builder)} {v:.2f}s</title></rect>')  # fmt: skip
        cx = left + g * group + bar * len(builders) / 2
        parts.append(f'<text transform="translate({cx},{height + 30}) rotate(40)">{escape(row)}</text>')
    for b, builder in enumerate(builders):
        parts.append(f'<rect x="{left + b * 90}" y="{height + bottom}" width="10" height="10" '
                     f'fill="{BUILDER_COLOURS.get(builder, "#888")}"/><text x="{left + b * 90 + 14}" '
                     f'y="{height + bottom + 9}">{escape(builder)}</text>')  # fmt: skip
    parts.append(f'<text x="4" y="14">median wall time, tallest {top:.1f}s</text></svg>')
    path.write_text("\n".join(parts))
    return path
