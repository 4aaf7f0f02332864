"""The pictures of `slipway analyze --html` in a real browser: headless Chromium (Debian's package) loads the
page with no console errors and nothing fetched, the charts are in the DOM, and the screenshot shows them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from PIL import Image
from tests.integration.conftest import Slipway

import prerequisites

pytestmark = pytest.mark.root

CHART_BLUE = (76, 120, 168)  # report.KEPT: the treemap's cells and the layer bars
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--enable-logging=stderr", "--v=0", "--window-size=1200,1800",
)  # fmt: skip


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    found = prerequisites.require_tool("chromium", "chromium")
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    return subprocess.run(
        [found, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_the_html_report_renders_its_charts(
    shared_store: Slipway, make_context: object, tmp_path: Path
) -> None:
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(
        "FROM busybox:test AS build\nRUN head -c 300000 /dev/zero > /blob && rm /blob && echo hi > /out\n"
        "FROM busybox:test\nCOPY --from=build /out /out\nRUN head -c 200000 /dev/zero > /kept\n"
    )
    shared_store.build_ok(context, "-t", "report:test")
    page = tmp_path / "report.html"
    shared_store.ok(
        "analyze",
        "report:test",
        "--html",
        str(page),
        "--svg",
        str(tmp_path / "svg"),
        "-f",
        str(context / "Dockerfile"),
    )
    assert sorted(path.name for path in (tmp_path / "svg").iterdir()) == [
        "layers.svg",
        "stages.svg",
        "treemap.svg",
    ]
    text = page.read_text()
    assert "<script" not in text and "src=" not in text and 'href="http' not in text  # nothing to fetch

    dom = chromium(tmp_path, "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    for element in ('id="treemap"', 'id="layers"', 'id="stages"', "<svg"):
        assert element in dom.stdout, element
    assert "COPY --from" in dom.stdout  # the edge of the stage graph, as text
    assert "CONSOLE" not in dom.stderr and "Failed to load resource" not in dom.stderr, dom.stderr[-2000:]

    shot = tmp_path / "shot.png"
    taken = chromium(tmp_path, f"--screenshot={shot}", page.as_uri())
    assert taken.returncode == 0 and shot.is_file(), taken.stderr[-2000:]
    with Image.open(shot) as image:
        pixels = image.convert("RGB")
        colours = pixels.getcolors(maxcolors=1 << 20) or []
        blue = sum(count for count, colour in colours if colour == CHART_BLUE)
    assert len(colours) > 50, "the screenshot is blank"
    assert blue > 10_000, "the charts' blue is not on the screen"
