"""RUN --mount to the Exec's mounts (BuildKit's dispatchRunMounts, dockerfile2llb/convert_runmount.go)."""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING

from slipway.errors import DockerfileError, SourceLocation
from slipway.frontend._golang import go_quote
from slipway.frontend.convert.paths import join_path
from slipway.frontend.convert.state import StageState
from slipway.frontend.instructions import InvalidValue, MountSpec, parse_mount
from slipway.graph.ops import RunMount, Vertex

if TYPE_CHECKING:
    from slipway.frontend.convert.converter import Converter


def expand_mount(converter: Converter, state: StageState, text: str, location: SourceLocation) -> MountSpec:
    try:
        return parse_mount(text, lambda word: converter.expand(state, word, location, "RUN --mount"))
    except InvalidValue as err:
        raise DockerfileError(f"RUN: {err}", location) from None


def run_mount(
    converter: Converter,
    state: StageState,
    spec: MountSpec,
    inputs: list[Vertex],
    ssh_count: int,
    location: SourceLocation,
) -> RunMount:
    """BuildKit's dispatchRunMounts for one mount, with its defaults filled in."""
    # A secret's or agent's target does not follow WORKDIR (BuildKit passes it on as written): a relative
    # one is read from the container's root, as the runtime would.
    if spec.type == "secret":
        secret_id = spec.source or spec.id or posixpath.basename(spec.target.rstrip("/"))
        target = spec.target or ("" if spec.env else f"/run/secrets/{posixpath.basename(secret_id)}")
        return RunMount(
            type="secret",
            target=join_path("/", target) if target else "",
            id=secret_id,
            mode=0o400 if spec.mode is None else spec.mode,
            uid=spec.uid,
            gid=spec.gid,
            required=spec.required,
            env=spec.env,
        )
    if spec.type == "ssh":
        if spec.source:
            raise DockerfileError("RUN --mount: ssh does not support source", location)
        return RunMount(
            type="ssh",
            target=join_path("/", spec.target or f"/run/buildkit/ssh_agent.{ssh_count}"),
            id=spec.id or "default",
            mode=0o600 if spec.mode is None else spec.mode,
            uid=spec.uid,
            gid=spec.gid,
            required=spec.required,
        )
    target = join_path(state.workdir, spec.target)
    if target == "/":
        raise DockerfileError(f"RUN --mount: invalid mount target {spec.target or '/'!r}", location)
    source_vertex = _mount_source(converter, state, spec, location)
    return RunMount(
        type=spec.type,
        target=target,
        source=join_path("/", spec.source),
        input=None if source_vertex is None else input_index(inputs, source_vertex),
        readonly=spec.readonly,
        id=(spec.id or target) if spec.type == "cache" else None,
        sharing=spec.sharing or "shared",
        mode=spec.mode,
        uid=spec.uid,
        gid=spec.gid,
        size=spec.size,
    )


def _mount_source(
    converter: Converter, state: StageState, spec: MountSpec, location: SourceLocation
) -> Vertex | None:
    if spec.type == "tmpfs":
        return None
    if spec.from_ref:
        return converter.source_tree(
            state,
            spec.from_ref,
            location,
            f"RUN --mount from={spec.from_ref}",
            lambda stage: (
                f"cannot mount from stage {go_quote(spec.from_ref)} to {go_quote(spec.target)}, "
                "stage needs to be defined before current command"
            ),
        )
    return converter.context_vertex() if spec.type == "bind" else None


def input_index(inputs: list[Vertex], vertex: Vertex) -> int:
    for index, existing in enumerate(inputs):
        if index > 0 and existing.digest == vertex.digest:
            return index
    inputs.append(vertex)
    return len(inputs) - 1
