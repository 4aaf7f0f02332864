"""The ImageStore contract: add (config and manifest blobs, layer records, names) in one step, resolve by name, ID,
prefix or digest, names that move, untag and remove."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from _store_images import add_image, image_parts, make_layer

from slipway.errors import DigestMismatch, ImageNotFound, InvalidReference, StoreError
from slipway.image.oci import (
    MEDIA_OCI_CONFIG,
    ImageConfig,
    Manifest,
    encode_json,
    sha256_digest,
)
from slipway.store import ContentStore, ImageRecord, ImageStore


def test_add_and_resolve_by_name(images: ImageStore, blobs: ContentStore, tmp_path: Path) -> None:
    layer = make_layer(blobs, tmp_path, {"hello.txt": b"hello\n"})
    image = add_image(images, [layer], ["golang:1.24", "localhost:5000/team/app:v1"])
    assert image.names == ("docker.io/library/golang:1.24", "localhost:5000/team/app:v1")
    assert image.id == image.manifest.config.digest
    assert image.created == "2024-01-01T00:00:00Z"
    for ref in (
        "golang:1.24",
        "docker.io/library/golang:1.24",
        "library/golang:1.24",
        "localhost:5000/team/app:v1",
    ):
        assert images.resolve(ref) == image


def test_blobs_of_an_image_are_stored_and_match(
    images: ImageStore, blobs: ContentStore, tmp_path: Path
) -> None:
    image = add_image(images, [make_layer(blobs, tmp_path, {"a": b"a"})], ["app"])
    assert msgspec.json.decode(blobs.read(image.manifest_digest), type=Manifest) == image.manifest
    assert msgspec.json.decode(blobs.read(image.id), type=ImageConfig) == image.config
    assert sha256_digest(blobs.read(image.manifest_digest)) == image.manifest_digest


def test_size_is_the_files_bytes_as_docker_counts_them(
    images: ImageStore, blobs: ContentStore, tmp_path: Path
) -> None:
    first = make_layer(blobs, tmp_path, {"big": b"x" * 100_000})
    second = make_layer(blobs, tmp_path, {"small": b"y", "dir/two": b"yz"})
    image = add_image(images, [first, second])
    assert (
        image.size == 100_000 + 1 + 2
    )  # not the tars' bytes, whose headers and padding Docker does not count
    assert first.uncompressed_size > 100_000 > first.descriptor.size


def test_layer_count_must_match_the_diff_ids(images: ImageStore, blobs: ContentStore, tmp_path: Path) -> None:
    layer = make_layer(blobs, tmp_path, {"a": b"a"})
    manifest, config = image_parts([layer, layer])
    manifest = msgspec.structs.replace(manifest, layers=manifest.layers[:1])
    with pytest.raises(StoreError, match="1 layers but the config has 2 diff_ids"):
        images.add(manifest, config)


def test_original_config_and_manifest_bytes_keep_their_digests(
    images: ImageStore, blobs: ContentStore, tmp_path: Path
) -> None:
    """An image from outside: its config has fields slipway does not model and its own key order."""
    layer = make_layer(blobs, tmp_path, {"a": b"a"})
    config_bytes = (
        b'{"os":"linux","architecture":"amd64","moby.extra":{"x":1},'
        b'"rootfs":{"type":"layers","diff_ids":["' + layer.diff_id.encode() + b'"]}}'
    )
    config_digest = blobs.put(config_bytes)
    manifest_bytes = (
        b'{\n  "schemaVersion": 2,\n  "mediaType": "application/vnd.oci.image.manifest.v1+json",\n'
        b'  "config": {"mediaType": "'
        + MEDIA_OCI_CONFIG.encode()
        + b'", "digest": "'
        + config_digest.encode()
        + b'", "size": '
        + str(len(config_bytes)).encode()
        + b'},\n  "layers": ['
        + encode_json(layer.descriptor)
        + b"]\n}\n"
    )
    manifest_digest = blobs.put(manifest_bytes)
    image = images.add(
        msgspec.json.decode(manifest_bytes, type=Manifest),
        msgspec.json.decode(config_bytes, type=ImageConfig),
        ["outside:1"],
        manifest_digest=manifest_digest,
    )
    assert image.id == config_digest
    assert image.manifest_digest == manifest_digest
    assert blobs.read(image.id) == config_bytes
    assert images.resolve(f"outside@{manifest_digest}") == image


def test_a_config_that_does_not_match_its_digest_is_refused(
    images: ImageStore, blobs: ContentStore, tmp_path: Path
) -> None:
    manifest, config = image_parts([make_layer(blobs, tmp_path, {"a": b"a"})])
    other = msgspec.structs.replace(config, os="windows")
    with pytest.raises(DigestMismatch):
        images.add(manifest, other)


def test_resolve_by_full_id_short_id_and_manifest_digest(
    images: ImageStore, blobs: ContentStore, tmp_path: Path
) -> None:
    image = add_image(images, [make_layer(blobs, tmp_path, {"a": b"a"})], ["app:1"])
    hex_id = image.id.removeprefix("sha256:")
    assert images.resolve(image.id) == image
    assert images.resolve(hex_id) == image
    assert images.resolve(hex_id[:12]) == image
    assert images.resolve("sha256:" + hex_id[:12]) == image
    assert images.resolve(f"app@{image.manifest_digest}") == image
    assert images.resolve(f"docker.io/library/app:1@{image.manifest_digest}") == image


def test_an_ambiguous_id_prefix_is_not_found(images: ImageStore, blobs: ContentStore, tmp_path: Path) -> None:
    layer = make_layer(blobs, tmp_path, {"a": b"a"})
    by_first_digit: dict[str, ImageRecord] = {}
    label = 0
    while True:  # images whose IDs share a first hex digit
        image = add_image(images, [layer], label=f"image {label}")
        label += 1
        first = image.id[len("sha256:")]
        if first in by_first_digit:
            break
        by_first_digit[first] = image
    with pytest.raises(ImageNotFound, match="matches 2 images"):
        images.resolve(first)
    assert images.resolve(image.id[7:20]) == image


def test_a_name_wins_over_an_id_prefix(images: ImageStore, blobs: ContentStore, tmp_path: Path) -> None:
    layer = make_layer(blobs, tmp_path, {"a": b"a"})
    first = add_image(images, [layer], label="first")
    prefix = first.id[7:11]
    second = add_image(images, [layer], [prefix], label="second")
    assert images.resolve(prefix) == second


@pytest.mark.parametrize("ref", ["missing:1", "sha256:" + "0" * 64, "abcdef", "app@sha256:" + "0" * 64])
def test_unknown_refs_are_not_found_naming_the_ref(
    images: ImageStore, blobs: ContentStore, tmp_path: Path, ref: str
) -> None:
    add_image(images, [make_layer(blobs, tmp_path, {"a": b"a"})], ["app"])
    with pytest.raises(ImageNotFound) as caught:
        images.resolve(ref)
    assert repr(ref) in str(caught.value)


def test_a_moved_name_leaves_the_old_image_dangling(
    images: ImageStore, blobs: ContentStore, tmp_path: Path
) -> None:
    old = add_image(
        images, [make_layer(blobs, tmp_path, {"v": b"1"})], ["app:latest"], created="2024-01-01T00:00:00Z"
    )
    new = add_image(
        images, [make_layer(blobs, tmp_path, {"v": b"2"})], ["app"], created="2024-02-01T00:00:00Z"
    )
    assert images.resolve("app") == new
    assert images.resolve(old.id).names == ()
    assert [image.id for image in images.list()] == [new.id, old.id]  # newest first


def test_tag_untag_and_remove(images: ImageStore, blobs: ContentStore, tmp_path: Path) -> None:
    image = add_image(images, [make_layer(blobs, tmp_path, {"a": b"a"})], ["app:1"])
    images.tag(image, "app:2")
    assert images.resolve("app:2").names == ("docker.io/library/app:1", "docker.io/library/app:2")
    untagged = images.untag("app:1")
    assert untagged is not None and untagged.names == ("docker.io/library/app:2",)
    assert images.untag("app:1") is None
    with pytest.raises(ImageNotFound):
        images.resolve("app:1")
    images.remove(image)
    assert images.list() == []
    with pytest.raises(ImageNotFound):
        images.resolve("app:2")
    with pytest.raises(ImageNotFound):
        images.tag(image, "app:3")


def test_a_name_with_a_digest_is_not_a_tag(images: ImageStore, blobs: ContentStore, tmp_path: Path) -> None:
    layer = make_layer(blobs, tmp_path, {"a": b"a"})
    with pytest.raises(InvalidReference, match="digest"):
        add_image(images, [layer], ["app@sha256:" + "0" * 64])
    with pytest.raises(InvalidReference):
        add_image(images, [layer], ["Not Valid"])
    assert images.list() == []


def test_remove_twice_is_not_found(images: ImageStore, blobs: ContentStore, tmp_path: Path) -> None:
    image = add_image(images, [make_layer(blobs, tmp_path, {"a": b"a"})], ["app"])
    images.remove(image)
    with pytest.raises(ImageNotFound, match=image.id):
        images.remove(image)


def test_layer_records_name_blobs_in_the_store(
    images: ImageStore, blobs: ContentStore, tmp_path: Path
) -> None:
    layer = make_layer(blobs, tmp_path, {"a": b"a"})
    assert images.layer(layer.diff_id) is None  # a blob alone says nothing of what it holds
    images.record_layer(layer)
    assert images.layer(layer.diff_id) == layer
    uncompressed = make_layer(blobs, tmp_path, {"a": b"a"}, compression="none")
    assert uncompressed.diff_id == layer.diff_id
    images.record_layer(uncompressed)
    assert images.layers(layer.diff_id) == [layer, uncompressed]  # oldest first
    blobs.remove(layer.descriptor.digest)
    assert images.layers(layer.diff_id) == [uncompressed]  # a record whose blob is gone is no layer
