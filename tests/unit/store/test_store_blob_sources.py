from __future__ import annotations

from pathlib import Path

from slipway.image.oci import Digest
from slipway.store import Store

A = Digest("sha256:" + "a" * 64)
B = Digest("sha256:" + "b" * 64)


def test_records_repositories_per_registry_and_forgets(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        _record_and_forget(store)
    with Store.open(tmp_path) as store:
        assert store.blob_sources.repositories("r:5000", A) == ["team/base"], "kept in meta.db"
        assert store.blob_sources.repositories("nowhere", A) == []


def _record_and_forget(store: Store) -> None:
    sources = store.blob_sources
    sources.record("r:5000", "team/app", [A, B])
    sources.record("r:5000", "team/base", [A])
    sources.record("other:5000", "x", [A])
    sources.record("r:5000", "team/app", [A])  # twice is once
    assert sources.repositories("r:5000", A) == ["team/app", "team/base"]
    assert sources.repositories("r:5000", B) == ["team/app"]
    sources.forget("r:5000", "team/app", A)
    assert sources.repositories("r:5000", A) == ["team/base"]
