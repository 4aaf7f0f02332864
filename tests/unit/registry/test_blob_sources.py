from __future__ import annotations

from pathlib import Path

from slipway.image.oci import Digest
from slipway.registry.blob_sources import BlobSources

A = Digest("sha256:" + "a" * 64)
B = Digest("sha256:" + "b" * 64)


def test_records_repositories_per_registry_and_forgets(tmp_path: Path) -> None:
    sources = BlobSources(tmp_path)
    sources.record("r:5000", "team/app", [A, B])
    sources.record("r:5000", "team/base", [A])
    sources.record("other:5000", "x", [A])
    sources.record("r:5000", "team/app", [A])  # twice is once
    assert sources.repositories("r:5000", A) == ["team/app", "team/base"]
    assert sources.repositories("r:5000", B) == ["team/app"]
    sources.forget("r:5000", "team/app", A)
    assert sources.repositories("r:5000", A) == ["team/base"]
    assert BlobSources(tmp_path).repositories("nowhere", A) == []
