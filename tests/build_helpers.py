"""The build tests' fixtures and helpers (tests/integration/conftest.py), for test modules outside that folder.

A conftest is not importable by name (every conftest is "conftest"), so it is loaded from its path once,
under a name of its own. tests/ is on sys.path because tests/conftest.py sits there without an __init__.py.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

MODULE_NAME = "slipway_build_test_helpers"


def load() -> ModuleType:
    if MODULE_NAME in sys.modules:
        return sys.modules[MODULE_NAME]
    path = Path(__file__).resolve().parent / "integration" / "conftest.py"
    spec = importlib.util.spec_from_file_location(MODULE_NAME, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE_NAME] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module
