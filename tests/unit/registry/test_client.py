from __future__ import annotations

from slipway.image.oci import MEDIA_DOCKER_MANIFEST, MEDIA_OCI_INDEX
from slipway.registry.client import SCHEMA1_MEDIA_TYPES, _media_type, content_digest, is_digest


def test_media_type_from_header_or_document() -> None:
    assert _media_type(f"{MEDIA_DOCKER_MANIFEST}; charset=utf-8", b"{}") == MEDIA_DOCKER_MANIFEST
    # Registries that serve every manifest as application/json: the document says what it is.
    assert (
        _media_type("application/json", b'{"schemaVersion": 2, "mediaType": "%s"}' % MEDIA_OCI_INDEX.encode())
        == MEDIA_OCI_INDEX
    )
    assert _media_type("application/json", b'{"schemaVersion": 1, "fsLayers": []}') == SCHEMA1_MEDIA_TYPES[0]
    assert _media_type("text/plain", b"<html>") == "text/plain"


def test_digests() -> None:
    assert is_digest("sha256:" + "a" * 64) and not is_digest("latest") and not is_digest("sha256:xyz")
    assert content_digest(b"") == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert content_digest(b"", "sha512").startswith("sha512:cf83e135")
