"""`slipway build --call check|outline|targets`: a build evaluated, not run (BuildKit's frontend subrequests).

    answer = evaluate("outline", BuildRequest(context=Path("."), target="app"), store=store)
    print(msgspec.json.encode(answer.document))

- targets: the stages of the Dockerfile, read from its text alone;
- outline: the build arguments, secrets and ssh sockets the target needs, with values and descriptions
  (the target's stages are converted, so their base images are resolved: pulled if the store lacks them);
- check: the build checks of every stage (of the target's stages with --target), and the error that would
  stop the build before it runs anything, if there is one. Nothing is built either way.

The documents are BuildKit's (frontend/outline.py); `text` is what `docker buildx build --call` prints for
them, `status` its exit status (1 when a check found something).
"""

from __future__ import annotations

from typing import NamedTuple

import msgspec

from slipway.choices import CallName
from slipway.errors import BuildCancelled, SlipwayError, SourceLocation
from slipway.frontend.checks import Linter, check_parsed, linter_for
from slipway.frontend.convert import convert
from slipway.frontend.outline import (
    ArgRecorder,
    LintResults,
    format_outline,
    format_targets,
    lint_results,
    list_targets,
    make_outline,
)
from slipway.frontend.parser import parse
from slipway.frontend.stages import split_stages
from slipway.pipeline import BuildRequest, prepare, read_dockerfile
from slipway.progress.clip import clip_line, clip_text
from slipway.progress.events import EventSink
from slipway.progress.failure import source_excerpt
from slipway.store import Store

__all__ = ["CallAnswer", "evaluate"]


class CallAnswer(NamedTuple):
    document: msgspec.Struct  # BuildKit's result.json
    text: str  # its human form (result.txt), ending with a newline
    status: int  # 0, or 1 when the check found warnings or an error
    error: str = ""  # the check's error as `docker buildx` prints it last (message and Dockerfile lines)


def evaluate(
    call: CallName, request: BuildRequest, *, store: Store, events: EventSink | None = None
) -> CallAnswer:
    match call:
        case "targets":
            return _targets(request)
        case "outline":
            return _outline(request, store, events)
        case "check":
            return _check(request, store, events)


def _source(request: BuildRequest) -> tuple[str, str, bytes]:
    text, shown_name, _ = read_dockerfile(request)
    return text, shown_name, text.encode("utf-8", errors="surrogateescape")


def _targets(request: BuildRequest) -> CallAnswer:
    text, shown_name, source = _source(request)
    parsed = parse(text, path=shown_name)
    listed = list_targets(parsed, split_stages(parsed), source)
    return CallAnswer(listed, format_targets(listed), 0)


def _outline(request: BuildRequest, store: Store, events: EventSink | None) -> CallAnswer:
    frontend = prepare(request, store, events, config_only=True)
    recorder = ArgRecorder(dict(request.build_args))
    graph = convert(frontend.parsed, frontend.options, frontend.resolver, recorder)
    source = frontend.text.encode("utf-8", errors="surrogateescape")
    outline = make_outline(frontend.parsed, graph, recorder, source)
    return CallAnswer(outline, format_outline(outline), 0)


def _check(request: BuildRequest, store: Store, events: EventSink | None) -> CallAnswer:
    """BuildKit's lint subrequest: every stage converted (without --target), the warnings and the error."""
    text, shown_name, source = _source(request)
    linter: Linter | None = None
    error: SlipwayError | None = None
    try:
        frontend = prepare(request, store, events, config_only=True)
        linter = linter_for(frontend.parsed, dict(request.build_args), frontend.exclude)
        check_parsed(frontend.parsed, linter)
        convert(
            frontend.parsed, frontend.options, frontend.resolver, linter, all_stages=request.target is None
        )
        message = linter.error()
        if message is not None:
            error = SlipwayError(message)
    except BuildCancelled:
        raise
    except SlipwayError as err:
        error = err
    warnings = sorted(linter.warnings if linter else (), key=lambda warning: warning.location.line)
    results = lint_results(
        shown_name, source, warnings, (error.message, error.location) if error is not None else None
    )
    status = 1 if warnings or error is not None else 0
    return CallAnswer(results, _check_text(results, text), status, _error_text(error, text))


def _check_text(results: LintResults, text: str) -> str:
    """What buildx prints for a check: the count, then each warning with its rule, link and lines."""
    warnings = results.warnings or ()
    lines = text.split("\n")
    out: list[str] = []
    if warnings:
        count = "1 warning has" if len(warnings) == 1 else f"{len(warnings)} warnings have"
        out.append(f"Check complete, {count} been found!")
    for warning in warnings:
        link = f" - {warning.url}" if warning.url else ""
        out += ["", f"WARNING: {warning.rule_name}{link}", clip_line(warning.detail)]
        if warning.location is not None:
            start, end = warning.location.ranges[0].start.line, warning.location.ranges[0].end.line
            out += source_excerpt(lines, SourceLocation(results.sources[0].filename, start, end))
    if not warnings and results.error is None:
        out.append("Check complete, no warnings found.")
    return "".join(line + "\n" for line in out)


def _error_text(error: SlipwayError | None, text: str) -> str:
    if error is None:
        return ""
    excerpt = source_excerpt(text.split("\n"), error.location) if error.location is not None else []
    return "\n".join([clip_text(error.message), *excerpt])
