"""BuildKit's frontend/dockerfile/dockerfile_history_test.go, ported to slipway (see README.md).

testHistoryError and testHistoryFinalizeTrace read BuildKit's build-history records through its control
API: see NOT_PORTED.md. The image history BuildKit reads from containerd or a registry is read here from
the image in the store.
"""

from __future__ import annotations

import pytest

from buildkit._sandbox import Sandbox, file

pytestmark = pytest.mark.root


# dockerfile_history_test.go: testExportedHistory
def test_exported_history(sandbox: Sandbox) -> None:
    # using multi-stage to test that history is scoped to one stage
    dockerfile = """
FROM busybox AS base
ENV foo=bar
COPY foo /foo2
FROM busybox
LABEL lbl=val
COPY --from=base foo2 foo3
WORKDIR /
RUN echo bar > foo4
RUN ["ls"]
EXPOSE 2375 5000 1234/udp
"""
    image = sandbox.image(sandbox.context(dockerfile, file("foo", "contents0")))
    config = sandbox.image_config(image)
    assert config["rootfs"]["type"] == "layers"
    assert len(config["rootfs"]["diff_ids"]) == 4
    history = config["history"]
    assert len(history) == 8
    expected = (
        ("lbl=val", True),
        ("COPY foo2 foo3", False),
        ("WORKDIR /", True),
        ("echo bar > foo4", False),
        ("RUN ls", False),
        ("EXPOSE [1234/udp 2375/tcp 5000/tcp]", True),
    )
    for entry, (created_by, empty_layer) in zip(history[2:], expected, strict=True):
        assert created_by in entry["created_by"]
        assert entry.get("empty_layer", False) is empty_layer, entry
        assert entry.get("created"), entry


# dockerfile_history_test.go: testExportedHistoryFlattenArgs (moby/buildkit#5505)
def test_exported_history_flatten_args(sandbox: Sandbox) -> None:
    dockerfile = "\nFROM busybox\nARG foo=bar\nARG bar=123\nARG foo=bar2\nRUN ls /etc/\n"
    history = sandbox.image_config(sandbox.image(sandbox.context(dockerfile)))["history"]
    first = next(index for index, entry in enumerate(history) if entry.get("created_by") == "ARG foo=bar")
    assert first > 0
    assert len(history) == first + 4
    assert "ARG bar=123" in history[first + 1]["created_by"]
    assert "ARG foo=bar2" in history[first + 2]["created_by"]
    run_line = history[first + 3]["created_by"]
    assert "ls /etc/" in run_line
    assert "ARG foo=bar" not in run_line
    assert "RUN |2 foo=bar2 bar=123 " in run_line
