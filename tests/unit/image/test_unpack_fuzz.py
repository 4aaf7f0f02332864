"""Layer blobs under hostile input: any tar stream, damaged or not, unpacks or is an ArchiveError; nothing
lands outside the destination and no other exception escapes."""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from _hostile_tars import tar_streams
from slipway.errors import SlipwayError
from slipway.image.layers import measure_layer, unpack_layer

FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MANY = settings(max_examples=4000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MEDIA_TYPES = ("application/vnd.oci.image.layer.v1.tar", "application/vnd.oci.image.layer.v1.tar+gzip")


def unpacks_or_refuses(blob: bytes) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        dest = root / "dest"
        for media_type in MEDIA_TYPES:
            for mode in ("overlay", "apply"):
                with contextlib.suppress(SlipwayError):
                    unpack_layer(io.BytesIO(blob), media_type, dest, whiteouts=mode)  # type: ignore[arg-type]
            with contextlib.suppress(SlipwayError):
                measure_layer(io.BytesIO(blob), media_type)
        assert sorted(os.listdir(root)) == ["dest"], "nothing is written beside the destination"


@FAST
@given(tar_streams())
def test_hostile_layer_blobs_unpack_or_are_archive_errors(blob: bytes) -> None:
    unpacks_or_refuses(blob)


@pytest.mark.slow
@MANY
@given(tar_streams())
def test_hostile_layer_blobs_unpack_or_are_archive_errors_many(blob: bytes) -> None:
    unpacks_or_refuses(blob)
