"""What the converter tells an onlooker while it dispatches: the facts build checks and the outline need.

The converter (convert.py) calls these at the points BuildKit's dockerfile2llb runs its lint rules and fills
its outline, with values already expanded; it never asks anything back. `ConvertHooks` ignores everything;
`checks.Linter` turns the facts into warnings, `outline.ArgRecorder` keeps the ARGs.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from slipway.errors import SourceLocation
    from slipway.frontend.instructions import (
        ArgDeclaration,
        CmdCommand,
        EntrypointCommand,
        EnvCommand,
        HealthcheckCommand,
        LabelCommand,
    )
    from slipway.frontend.shell import ShellLexer
    from slipway.frontend.stages import Platform, StagedDockerfile

__all__ = ["ConvertHooks"]


class ConvertHooks:
    """The hooks, each ignoring what it hears: what a plain conversion passes, and the base of the onlookers
    (which override what they listen to)."""

    def stages_split(
        self,
        staged: StagedDockerfile,
        scope: Mapping[str, str],
        defaults: Mapping[str, str],
        lexer: ShellLexer,
    ) -> None:
        """Before any stage: the stages, the global scope (--build-arg values in) and the predefined
        platform ARGs."""
        return None

    def stage_started(self, stage: int, parent: int | None) -> None:
        """A stage is dispatched, from the stage `parent` (None: an image or scratch)."""
        return None

    def base_image(self, name: str, expected: Platform, actual: Platform, location: SourceLocation) -> None:
        """FROM `name` (as written, expanded) resolved to an image made for `actual`."""
        return None

    def word_expanded(
        self,
        unmatched: Collection[str],
        scope: Mapping[str, str],
        declared: Collection[str],
        location: SourceLocation,
    ) -> None:
        """A word of an instruction was expanded: the variables it named that `scope` does not hold, and
        the ARG names declared in the stage so far (with or without a value)."""
        return None

    def arg_declared(
        self, stage: int, declaration: ArgDeclaration, value: str | None, location: SourceLocation
    ) -> None:
        """An ARG of a stage, with the value it took (None: declared without one)."""
        return None

    def pairs_set(self, command: EnvCommand | LabelCommand, keys: Collection[str]) -> None:
        """ENV or LABEL set these (expanded) keys."""
        return None

    def image_command(
        self, stage: int, command: CmdCommand | EntrypointCommand | HealthcheckCommand, shell: tuple[str, ...]
    ) -> None:
        """CMD, ENTRYPOINT or HEALTHCHECK, with the SHELL the image config held before it."""
        return None

    def workdir_changed(self, stage: int, path: str, location: SourceLocation) -> None:
        """WORKDIR `path` (expanded, as written: maybe relative)."""
        return None

    def port_exposed(self, port: str, location: SourceLocation) -> None:
        """EXPOSE of one (expanded) port specification."""
        return None

    def context_read(self, keyword: str, source: str, location: SourceLocation) -> None:
        """COPY or ADD reads `source` (expanded) from the build context."""
        return None
