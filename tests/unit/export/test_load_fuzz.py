"""`slipway load` under hostile archives: a docker-save or OCI layout whose JSON, names, digests and sizes are
anything, or a damaged tar stream, loads or is an ArchiveError (a SlipwayError), and a refused archive
leaves no image behind."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _hostile_tars import tar_streams
from slipway.errors import SlipwayError
from slipway.export.docker_archive import load_archive
from slipway.store import Store

FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MANY = settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])

JSON_LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), st.text(max_size=20)
)
ANY_JSON = st.recursive(
    JSON_LEAVES,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
CONTENT = st.one_of(st.binary(max_size=64), st.sampled_from([b"{}", b"[]", b"null", b"{" * 5000, b"\xff"]))


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@st.composite
def archives(draw: st.DrawFn) -> bytes:
    """A docker-save or OCI layout archive whose parts are plausible, wrong, or junk."""
    blobs = draw(st.lists(CONTENT, max_size=3))
    digests = [digest_of(blob) for blob in blobs] + draw(
        st.lists(st.sampled_from(["sha256:", "md5:x", ""]), max_size=1)
    )
    reference = st.one_of(st.sampled_from(digests or [""]), st.text(max_size=10))
    descriptor = st.fixed_dictionaries(
        {"mediaType": st.sampled_from(["application/vnd.oci.image.manifest.v1+json",
                                       "application/vnd.oci.image.index.v1+json", "x"]),
         "digest": reference, "size": st.integers(-1, 2**64)},
        optional={"annotations": st.dictionaries(st.sampled_from(["org.opencontainers.image.ref.name",
                                                                   "io.containerd.image.name"]), st.text(max_size=20))},
    )  # fmt: skip
    files: dict[str, bytes] = {f"blobs/sha256/{digest_of(blob)[7:]}": blob for blob in blobs}
    if draw(st.booleans()):
        entry = {"Config": draw(reference.map(lambda d: d.replace("sha256:", "blobs/sha256/"))),
                 "RepoTags": draw(st.lists(st.text(max_size=12), max_size=2)),
                 "Layers": draw(st.lists(reference, max_size=2))}  # fmt: skip
        files["manifest.json"] = json.dumps(draw(st.one_of(st.just([entry]), ANY_JSON))).encode()
    else:
        files["oci-layout"] = b'{"imageLayoutVersion": "1.0.0"}'
        index = {"schemaVersion": 2, "manifests": draw(st.lists(descriptor, max_size=2))}
        files["index.json"] = json.dumps(draw(st.one_of(st.just(index), ANY_JSON))).encode()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def loads_or_refuses(blob: bytes) -> None:
    with tempfile.TemporaryDirectory() as scratch, Store.open(Path(scratch) / "root") as store:
        try:
            load_archive(store, io.BytesIO(blob), "fuzz.tar")
        except SlipwayError:
            assert store.images.list() == [], "a refused archive leaves no image"


@FAST
@given(st.one_of(archives(), tar_streams()))
def test_hostile_archives_load_or_are_refused_cleanly(blob: bytes) -> None:
    loads_or_refuses(blob)


@pytest.mark.slow
@MANY
@given(st.one_of(archives(), tar_streams()))
def test_hostile_archives_load_or_are_refused_cleanly_many(blob: bytes) -> None:
    loads_or_refuses(blob)
