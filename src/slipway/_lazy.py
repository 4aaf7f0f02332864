"""Packages whose names load on first use (PEP 562), so that importing one part of a room stays cheap."""

import importlib
import sys
from collections.abc import Callable, Mapping


def lazy_attributes(package: str, origins: Mapping[str, str]) -> Callable[[str], object]:
    """A module `__getattr__` for `package`: each name in `origins` is imported from its module when first used;
    a name whose origin is the submodule of that name (`"errors": "slipway.errors"`) is that module."""

    def __getattr__(name: str) -> object:
        module = origins.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        loaded = importlib.import_module(module)
        value = loaded if module == f"{package}.{name}" else getattr(loaded, name)
        # Kept on the package: importing a submodule binds the submodule's name there, which must not hide a
        # name of the same spelling that the submodule defines; and the next use needs no call at all.
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
