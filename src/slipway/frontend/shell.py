"""Word expansion ($VAR, ${VAR:-default}, quotes, escapes) by BuildKit's `frontend/dockerfile/shell` rules."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["ShellLexer"]


class ShellLexer:
    def __init__(self, escape: str = "\\") -> None:
        self.escape = escape

    def expand_word(self, word: str, env: Mapping[str, str]) -> str:
        """Expand one word; ExpansionError (no location) when it cannot be expanded."""
        raise NotImplementedError

    def expand_words(self, word: str, env: Mapping[str, str]) -> list[str]:
        """Expand and split into words on unquoted white space, as for the exec form."""
        raise NotImplementedError

    def expand_with_matches(self, word: str, env: Mapping[str, str]) -> tuple[str, frozenset[str]]:
        """The expansion and the names of the variables the word referenced (BuildKit's ProcessWordWithMatches)."""
        raise NotImplementedError
