"""`slipway builder prune` reclaims cache space and never takes a layer a tagged image needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.root

DOCKERFILE = """\
FROM busybox:test AS build
RUN mkdir /out && echo artefact > /out/a && head -c 200000 /dev/urandom > /out/noise
FROM busybox:test
COPY --from=build /out/a /a
RUN echo final > /final
CMD ["cat", "/a", "/final"]
"""


def test_prune_keeps_tagged_images_runnable_and_rebuilds_only_what_it_dropped(
    own_store: Any, tmp_path: Path
) -> None:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(DOCKERFILE)
    own_store.build_ok(context, "-t", "pruned:v1")

    default = own_store.ok("builder", "prune", "-f")
    assert "Total reclaimed space" in default.stdout
    # The build stage's 200 kB RUN was only cache: gone. The final image's layers stay.
    assert own_store.run_output("pruned:v1") == "artefact\nfinal\n"

    everything = own_store.ok("builder", "prune", "-a", "-f")
    assert "Total reclaimed space" in everything.stdout
    assert own_store.ok("system", "check").returncode == 0
    assert own_store.run_output("pruned:v1") == "artefact\nfinal\n"

    rebuilt = own_store.build_ok(context, "-t", "pruned:v2")
    assert "CACHED" not in rebuilt.stderr, "every record was pruned, so every step runs again"
    assert own_store.run_output("pruned:v2") == "artefact\nfinal\n"


def test_bad_filters_are_usage_errors(own_store: Any) -> None:
    result = own_store("builder", "prune", "-f", "--filter", "label=x")
    assert result.returncode == 2
    assert "until=DURATION" in result.stderr
    result = own_store("builder", "prune", "-f", "--keep-storage", "lots")
    assert result.returncode == 2
    assert "--keep-storage" in result.stderr
