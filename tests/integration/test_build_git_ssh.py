"""Git repositories over SSH (issue 15): `ADD ssh://...` and an SSH git URL as the build context, reached with
the agent lent as `--ssh default`, from a loopback sshd of the test's own (tests/ssh_servers.py)."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from integration.test_build_contexts import error_lines_of, make_repository, store_state
from ssh_servers import Agent, running_agent, serving_sshd

pytestmark = pytest.mark.root


class SshGit(NamedTuple):
    url: str  # ssh://USER@127.0.0.1:PORT/path/to/repo/.git
    agent: Agent  # holds the one key the sshd lets in


@pytest.fixture(scope="module")
def ssh_git(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshGit]:
    work = tmp_path_factory.mktemp("ssh-git")
    repository = make_repository(work / "repo")
    (work / "sshd").mkdir()
    with running_agent(work) as agent, serving_sshd(work / "sshd", agent.key) as port:
        yield SshGit(f"ssh://{getpass.getuser()}@127.0.0.1:{port}{repository}/.git", agent)


def test_add_of_a_repository_over_ssh_uses_the_lent_agent(
    shared_store: Any, make_context: Any, ssh_git: SshGit, tmp_path: Path
) -> None:
    context = make_context(tmp_path / "ctx", f"FROM scratch\nADD {ssh_git.url}#v1:app /app\n")
    out = tmp_path / "out"
    shared_store.build_ok(context, "--ssh", f"default={ssh_git.agent.socket}", "-o", f"type=local,dest={out}")
    assert (out / "app" / "hello.txt").read_text() == "hello from v1\n"
    assert sorted(path.name for path in (out / "app").iterdir()) == ["Dockerfile", "hello.txt"]  # no .git


def test_an_ssh_git_url_is_a_build_context(shared_store: Any, ssh_git: SshGit, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shared_store.build_ok(
        f"{ssh_git.url}#:app",  # type: ignore[arg-type]  # the default branch
        "--ssh",
        f"default={ssh_git.agent.socket}",
        "-o",
        f"type=local,dest={out}",
    )
    assert (out / "hello.txt").read_text() == "hello from main\n"


def test_without_an_agent_an_ssh_repository_is_one_line_naming_the_flag(
    shared_store: Any, make_context: Any, ssh_git: SshGit, tmp_path: Path
) -> None:
    before = store_state(shared_store)
    as_context = shared_store.build(f"{ssh_git.url}#v1:app")  # type: ignore[arg-type]
    context = make_context(tmp_path / "ctx", f"FROM scratch\nADD {ssh_git.url}#v1:app /app\n")
    as_add = shared_store.build(context)
    for result in (as_context, as_add):
        assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
        lines = error_lines_of(result.stderr)
        assert len(lines) == 1, result.stderr
        assert ssh_git.url in lines[0] and "Permission denied (publickey" in lines[0], lines[0]
        assert "lend an SSH agent with --ssh default" in lines[0], lines[0]
    assert store_state(shared_store) == before


def test_an_ssh_git_url_is_a_named_context(
    shared_store: Any, make_context: Any, ssh_git: SshGit, tmp_path: Path
) -> None:
    context = make_context(tmp_path / "ctx", "FROM scratch\nCOPY --from=src hello.txt /from-src.txt\n")
    out = tmp_path / "out"
    shared_store.build_ok(
        context,
        "--build-context",
        f"src={ssh_git.url}#v1:app",
        "--ssh",
        f"default={ssh_git.agent.socket}",
        "-o",
        f"type=local,dest={out}",
    )
    assert (out / "from-src.txt").read_text() == "hello from v1\n"
