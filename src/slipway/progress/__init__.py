"""slipway.progress: progress events and the renderers that draw them (plain, tty, rawjson, quiet).

Solver and worker emit events to an `EventSink` (a step's through `step()`); only renderers print. The event
types load at once; the renderers (and rich) only when first used, so a room that merely emits events stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from slipway._lazy import lazy_attributes
from slipway.progress.events import (
    BuildMessage,
    Discard,
    Event,
    EventSink,
    StepCached,
    StepDone,
    StepFailed,
    StepLog,
    StepReporter,
    StepStarted,
    step,
)

if TYPE_CHECKING:
    from slipway.progress.failure import format_run_failure
    from slipway.progress.plain import PlainRenderer
    from slipway.progress.rawjson import RawJsonRenderer, decode_event, encode_event
    from slipway.progress.render import ProgressMode, QuietRenderer, open_renderer
    from slipway.progress.tty import TtyRenderer

__all__ = [
    "BuildMessage",
    "Discard",
    "Event",
    "EventSink",
    "PlainRenderer",
    "ProgressMode",
    "QuietRenderer",
    "RawJsonRenderer",
    "StepCached",
    "StepDone",
    "StepFailed",
    "StepLog",
    "StepReporter",
    "StepStarted",
    "TtyRenderer",
    "decode_event",
    "encode_event",
    "format_run_failure",
    "open_renderer",
    "step",
]

_LAZY = {
    "format_run_failure": "slipway.progress.failure",
    "PlainRenderer": "slipway.progress.plain",
    "RawJsonRenderer": "slipway.progress.rawjson",
    "decode_event": "slipway.progress.rawjson",
    "encode_event": "slipway.progress.rawjson",
    "ProgressMode": "slipway.progress.render",
    "QuietRenderer": "slipway.progress.render",
    "open_renderer": "slipway.progress.render",
    "TtyRenderer": "slipway.progress.tty",
}


__getattr__ = lazy_attributes(__name__, _LAZY)
