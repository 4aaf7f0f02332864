"""The registry room's names: each the object it promises, loaded on first use, so a build that never reaches
a registry (it resolves its FROM images through registry/resolver.py) imports no HTTP client."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
import types

import slipway.registry


def test_every_exported_name_is_what_it_promises_even_after_its_modules_loaded() -> None:
    for module in pkgutil.iter_modules(slipway.registry.__path__):
        importlib.import_module(f"slipway.registry.{module.name}")
    for name in slipway.registry.__all__:
        value = getattr(slipway.registry, name)
        assert not isinstance(value, types.ModuleType), name
    assert callable(slipway.registry.login) and slipway.registry.login.__name__ == "login"


def test_the_resolver_loads_no_http_client() -> None:
    code = "import sys, slipway.registry.resolver, slipway.pipeline; print('httpx' in sys.modules)"
    answer = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert answer.stdout.strip() == "False"
