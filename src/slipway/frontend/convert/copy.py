"""COPY and ADD to a Copy vertex (BuildKit's dispatchCopy): context, --from, URL, git and here-document
sources, one tree per instruction."""

from __future__ import annotations

import functools
import posixpath
import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import msgspec

from slipway.errors import DockerfileError, ExpansionError, SourceLocation
from slipway.frontend._golang import go_quote
from slipway.frontend.convert.paths import dest_path
from slipway.frontend.convert.state import StageState
from slipway.frontend.git_url import GitUrlError, is_git_url, parse_git_url
from slipway.frontend.instructions import AddCommand, CopyCommand, InlineFile, check_chmod
from slipway.frontend.instructions.values import check_value
from slipway.graph.ops import Copy, GitSource, HttpSource, InlineSource, Vertex

if TYPE_CHECKING:
    from slipway.frontend.convert.converter import Converter


@functools.cache
def _digest_pattern() -> re.Pattern[str]:
    return re.compile(r"(sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128})")


def dispatch_copy(converter: Converter, state: StageState, command: CopyCommand | AddCommand) -> None:
    is_add = isinstance(command, AddCommand)
    keyword = "ADD" if is_add else "COPY"
    location = command.location
    sources = tuple(converter.expand(state, source, location, keyword) for source in command.sources)
    dest_written = converter.expand(state, command.dest, location, keyword)
    chown = converter.expand_optional(state, command.chown, location, f"{keyword} --chown")
    chmod = converter.expand_optional(state, command.chmod, location, f"{keyword} --chmod")
    if chmod is not None:
        check_value(check_chmod, chmod, location, keyword)
    exclude = tuple(
        converter.expand(state, pattern, location, f"{keyword} --exclude") for pattern in command.exclude
    )
    if len(sources) + len(command.inline) > 1 and not dest_written.endswith("/"):
        raise DockerfileError(
            f"When using {keyword} with more than one source file, the destination must be a directory "
            f"and end with a / (got {dest_written!r})",
            location,
        )
    copy = Copy(
        sources=(),
        dest=dest_path(state.workdir, dest_written),
        chown=chown,
        chmod=chmod,
        link=command.link,
        parents=isinstance(command, CopyCommand) and command.parents,
        exclude=exclude,
        is_add=is_add,
        unpack=command.unpack if isinstance(command, AddCommand) else None,
    )
    tree, changes = _copy_source(converter, state, command, sources, location)
    meta = converter.meta(state, converter.step_text(state, command.original, location), location)
    op = msgspec.structs.replace(copy, **changes)
    state.root = Vertex(op, inputs=(state.root, tree), meta=meta)
    state.layers += 1
    converter.commit(state, _copy_message(keyword, command, sources, chown, chmod, dest_written), True, True)


def _copy_source(
    converter: Converter,
    state: StageState,
    command: CopyCommand | AddCommand,
    sources: tuple[str, ...],
    location: SourceLocation,
) -> tuple[Vertex, dict[str, object]]:
    """The tree one COPY/ADD reads from, and what its Copy op takes from it.

    One instruction is one Copy vertex (one layer, one history entry), so its sources must come from
    one tree: paths of the context or --from, one URL, one git repository, or here-documents.
    """
    keyword = "ADD" if isinstance(command, AddCommand) else "COPY"
    checksum = None
    if isinstance(command, AddCommand):
        checksum = converter.expand_optional(state, command.checksum, location, "ADD --checksum")
    remotes = [(source, _remote_source(converter, command, source, checksum, location)) for source in sources]
    kinds = {"remote " + source if remote else "local" for source, remote in remotes}
    if command.inline:
        kinds.add("here-document")
    if len(kinds) > 1:
        raise DockerfileError(
            f"{keyword} reads from several places at once ({', '.join(sorted(kinds))}); slipway needs one "
            f"{keyword} per URL, git repository or kind of source: split the instruction",
            location,
        )
    if command.inline:
        files = tuple(
            (inline.name, _inline_content(converter, state, inline, location, keyword), 0o644)
            for inline in command.inline
        )
        names = tuple(inline.name for inline in command.inline)
        return Vertex(InlineSource(files=files)), {"sources": names, "unpack": False}
    remote = remotes[0][1] if remotes else None
    if remote is not None:
        return remote
    if isinstance(command, AddCommand) and command.checksum is not None:
        raise DockerfileError("ADD --checksum needs an HTTP(S) or git source", location)
    return _copy_tree(converter, state, command, sources, location), {"sources": sources}


