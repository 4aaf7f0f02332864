"""Image references ("golang:1.24", "localhost:5000/app@sha256:...") with Docker's grammar and normalization.

The grammar is distribution/reference's (reference.go, normalize.go): a name of an optional domain and a
lower-case path, an optional tag, an optional digest. Normalization is Docker's: no domain means docker.io,
a one-component path on docker.io gets "library/", "index.docker.io" is "docker.io".
"""

from __future__ import annotations

import re

import msgspec

from slipway.errors import InvalidReference
from slipway.image.oci import Digest

__all__ = ["DEFAULT_DOMAIN", "Reference", "parse_reference"]

DEFAULT_DOMAIN = "docker.io"
_LEGACY_DOMAIN = "index.docker.io"
_OFFICIAL_PREFIX = "library/"
_NAME_TOTAL_LENGTH_MAX = 255

_ALPHANUMERIC = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALPHANUMERIC}(?:{_SEPARATOR}{_ALPHANUMERIC})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_HOST = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|{_IPV6})"
_DOMAIN = rf"{_HOST}(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

_REFERENCE = re.compile(
    rf"(?P<name>(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    rf"(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?"
)
_DOMAIN_ONLY = re.compile(_DOMAIN)
_HEX64 = re.compile(r"[a-f0-9]{64}")
# Digest algorithms Docker's go-digest knows, with their hex lengths; anything else is refused.
_DIGEST_HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}


class Reference(msgspec.Struct, frozen=True):
    """A parsed, normalized image reference. `tag` and `digest` may both be set ("a:1@sha256:...")."""

    domain: str
    path: str
    tag: str | None
    digest: Digest | None

    def __str__(self) -> str:
        text = self.repository
        if self.tag is not None:
            text += f":{self.tag}"
        elif self.digest is None:
            text += ":latest"
        if self.digest is not None:
            text += f"@{self.digest}"
        return text

    @property
    def repository(self) -> str:
        return f"{self.domain}/{self.path}"

    def familiar(self) -> str:
        """The short form `docker images` shows: docker.io and library/ dropped ("golang:1.24")."""
        name = self.repository
        if self.domain == DEFAULT_DOMAIN:
            name = self.path
            if name.startswith(_OFFICIAL_PREFIX) and "/" not in name[len(_OFFICIAL_PREFIX) :]:
                name = name[len(_OFFICIAL_PREFIX) :]
        return str(self).replace(self.repository, name, 1)

    def with_tag(self, tag: str) -> Reference:
        if not re.fullmatch(_TAG, tag):
            raise InvalidReference(
                f"invalid tag {tag!r}: use letters, digits, '_', '.' and '-' (128 at most)"
            )
        return Reference(self.domain, self.path, tag, None)


def parse_reference(text: str) -> Reference:
    """Parse and normalize like `docker pull` does (reference.ParseNormalizedNamed); InvalidReference otherwise."""
    if _HEX64.fullmatch(text):
        raise InvalidReference(
            f"invalid reference {text!r}: a 64-character hexadecimal string is an image ID, not a repository name"
        )
    domain, remainder = _split_domain(text)
    name_part = remainder.split("@", 1)[0]
    if ":" in name_part:
        name_part = name_part.rsplit(":", 1)[0]
    if name_part.lower() != name_part:
        raise InvalidReference(
            f"invalid reference {text!r}: repository name {name_part!r} must be lower-case"
        )
    match = _REFERENCE.fullmatch(f"{domain}/{remainder}")
    if match is None or not _DOMAIN_ONLY.fullmatch(domain):
        raise InvalidReference(
            f"invalid reference format {text!r}: expected [domain/]path[:tag][@digest], e.g. "
            "'golang:1.24' or 'localhost:5000/app@sha256:<hex>'"
        )
    name = match.group("name")
    if len(name) > _NAME_TOTAL_LENGTH_MAX:
        raise InvalidReference(f"invalid reference {text!r}: repository name is longer than 255 characters")
    digest = match.group("digest")
    if digest is not None:
        _check_digest(text, digest)
    path = name[len(domain) + 1 :]
    return Reference(domain, path, match.group("tag"), Digest(digest) if digest else None)


def _split_domain(text: str) -> tuple[str, str]:
    """Docker's splitDockerDomain: the first component is a domain if it has '.' or ':', or is "localhost"."""
    first, slash, rest = text.partition("/")
    if not slash or (not any(c in first for c in ".:") and first != "localhost" and first.lower() == first):
        domain, remainder = DEFAULT_DOMAIN, text
    else:
        domain, remainder = first, rest
    if domain == _LEGACY_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = _OFFICIAL_PREFIX + remainder
    return domain, remainder


def _check_digest(text: str, digest: str) -> None:
    algorithm, _, hex_part = digest.partition(":")
    expected_length = _DIGEST_HEX_LENGTHS.get(algorithm)
    if expected_length is None:
        raise InvalidReference(f"invalid reference {text!r}: unsupported digest algorithm {algorithm!r}")
    if len(hex_part) != expected_length or hex_part.lower() != hex_part:
        raise InvalidReference(
            f"invalid reference {text!r}: a {algorithm} digest is {expected_length} lower-case hex characters"
        )
