"""The build cache's config in BuildKit's cacheconfig.v0: written by slipway, read back, read from BuildKit."""

from __future__ import annotations

import json

import pytest

from slipway.errors import ArchiveError
from slipway.export._cache_config import (
    ChainRecord,
    decode_config,
    decode_inline,
    encode_config,
    encode_inline,
)
from slipway.image.layers import LayerInfo
from slipway.image.oci import Descriptor, DiffID, Digest

GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"


def layer(name: str) -> LayerInfo:
    blob = Digest("sha256:" + name * 64)
    return LayerInfo(DiffID("sha256:" + name.upper() * 64), Descriptor(GZIP, blob, 10), 20, None)


BASE, MIDDLE, TOP = layer("a"), layer("b"), layer("c")
DESCRIPTORS = {info.descriptor.digest: info.descriptor for info in (BASE, MIDDLE, TOP)}


def test_records_survive_the_buildkit_format_sharing_their_lower_layers() -> None:
    records = [
        ChainRecord("sha256:key-top", (BASE, MIDDLE, TOP), 1_700_000_000.25),
        ChainRecord("sha256:key-middle", (BASE, MIDDLE), None),
    ]
    data = encode_config(records)
    document = json.loads(data)
    assert [entry["parent"] for entry in document["layers"]] == [-1, 0, 1]  # BASE listed once
    assert document["records"][0] == {
        "digest": "sha256:key-top",
        "layers": [{"layer": 2, "createdAt": "2023-11-14T22:13:20.25Z"}],
    }
    assert document["layers"][0]["annotations"]["diffID"] == BASE.diff_id
    assert decode_config(data, DESCRIPTORS, "test") == records


def test_a_buildkit_config_is_read() -> None:
    # As BuildKit writes it: Go's zero time, nanoseconds, results on some records only, inputs.
    data = json.dumps(
        {
            "layers": [
                {"blob": BASE.descriptor.digest, "parent": -1, "annotations": {"diffID": BASE.diff_id}},
                {"blob": TOP.descriptor.digest, "annotations": {"diffID": TOP.diff_id}},  # parent 0, omitted
            ],
            "records": [
                {"digest": "sha256:root"},
                {
                    "digest": "sha256:step",
                    "layers": [{"layer": 1, "createdAt": "2023-11-14T22:13:20.123456789+00:00"}],
                    "inputs": [[{"selector": "", "link": 0}]],
                },
            ],
        }
    ).encode()
    (record,) = decode_config(data, DESCRIPTORS, "test")
    assert record.key == "sha256:step"
    assert [info.diff_id for info in record.layers] == [BASE.diff_id, TOP.diff_id]
    assert record.created is not None and int(record.created) == 1_700_000_000


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"layers": [{"blob": "sha256:" + "f" * 64, "parent": -1}]}, "the manifest does not"),
        ({"layers": [{"blob": BASE.descriptor.digest, "parent": -1}]}, "no diffID"),
        (
            {
                "layers": [{"blob": BASE.descriptor.digest, "parent": 0, "annotations": {"diffID": "x"}}],
                "records": [{"digest": "k", "layers": [{"layer": 0}]}],
            },
            "has no bottom",
        ),
        ({"records": [{"digest": "k", "layers": [{"layer": 5}]}]}, "has no bottom"),
        ({"layers": "nope"}, "not valid"),
    ],
)
def test_a_config_that_cannot_be_a_cache_is_an_archive_error(document: object, message: str) -> None:
    with pytest.raises(ArchiveError, match=message):
        decode_config(json.dumps(document).encode(), DESCRIPTORS, "test")


def test_an_inline_cache_is_read_by_diff_id_from_the_image_as_pushed() -> None:
    """The config is written while the layers are still the store's uncompressed blobs; the image is pushed
    with them compressed: the records must name the pushed blobs. A record of a layer the image does not hold
    (a base image's, from another builder) is left out."""
    local = [
        LayerInfo(
            info.diff_id,
            Descriptor("application/vnd.oci.image.layer.v1.tar", info.descriptor.digest[:-1] + "0", 30),
            30,
            None,
        )
        for info in (BASE, MIDDLE)
    ]
    foreign = layer("d")
    value = encode_inline(
        [
            ChainRecord("sha256:key-middle", (local[0], local[1]), 1_700_000_000.0),
            ChainRecord("sha256:key-base", (local[0],), None),
            ChainRecord("sha256:key-foreign", (local[0], foreign), None),
        ]
    )
    pushed = [BASE.descriptor, MIDDLE.descriptor]
    records = decode_inline(value, pushed, [BASE.diff_id, MIDDLE.diff_id], "test")
    assert {record.key: [info.descriptor for info in record.layers] for record in records} == {
        "sha256:key-middle": pushed,
        "sha256:key-base": pushed[:1],
    }
    assert [info.diff_id for info in records[0].layers] == [BASE.diff_id, MIDDLE.diff_id]
    with pytest.raises(ArchiveError, match="inline cache is not valid"):
        decode_inline("not base64!", pushed, [BASE.diff_id, MIDDLE.diff_id], "test")