def _copy_tree(
    converter: Converter,
    state: StageState,
    command: CopyCommand | AddCommand,
    sources: tuple[str, ...],
    location: SourceLocation,
) -> Vertex:
    if isinstance(command, CopyCommand) and command.from_ref is not None:
        reference = command.from_ref
        try:
            literal = converter.lexer.expand_word(reference, {})
        except ExpansionError:
            literal = ""
        if literal != reference:
            raise DockerfileError(
                "variable expansion is not supported for --from, define a new stage with FROM using ARG "
                "from global scope as a workaround",
                location,
            )
        return converter.source_tree(
            state,
            reference,
            location,
            f"COPY --from={reference}",
            lambda stage: (
                f"cannot copy from stage {go_quote(reference)}, it needs to be defined before "
                f"current stage {go_quote(state.stage.display_name)}"
            ),
        )
    for source in sources:
        converter.hooks.context_read("ADD" if isinstance(command, AddCommand) else "COPY", source, location)
    return converter.context_vertex()


def _remote_source(
    converter: Converter,
    command: CopyCommand | AddCommand,
    source: str,
    checksum: str | None,
    location: SourceLocation,
) -> tuple[Vertex, dict[str, object]] | None:
    """ADD's URL and git sources (COPY refuses them); None for a path in the source tree."""
    is_git = is_git_url(source)
    is_http = not is_git and source.startswith(("http://", "https://"))
    if not is_git and not is_http:
        return None
    if isinstance(command, CopyCommand):
        kind = "a git repository" if is_git else "a URL"
        raise DockerfileError(f"COPY: source {source!r} is {kind}; use ADD for remote sources", location)
    if is_git:
        git, subdir = _git_source(command, source, checksum, location)
        return Vertex(git), {"sources": (subdir or ".",), "unpack": False}
    if checksum is not None and not _digest_pattern().fullmatch(checksum):
        raise DockerfileError(f"ADD --checksum={checksum}: expected sha256:<64 hex digits>", location)
    filename = posixpath.basename(urlsplit(source).path) or "__unnamed__"
    if filename in (".", "/"):
        filename = "__unnamed__"
    http = HttpSource(url=source, filename=filename, checksum=checksum)
    # Remote files are not unpacked unless --unpack says so (docker docs, ADD).
    return Vertex(http), {"sources": (filename,), "unpack": bool(command.unpack)}


def _git_source(
    command: AddCommand, source: str, checksum: str | None, location: SourceLocation
) -> tuple[GitSource, str]:
    """ADD of a git URL (BuildKit's grammar): --keep-git-dir and --checksum, or the URL's own ?keep-git-dir=
    and ?commit=; and the subdirectory the URL names."""
    try:
        parsed = parse_git_url(source)
    except GitUrlError as err:
        raise DockerfileError(f"ADD {source}: {err}", location) from None
    keep = command.keep_git_dir if command.keep_git_dir is not None else parsed.keep_git_dir
    git = GitSource(
        url=parsed.remote,
        ref=parsed.ref,
        keep_git_dir=bool(keep),
        submodules=parsed.submodules,
        checksum=checksum or parsed.checksum,
    )
    return git, parsed.subdir


def _inline_content(
    converter: Converter, state: StageState, inline: InlineFile, location: SourceLocation, what: str
) -> str:
    if not inline.expand:
        return inline.content
    # BuildKit expands a heredoc with quotes left as they are: escape them for the word lexer.
    escaped = _escape_quotes(inline.content, converter.heredoc_lexer.escape)
    return converter.expand_with(converter.heredoc_lexer, state, escaped, location, what)


def _copy_message(
    keyword: str,
    command: CopyCommand | AddCommand,
    sources: tuple[str, ...],
    chown: str | None,
    chmod: str | None,
    dest: str,
) -> str:
    parts = [keyword]
    if isinstance(command, CopyCommand) and command.parents:
        parts.append("--parents")
    if chown:
        parts.append(f"--chown={chown}")
    if chmod:
        parts.append(f"--chmod={chmod}")
    parts.extend(sources)
    parts.extend(f"<<{inline.name}" for inline in command.inline)
    parts.append(dest)
    return " ".join(parts)


def _escape_quotes(content: str, escape: str) -> str:
    """Escape the quotes of a heredoc body so the word lexer keeps them (BuildKit: SkipProcessQuotes)."""
    out: list[str] = []
    escaped = False
    for char in content:
        if escaped:
            out.append(char)
            escaped = False
        elif char == escape:
            out.append(char)
            escaped = True
        elif char in "\"'":
            out.append(escape + char)
        else:
            out.append(char)
    return "".join(out)
