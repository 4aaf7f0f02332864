"""ADD's local archives under hostile input: any tar stream, damaged or not, unpacks or is an ArchiveError;
nothing lands outside the destination and no other exception escapes."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from _hostile_tars import tar_streams
from slipway.errors import SlipwayError
from slipway.worker._archive import extract_archive, is_archive
from slipway.worker.rootpath import Root

FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MANY = settings(max_examples=4000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def extracts_or_refuses(blob: bytes) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        archive = root / "input.tar"
        archive.write_bytes(blob)
        dest = root / "dest"
        dest.mkdir()
        with archive.open("rb") as raw, Root(dest) as dest_root:
            if is_archive(raw):
                for owner in (None, (1000, 1000)):
                    with contextlib.suppress(SlipwayError):
                        extract_archive(raw, archive.name, dest_root, owner=owner)
        assert sorted(os.listdir(root)) == ["dest", "input.tar"], "nothing is written beside the destination"


@FAST
@given(tar_streams())
def test_hostile_archives_extract_or_are_archive_errors(blob: bytes) -> None:
    extracts_or_refuses(blob)


@pytest.mark.slow
@MANY
@given(tar_streams())
def test_hostile_archives_extract_or_are_archive_errors_many(blob: bytes) -> None:
    extracts_or_refuses(blob)
