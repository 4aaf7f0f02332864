import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from slipway import __version__
from slipway.cli import cli


def test_version_prints_the_package_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["no-such-command"])
    assert result.exit_code == 2
    assert "No such command" in result.output


# `slipway` ends a process at once only when nothing is left to flush; a fake main() sets up each case.
ENTRY = """
import sys
import slipway.cli
def main(argv=None):
{body}
    print("at once" if slipway.cli.nothing_left_to_flush() else "ordinary exit", file=sys.stderr, flush=True)
    return 3
slipway.cli.main = main
slipway.cli.entry()
"""


def run_entry(body: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    script = ENTRY.format(body="\n".join("    " + line for line in body.splitlines()))
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, cwd=tmp_path
    )


def test_a_plain_command_ends_at_once_and_exit_handlers_run(tmp_path: Path) -> None:
    ended = run_entry("import atexit\natexit.register(print, 'handler ran')\nprint('out')", tmp_path)
    assert (ended.returncode, ended.stdout, ended.stderr) == (3, "out\nhandler ran\n", "at once\n")


def test_a_thread_still_running_is_waited_for(tmp_path: Path) -> None:
    body = "import threading, time\nthreading.Thread(target=lambda: (time.sleep(0.2), print('thread done'))).start()"
    ended = run_entry(body, tmp_path)
    assert (ended.returncode, ended.stdout, ended.stderr) == (3, "thread done\n", "ordinary exit\n")


def test_buffered_log_records_are_written(tmp_path: Path) -> None:
    body = (
        "import logging, logging.handlers\n"
        "target = logging.FileHandler('log.txt', delay=True)\n"
        "logging.getLogger().addHandler(logging.handlers.MemoryHandler(100, logging.CRITICAL, target))\n"
        "logging.getLogger().warning('kept')"
    )
    ended = run_entry(body, tmp_path)
    assert (ended.returncode, ended.stderr) == (3, "ordinary exit\n")
    assert (tmp_path / "log.txt").read_text() == "kept\n"


def test_logging_to_stderr_alone_still_ends_at_once(tmp_path: Path) -> None:
    ended = run_entry("import logging\nlogging.basicConfig()\nlogging.getLogger().warning('shown')", tmp_path)
    assert (ended.returncode, ended.stderr) == (3, "WARNING:root:shown\nat once\n")


def test_a_registry_client_loads_none_of_the_http_librarys_extras(tmp_path: Path) -> None:
    # httpcore's look for trio and httpx's own command-line tool (rich's progress bars, pygments) cost ~0.15 s
    # of CPU in every command that talks to a registry; the `slipway` process answers them "not installed".
    body = (
        "from slipway.registry import RegistryClient, RegistryOptions\n"
        "RegistryClient('127.0.0.1:5000', options=RegistryOptions()).close()\n"
        "print(sorted(n for n in ('trio', 'rich.progress', 'pygments', 'httpx') if sys.modules.get(n)))"
    )
    ended = run_entry(body, tmp_path)
    assert (ended.returncode, ended.stdout) == (3, "['httpx']\n"), ended.stderr
