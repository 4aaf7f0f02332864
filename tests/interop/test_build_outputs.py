"""`slipway build --output type=oci` read by skopeo: the archive is a valid OCI layout holding the image."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

import build_helpers

pytestmark = [pytest.mark.interop, pytest.mark.root]


helpers = build_helpers.load()
busybox_rootfs = helpers.busybox_rootfs
busybox_tar = helpers.busybox_tar


def test_skopeo_reads_the_oci_output(busybox_tar: Path, tmp_path: Path) -> None:
    slipway = helpers.Slipway(tmp_path / "store")
    helpers.import_busybox(slipway, busybox_tar)
    context = helpers.make_context(tmp_path / "ctx", "FROM busybox:test\nLABEL format=oci\nRUN echo x > /x\n")
    archive = tmp_path / "image.oci.tar"

    slipway.build_ok(
        context,
        "-t",
        "oci-out:v1",
        "--iidfile",
        str(tmp_path / "iid"),
        "--output",
        f"type=oci,dest={archive}",
    )

    inspected = subprocess.run(
        ["skopeo", "inspect", f"oci-archive:{archive}"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert inspected.returncode == 0, inspected.stderr
    seen = json.loads(inspected.stdout)
    assert seen["Labels"] == {"format": "oci"}
    assert len(seen["Layers"]) == 2
    raw_config = subprocess.run(
        ["skopeo", "inspect", "--raw", "--config", f"oci-archive:{archive}"],
        capture_output=True,
        timeout=120,
        check=True,
    ).stdout
    assert "sha256:" + hashlib.sha256(raw_config).hexdigest() == (tmp_path / "iid").read_text()
    assert "oci-out" not in {row.repository for row in slipway.images()}  # the archive only
