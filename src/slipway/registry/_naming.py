"""Errors of a pull or push name the reference the user gave, once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from slipway.errors import RegistryError
from slipway.image.reference import Reference


@contextmanager
def naming(reference: Reference) -> Iterator[None]:
    try:
        yield
    except RegistryError as err:
        message = str(err)
        if f"{reference.domain}/{reference.path}" in message:
            raise
        # A registry-level message ("host: cannot reach ...") gets the whole reference in place of the host.
        message = message.removeprefix(f"{reference.domain}: ")
        raise type(err)(f"{reference}: {message}") from err
