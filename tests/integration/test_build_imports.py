"""A build imports only what it uses: a cold build's start-up is mostly Python importing modules, so what a
plain build into the store never needs (the command line library, the registry client, cache export,
`slipway analyze`, ssh agent relays, the public API's views, compressors) must stay unimported.
Counted with `python -X importtime` on the real command, never timed."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Modules (and their submodules) that a build with no registry, cache, platform, ssh or analysis flag uses
# nothing of.
NOT_IMPORTED = (
    "click",
    "httpx",
    "slipway.registry.client",
    "slipway.registry.pull",
    "slipway.registry.push",
    "slipway.registry.auth",
    "slipway.registry.options",
    "slipway.export.cache",
    "slipway.analysis._analyze",
    "slipway.analysis._content",  # the toolchain hints' table: for an image with files where toolchains live
    "zstandard",  # the compressors and decompressors: for a layer to compress or a stream to read
    "isal",
    "slipway.session.agent_proxy",
    "slipway._api.stores",
    "slipway._api.registries",
    "slipway.worker._fuse_mount",  # fuse-overlayfs: the rootless driver
    "slipway.worker._fuse_upper",
    "slipway.worker.bind_sources",  # RUN --mount=type=bind
    "slipway.worker.secret_mounts",  # RUN --mount=type=secret
    "slipway.worker.emulation",  # binfmt_misc, for a RUN of another platform
    "slipway.store.gc",  # prune and gc
    # Values on a build's path are msgspec Structs: a dataclass runs generated source through exec at import
    # (~3.5M instructions each, against ~0.1M for a Struct), so not even the module is needed.
    "dataclasses",
    # What typing_extensions would import: msgspec's optional helper, answered "not installed" in slipway's
    # process (cli/__init__.py's UNUSED_IMPORTS; its failed import still shows in -X importtime's list).
    "inspect",
)

# The regexes slipway's modules compile when a build imports them: the ones every build uses (the reference
# grammar, the Dockerfile line splitters, digests, stage names and platforms). Any other is compiled on first use
# behind a functools.cache'd function, so that a build that never needs it does not pay for it.
AT_IMPORT_PATTERNS = 17

# Runs `python -m slipway ARGS` with re.compile counting the calls made by slipway modules' top-level code.
_COUNTING_COMPILES = """
import atexit, re, runpy, sys
compile_, made = re.compile, []
def counting(pattern, flags=0):
    caller = sys._getframe(1)
    if caller.f_code.co_name == "<module>" and caller.f_globals["__name__"].startswith("slipway"):
        made.append(caller.f_globals["__name__"])
    return compile_(pattern, flags)
re.compile = counting
atexit.register(lambda: print("compiled at import:", *made, file=sys.stderr))
sys.argv = ["slipway", *sys.argv[1:]]
runpy.run_module("slipway", run_name="__main__", alter_sys=True)
"""


def imported_modules(root: Path, *args: str) -> set[str]:
    """The modules `slipway --root ROOT ARGS` imports, as `python -X importtime` lists them (it must succeed)."""
    argv = [sys.executable, "-X", "importtime", "-m", "slipway", "--root", str(root), *args]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return {
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def unwanted(modules: set[str]) -> list[str]:
    return sorted(
        name for name in modules if any(name == x or name.startswith(x + ".") for x in NOT_IMPORTED)
    )


def test_a_scratch_build_imports_nothing_it_does_not_use(
    tmp_path: Path, make_context: Callable[..., Path]
) -> None:
    context = make_context(
        tmp_path / "context", "FROM scratch\nCOPY hello /hello\nENV GREETING=hi\n", {"hello": "hello\n"}
    )
    modules = imported_modules(tmp_path / "store", "build", "--progress", "plain", str(context))
    assert {"slipway.pipeline", "slipway.solver.solve", "slipway.export.image"} <= modules  # it built
    assert unwanted(modules) == []


def test_a_build_compiles_at_import_only_the_regexes_every_build_uses(
    tmp_path: Path, make_context: Callable[..., Path]
) -> None:
    context = make_context(tmp_path / "context", "FROM scratch\nCOPY hello /hello\n", {"hello": "hello\n"})
    build = ["--root", str(tmp_path / "store"), "build", str(context)]
    result = subprocess.run(
        [sys.executable, "-c", _COUNTING_COMPILES, *build], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    report = [line for line in result.stderr.splitlines() if line.startswith("compiled at import:")]
    assert len(report) == 1, result.stderr
    modules = report[0].split()[3:]
    assert "slipway.image.reference" in modules  # the counting saw the build's imports
    assert len(modules) <= AT_IMPORT_PATTERNS, f"compiled at import: {sorted(modules)}"


def test_a_build_with_a_run_and_stages_imports_nothing_it_does_not_use(
    own_store: Any, tmp_path: Path, make_context: Callable[..., Path]
) -> None:
    dockerfile = (
        "FROM busybox:test AS needed\nRUN echo needed > /needed\n"
        "FROM busybox:test AS unused\nRUN echo unused > /unused\n"
        "FROM busybox:test\nCOPY --from=needed /needed /needed\n"
    )
    context = make_context(tmp_path / "context", dockerfile, {})
    # The base's layer unpacked first (its decompressor is the unpacking's), as after any build from it.
    own_store.build_ok(make_context(tmp_path / "base", "FROM busybox:test\n", {}))
    modules = imported_modules(
        own_store.root, "build", "--progress", "plain", "-t", "imports:run", str(context)
    )
    assert {"slipway.pipeline", "slipway.worker.executor", "slipway.registry.resolver"} <= modules
    assert unwanted(modules) == []
    assert own_store.ok("run", "--rm", "imports:run", "cat", "/needed").stdout == "needed\n"
