"""`slipway build --call outline|targets|check --format json`: BuildKit's frontend subrequests, as docker
buildx's --call asks for them; the JSON is BuildKit's (outline.Outline, targets.List, lint.LintResults)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from buildkit._sandbox import Sandbox, helpers


def call_json(sandbox: Sandbox, context: Path, call: str, *args: str) -> dict[str, Any]:
    result = sandbox.build(context, "--call", call, "--format", "json", *args)
    assert result.returncode == 0, helpers.describe(result)
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def start_line(item: dict[str, Any]) -> int:
    """The first line of an item's pb.Location (sourceIndex 0 is left out of the JSON)."""
    line: int = item["location"]["ranges"][0]["start"]["line"]
    return line


def source_index(item: dict[str, Any]) -> int:
    index: int = item["location"].get("sourceIndex", 0)
    return index


def sources(document: dict[str, Any]) -> list[str]:
    """The Dockerfiles the answer was made from ([]byte in Go: base64 in the JSON)."""
    return [base64.b64decode(source).decode() for source in document["sources"]]
