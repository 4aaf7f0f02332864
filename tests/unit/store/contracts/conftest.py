"""What each contract suite runs against, as containerd's snapshot testsuite runs against every snapshotter: a
fixture per protocol, typed as the protocol, so that a suite uses nothing else. Each protocol has one
implementation, a part of the store in tmp_path (`store`, tests/unit/store/conftest.py); another one would
join by making these fixtures parametrized."""

from __future__ import annotations

import pytest

from slipway.store import CacheRecords, ContentStore, ImageStore, Snapshotter, Store


@pytest.fixture
def blobs(store: Store) -> ContentStore:
    return store.blobs


@pytest.fixture
def images(store: Store) -> ImageStore:
    return store.images


@pytest.fixture
def snapshots(store: Store) -> Snapshotter:
    return store.snapshots


@pytest.fixture
def cache(store: Store) -> CacheRecords:
    return store.cache
