"""What a dynamic ELF program loads, found as glibc's loader finds it inside the image: DT_RPATH/DT_RUNPATH
($ORIGIN expanded), LD_LIBRARY_PATH, the directories of /etc/ld.so.conf (and its includes), then the default
directories; every library's own DT_NEEDED in turn. And the /etc/passwd and /etc/group lines a USER needs."""

from __future__ import annotations

import posixpath
from pathlib import Path

from slipway.analysis._elf import ElfProgram, inspect_program
from slipway.analysis._read import extract_files
from slipway.analysis._tree import Tree
from slipway.store import ImageRecord, Store

__all__ = ["find_libraries", "passwd_files"]

DEFAULT_DIRECTORIES = (
    "lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "lib/aarch64-linux-gnu", "usr/lib/aarch64-linux-gnu",
    "lib64", "usr/lib64", "lib", "usr/lib", "usr/local/lib",
)  # fmt: skip
LD_SO_CONF = "etc/ld.so.conf"
LD_SO_CONF_DIR = "etc/ld.so.conf.d"
TEXT_CAP = 1 << 20


def find_libraries(
    store: Store,
    image: ImageRecord,
    tree: Tree,
    program: str,
    elf: ElfProgram,
    ld_library_path: str,
    work: Path,
) -> list[str] | str:
    """The paths (relative, as the loader looks them up) of the loader and every library `program` needs;
    a reason (str) when one is missing from the image."""
    found: list[str] = []
    if elf.interpreter:
        loader = elf.interpreter.lstrip("/")
        if not _is_file(tree, loader):
            return f"/{program} needs its loader {elf.interpreter}, which is not in the image"
        found.append(loader)
    directories = _configured_directories(store, image, tree, work)
    extra = [item.lstrip("/") for item in ld_library_path.split(":") if item]
    seen: set[str] = set()
    level: list[tuple[str, ElfProgram]] = [(program, elf)]
    while level:
        wanted: list[str] = []
        for path, info in level:
            origin = posixpath.dirname(path)
            search = [_expand_origin(item, origin) for item in info.search_paths] + extra + directories
            for name in info.needed:
                if name in seen:
                    continue
                seen.add(name)
                location = _locate(tree, name, search)
                if location is None:
                    return f"/{path} needs {name}, which is not in the image"
                found.append(location)
                wanted.append(location)
        level = _inspect_all(store, image, tree, wanted, work)
    return list(dict.fromkeys(found))


def _inspect_all(
    store: Store, image: ImageRecord, tree: Tree, paths: list[str], work: Path
) -> list[tuple[str, ElfProgram]]:
    resolved = {path: tree.resolve(path) or path for path in paths}
    extracted = extract_files(store, image, tree, list(resolved.values()), work)
    level = []
    for target in resolved.values():
        info = inspect_program(extracted[target]) if target in extracted else None
        if isinstance(info, ElfProgram):
            level.append((target, info))
    return level


def _locate(tree: Tree, name: str, directories: list[str]) -> str | None:
    if "/" in name:
        return name.lstrip("/") if _is_file(tree, name) else None
    for directory in dict.fromkeys(directories):
        candidate = f"{directory.strip('/')}/{name}" if directory.strip("/") else name
        if _is_file(tree, candidate):
            return candidate
    return None


def _expand_origin(item: str, origin: str) -> str:
    return item.replace("${ORIGIN}", "/" + origin).replace("$ORIGIN", "/" + origin).lstrip("/")


def _is_file(tree: Tree, path: str) -> bool:
    resolved = tree.resolve(path)
    file = tree.get(resolved) if resolved is not None else None
    return file is not None and file.entry.kind in ("file", "hardlink")


def _configured_directories(store: Store, image: ImageRecord, tree: Tree, work: Path) -> list[str]:
    """/etc/ld.so.conf's directories and those of the files it includes (ld.so.conf.d/*.conf), then the
    defaults."""
    node = tree.node(LD_SO_CONF_DIR)
    included = sorted(
        f"{LD_SO_CONF_DIR}/{name}" for name in (node.children if node else ()) if name.endswith(".conf")
    )
    texts = _read_texts(store, image, tree, [LD_SO_CONF, *included], work)
    directories = []
    for path in [LD_SO_CONF, *included]:
        for line in texts.get(path, "").splitlines():
            line = line.split("#", 1)[0].strip()
            if line and not line.startswith("include"):
                directories.append(line.lstrip("/"))
    return directories + list(DEFAULT_DIRECTORIES)


def _read_texts(store: Store, image: ImageRecord, tree: Tree, paths: list[str], work: Path) -> dict[str, str]:
    resolved = {path: tree.resolve(path) or path for path in paths}
    extracted = extract_files(store, image, tree, list(resolved.values()), work)
    texts = {}
    for path, target in resolved.items():
        if target in extracted:
            with extracted[target].open("rb") as handle:
                texts[path] = handle.read(TEXT_CAP).decode("utf-8", errors="replace")
    return texts


def passwd_files(
    store: Store, image: ImageRecord, tree: Tree, user: str, work: Path
) -> tuple[tuple[str, str], ...]:
    """/etc/passwd and /etc/group with only root's lines and USER's, when the image has them."""
    texts = _read_texts(store, image, tree, ["etc/passwd", "etc/group"], work)
    if "etc/passwd" not in texts:
        return ()
    name, _, group = user.partition(":")
    users = _kept_lines(texts["etc/passwd"], {"root", "0", name} - {""})
    groups = {"root", "0", group} | {line.split(":")[3] for line in users if line.count(":") >= 3}
    files = [("/etc/passwd", "\n".join(users) + "\n")]
    if "etc/group" in texts:
        files.append(
            ("/etc/group", "\n".join(_kept_lines(texts["etc/group"], groups - {""}, by_id=2)) + "\n")
        )
    return tuple(files)


def _kept_lines(text: str, wanted: set[str], by_id: int = 2) -> list[str]:
    """Lines whose name (field 0) or numeric id (field `by_id`) is wanted."""
    kept = []
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) > by_id and (fields[0] in wanted or fields[by_id] in wanted):
            kept.append(line)
    return kept
