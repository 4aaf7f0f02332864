"""What every caller reads the same way from a store's root and the environment: the OCI runtime and the
registry settings. Apart from the public views (_api/stores.py), so that a build imports neither those views
nor slipway.registry (and httpx, ~0.2 s to import) unless a registry is really reached."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from slipway.choices import PROCESS_SANDBOX_VARIABLE
from slipway.store import REGISTRIES_FILE
from slipway.worker.overlay_driver import choose_overlay_driver
from slipway.worker.runtime import Runtime, find_runtime, with_process_sandbox

if TYPE_CHECKING:
    from slipway.registry import RegistryOptions

__all__ = ["DOCKER_CONFIG_VARIABLE", "RUNTIME_VARIABLE", "registry_options", "runtime_for"]

RUNTIME_VARIABLE = "SLIPWAY_RUNTIME"  # runc, crun or a path: the OCI runtime, instead of the probe's choice
DOCKER_CONFIG_VARIABLE = "DOCKER_CONFIG"  # where Docker's config.json (registry credentials) lives


def runtime_for(root: Path) -> Runtime:
    """The OCI runtime, as the command line picks it: $SLIPWAY_RUNTIME, else the choice kept under `root`; with
    the process sandbox $SLIPWAY_PROCESS_SANDBOX asks for. The overlay driver that its containers' root file
    systems are mounted with is chosen here too (worker/overlay_driver.py)."""
    choose_overlay_driver(root)
    runtime = find_runtime(os.environ.get(RUNTIME_VARIABLE) or None, root=root)
    return with_process_sandbox(runtime, os.environ.get(PROCESS_SANDBOX_VARIABLE))


def registry_options(root: Path, insecure_registries: Sequence[str] = ()) -> RegistryOptions | None:
    """The registry settings of the store at `root`, as `slipway pull`, `push` and `build` read them: hosts
    allowed plain HTTP (these, then <root>/registries.json's), and $DOCKER_CONFIG's credentials. None when
    nothing is set: the defaults, and slipway.registry left unimported."""
    docker_config = os.environ.get(DOCKER_CONFIG_VARIABLE)
    if not insecure_registries and not docker_config and not (root / REGISTRIES_FILE).exists():
        return None
    from slipway.registry import RegistryOptions, read_insecure_registries

    configured = read_insecure_registries(root / REGISTRIES_FILE)
    return RegistryOptions(
        insecure_registries=tuple(dict.fromkeys((*insecure_registries, *configured))),
        docker_config=Path(docker_config) if docker_config else None,
    )
