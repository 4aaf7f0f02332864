"""The `slipway` command line: thin click commands that parse flags, call the API and render.

`main` first offers the arguments to the fast path (cli/_fast.py), which reads `slipway build` from the same
flag table as the click command without importing click; everything else goes to the click group
(cli/_group.py), whose subcommands are imported only when invoked.
"""

from __future__ import annotations

import atexit
import importlib
import os
import sys
from typing import Any


def main(argv: list[str] | None = None) -> Any:
    from slipway.cli import _fast

    _interrupt_on_termination()
    if _fast.answer(sys.argv[1:] if argv is None else argv):
        return None
    from slipway.cli._group import run

    return run(argv)


def _interrupt_on_termination() -> None:
    """SIGTERM and SIGHUP stop a command as Ctrl-C does (KeyboardInterrupt: containers killed, mounts
    undone, nothing half-made kept) rather than end the process on the spot. Left alone when ignored
    (nohup), and in threads other than the main one (an embedding program's own handlers stay)."""
    import signal

    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) is signal.SIG_DFL:
            try:
                signal.signal(signum, _raise_interrupt)
            except ValueError:  # not the main thread
                return


def _raise_interrupt(signum: int, _frame: object) -> None:
    import signal

    raise KeyboardInterrupt(signal.Signals(signum).name)


# Modules the HTTP client's import loads for uses slipway has not: httpcore looks for trio (its async locks),
# httpx loads its own command-line tool (rich's tables and progress bars, pygments). And typing_extensions:
# msgspec takes get_type_hints and Required from it when it is installed, else from typing, which has them on
# the Pythons slipway runs on; it imports inspect, ast, dis and tokenize, ~30M instructions (7% of a cold
# small build). Nothing slipway's process runs needs it (anyio, which does, is httpcore's async side).
UNUSED_IMPORTS = ("trio", "httpx._main", "typing_extensions")


def skip_unused_imports() -> None:
    """Answer "not installed" for UNUSED_IMPORTS in slipway's own process: where they are installed, they cost
    ~0.15 s of CPU in every command that talks to a registry (push, pull, --cache-to, --cache-from), and
    typing_extensions ~10 ms in every command that reads or writes an image."""
    for name in UNUSED_IMPORTS:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]


def entry() -> None:
    """The `slipway` program (console script and `python -m slipway`): main(), then exit.

    By the time main() returns, every file is closed, the store is closed and its temp dir removed; what is
    left is the interpreter taking down its modules one by one, ~10 ms that a no-op rebuild (~40 ms) would
    otherwise spend on nothing. So when `nothing_left_to_flush()` the process ends at once; otherwise (a
    thread still running, an exit handler, a log handler) it exits the ordinary way, which runs them."""
    skip_unused_imports()
    try:
        result = main()
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        # The reader went away (`slipway images | head -1`): stop quietly, as a tool killed by SIGPIPE does.
        # stdout now points at /dev/null, so the interpreter's own flush at exit finds nowhere to fail.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(128 + 13)
    code = result if isinstance(result, int) else 0  # click returns a command's exit code, if it sets one
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)  # CPython's; elsewhere, exit the ordinary way
    if run_exit_handlers is not None and nothing_left_to_flush():
        run_exit_handlers()  # what the interpreter runs at exit (logging.shutdown, handlers of .pth files ...)
        os._exit(code)
    sys.exit(code)


def nothing_left_to_flush() -> bool:
    """Whether ending the process now, without the interpreter's shutdown, loses nothing: only the main thread
    is alive (the shutdown would wait for the others), and every log handler writes to stderr or stdout, which
    entry() flushed (another may hold records in a buffer or a file object only the shutdown closes)."""
    threading = sys.modules.get("threading")
    if threading is not None and threading.active_count() > 1:
        return False
    logging = sys.modules.get("logging")
    if logging is None:
        return True
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    handlers = [handler for logger in loggers for handler in getattr(logger, "handlers", ())]
    return all(type(h) is logging.StreamHandler and h.stream in (sys.stderr, sys.stdout) for h in handlers)


def __getattr__(name: str) -> Any:
    # `from slipway.cli import cli` (the click group), COMMANDS...: imported on first use.
    if name.startswith("_"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    group = importlib.import_module("slipway.cli._group")
    return getattr(group, name)
