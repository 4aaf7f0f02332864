"""`slipway build --call check|outline|targets` (and `--check`): docker buildx's way to evaluate a build
without running it. The work is slipway.calls; this prints its answer as buildx prints it.

The value is buildx's: `NAME[,format=json|text][,ignorestatus=true]`; `--format` sets the format too.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from slipway._fields import BadFields, split_fields
from slipway.choices import CALL_FORMATS, CALLS, CallFormat, CallName

if TYPE_CHECKING:
    from slipway.pipeline import BuildRequest

__all__ = ["Call", "parse_call", "run_call"]

_ALIASES: dict[str, CallName] = {"lint": "check"}  # buildx's older name of the check


class Call(NamedTuple):
    name: CallName
    format: CallFormat = "text"
    ignore_status: bool = False


def parse_call(value: str, format_option: CallFormat | None = None) -> Call | None:
    """buildx's ParseCallFunc: the name, then `format=` and `ignorestatus=` fields; None for "build"."""
    from slipway.errors import UsageError

    try:
        fields = split_fields(value)
    except BadFields as err:
        raise UsageError(f"--call {value!r}: {err}") from None
    name, ignore_status = "", False
    format_: str = format_option or "text"
    for field in fields:
        key, has_value, setting = field.partition("=")
        if not has_value:
            if name:
                raise UsageError(f"--call {value!r}: name one evaluation")
            name = key
        elif key == "format":
            format_ = setting
        elif key == "ignorestatus":
            ignore_status = setting.lower() in ("1", "t", "true")
        else:
            raise UsageError(
                f"--call {value!r}: unknown field {field!r}; use format=json|text, ignorestatus=true"
            )
    if name in ("", "build"):
        if format_option is not None:
            raise UsageError("--format says how --call check|outline|targets answers: give --call too")
        return None
    called = _ALIASES.get(name, name)
    chosen = next((choice for choice in CALLS if choice == called), None)
    if chosen is None:
        raise UsageError(f"--call {name}: unknown; use {', '.join(CALLS)} or build")
    answer_format = next((choice for choice in CALL_FORMATS if choice == format_), None)
    if answer_format is None:
        raise UsageError(f"--call {name}: format {format_!r} is not one of {', '.join(CALL_FORMATS)}")
    return Call(chosen, answer_format, ignore_status)


def run_call(root: Path, call: Call, request: BuildRequest, progress: str) -> None:
    """Evaluate `request` as `call` asks: the answer on stdout, an error on stderr, buildx's exit status."""
    import msgspec

    from slipway.calls import evaluate
    from slipway.contexts import local_request
    from slipway.progress.render import open_renderer
    from slipway.store import Store

    with (
        Store.open(root) as store,
        open_renderer(progress, sys.stderr) as events,  # type: ignore[arg-type]
        local_request(request, store, events) as local,  # a context from stdin, a URL or git, fetched
    ):
        answer = evaluate(call.name, local, store=store, events=events)
    if call.format == "json":
        document = msgspec.json.format(msgspec.json.encode(answer.document), indent=2)
        print(document.decode(), flush=True)
    else:
        print(answer.text, end="", flush=True)
    if answer.error:
        print(f"ERROR: {answer.error}", file=sys.stderr, flush=True)
        sys.exit(1)
    if answer.status and not call.ignore_status:
        sys.exit(answer.status)
