"""Image references: Docker's normalization table (distribution/reference normalize_test.go) and grammar."""

from __future__ import annotations

from contextlib import suppress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slipway.errors import InvalidReference
from slipway.image.reference import Reference, parse_reference

DIGEST = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize(
    ("text", "normalized", "familiar", "repository"),
    [
        ("ubuntu", "docker.io/library/ubuntu:latest", "ubuntu:latest", "docker.io/library/ubuntu"),
        ("ubuntu:22.04", "docker.io/library/ubuntu:22.04", "ubuntu:22.04", "docker.io/library/ubuntu"),
        ("library/ubuntu", "docker.io/library/ubuntu:latest", "ubuntu:latest", "docker.io/library/ubuntu"),
        ("docker.io/ubuntu", "docker.io/library/ubuntu:latest", "ubuntu:latest", "docker.io/library/ubuntu"),
        (
            "index.docker.io/ubuntu",
            "docker.io/library/ubuntu:latest",
            "ubuntu:latest",
            "docker.io/library/ubuntu",
        ),
        (
            "docker.io/library/golang:1.24",
            "docker.io/library/golang:1.24",
            "golang:1.24",
            "docker.io/library/golang",
        ),
        ("foo/bar", "docker.io/foo/bar:latest", "foo/bar:latest", "docker.io/foo/bar"),
        (
            "docker.io/library/foo/bar",
            "docker.io/library/foo/bar:latest",
            "library/foo/bar:latest",
            "docker.io/library/foo/bar",
        ),
        ("localhost/app", "localhost/app:latest", "localhost/app:latest", "localhost/app"),
        ("localhost:5000/a/b:t", "localhost:5000/a/b:t", "localhost:5000/a/b:t", "localhost:5000/a/b"),
        ("127.0.0.1:5000/app:v1", "127.0.0.1:5000/app:v1", "127.0.0.1:5000/app:v1", "127.0.0.1:5000/app"),
        ("[::1]:5000/app", "[::1]:5000/app:latest", "[::1]:5000/app:latest", "[::1]:5000/app"),
        ("ghcr.io/o/r@" + DIGEST, "ghcr.io/o/r@" + DIGEST, "ghcr.io/o/r@" + DIGEST, "ghcr.io/o/r"),
        (
            "golang:1.24@" + DIGEST,
            "docker.io/library/golang:1.24@" + DIGEST,
            "golang:1.24@" + DIGEST,
            "docker.io/library/golang",
        ),
        (
            "a-b_c/e__f.g:Tag_1.x-y",
            "docker.io/a-b_c/e__f.g:Tag_1.x-y",
            "a-b_c/e__f.g:Tag_1.x-y",
            "docker.io/a-b_c/e__f.g",
        ),
        (
            "my.registry:8443/team/sub/app:2",
            "my.registry:8443/team/sub/app:2",
            "my.registry:8443/team/sub/app:2",
            "my.registry:8443/team/sub/app",
        ),
    ],
)
def test_normalizes_like_docker(text: str, normalized: str, familiar: str, repository: str) -> None:
    reference = parse_reference(text)
    assert str(reference) == normalized
    assert reference.familiar() == familiar
    assert reference.repository == repository


def test_fields_of_a_full_reference() -> None:
    reference = parse_reference("localhost:5000/team/app:v1@" + DIGEST)
    assert reference == Reference(domain="localhost:5000", path="team/app", tag="v1", digest=DIGEST)


def test_no_tag_is_latest_only_in_the_string() -> None:
    reference = parse_reference("busybox")
    assert reference.tag is None
    assert reference.digest is None
    assert str(reference) == "docker.io/library/busybox:latest"


@pytest.mark.parametrize(
    "text",
    [
        "Ubuntu",  # upper-case repository
        "ubuntu/Upper",
        "docker.io/library/UBUNTU:1",
        "localhost:5000/App",
        "ubuntu:",  # empty tag
        "ubuntu:-bad",  # a tag starts with a word character
        "ubuntu:.bad",
        "ubuntu:a/b",
        "ubuntu:" + "x" * 129,  # 128 characters at most
        "ubuntu:bad tag",
        ":tag",
        "",
        "/ubuntu",
        "ubuntu/",
        "a//b",
        "a..b",  # one separator at a time
        "a_b.c/app",  # a first component with '.' is a domain, and domains have no '_'
        "-a",
        "a-",
        "ubuntu@sha256:short",
        "ubuntu@sha256:" + "A" * 64,  # hex is lower-case
        "ubuntu@md5:" + "0" * 32,  # unknown algorithm
        "0123456789abcdef" * 4,  # a bare 64-hex string is an image ID, never a name
        "a" * 256,  # names are 255 characters at most
        "localhost:port/app",
    ],
)
def test_refuses_what_docker_refuses(text: str) -> None:
    with pytest.raises(InvalidReference, match="reference"):
        parse_reference(text)


def test_error_names_the_text() -> None:
    with pytest.raises(InvalidReference, match="Ubuntu"):
        parse_reference("Ubuntu:22.04")


def test_upper_case_tag_is_fine() -> None:
    assert parse_reference("ubuntu:Latest").tag == "Latest"


@given(st.text(max_size=80))
def test_parse_raises_nothing_but_invalid_reference(text: str) -> None:
    with suppress(InvalidReference):
        parse_reference(text)


@given(
    st.from_regex(
        r"[a-z0-9]{1,8}(\.[a-z0-9]{1,5})?(:[0-9]{1,5})?/[a-z0-9]{1,6}(/[a-z0-9]{1,6})?(:[\w][\w.-]{0,10})?",
        fullmatch=True,
    )
)
def test_normalized_form_is_a_fixed_point(text: str) -> None:
    once = str(parse_reference(text))
    assert str(parse_reference(once)) == once
    assert str(parse_reference(parse_reference(once).familiar())) == once
