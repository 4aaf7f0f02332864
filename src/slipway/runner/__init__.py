"""slipway.runner: `slipway run`, a container from an image through the worker's executor (see DESIGN.md)."""

from slipway.runner.container import run_container
from slipway.runner.request import RunRequest, VolumeBind, merge_env, parse_volume, plan_process

__all__ = ["RunRequest", "VolumeBind", "merge_env", "parse_volume", "plan_process", "run_container"]
