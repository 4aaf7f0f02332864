"""BuildKit's frontend/dockerfile/dockerfile_addgit_test.go, ported to slipway (see README.md).

testAddGit's `RUN apk add git` (to run `git status -s` in the image) needs the network: the port checks
the kept .git directory exists instead.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from buildkit._git import commit_tagged, git, init_repository
from buildkit._http import serving_directory
from buildkit._sandbox import Sandbox

pytestmark = pytest.mark.root


def add_git(sandbox: Sandbox, object_format: str) -> None:
    repository = init_repository(sandbox.fresh("git"), object_format)
    for tag in ("v0.0.1", "v0.0.2", "v0.0.3"):
        commit_tagged(repository, tag)
    git(repository, "update-server-info")
    v2, v3 = git(repository, "rev-parse", "v0.0.2"), git(repository, "rev-parse", "v0.0.3")
    with serving_directory(repository) as url:
        dockerfile = f"""
FROM alpine

# Basic case
ADD {url}/.git#v0.0.1 /x
RUN cd /x && \\
  [ "$(cat foo)" = "foo of v0.0.1" ]

# Complicated case
ARG REPO="{url}/.git"
ARG TAG="v0.0.2"
ADD --keep-git-dir=true --chown=4242:8484 --checksum={v2} ${{REPO}}#${{TAG}} /buildkit-chowned
USER 4242
RUN cd /buildkit-chowned && \\
  [ "$(cat foo)" = "foo of v0.0.2" ] && \\
  [ "$(stat -c %u foo)" = "4242" ] && \\
  [ "$(stat -c %g foo)" = "8484" ] && \\
  [ -d .git ]
"""
        sandbox.build_ok(sandbox.context(dockerfile))
        # ADD from Git URL with checksum but without keep-git-dir flag
        dockerfile = f"""
FROM alpine
ARG REPO="{url}/.git"
ARG TAG="v0.0.3"
ADD --checksum={v3} ${{REPO}}#${{TAG}} /nogitdir
RUN [ -f /nogitdir/foo ]
RUN [ "$(cat /nogitdir/foo)" = "foo of v0.0.3" ]
RUN [ ! -d /nogitdir/.git ]
"""
        sandbox.build_ok(sandbox.context(dockerfile))
        # access initial ref again that was already pulled
        dockerfile = f"""
\t\tFROM alpine
\t\tARG REPO="{url}/.git"
\t\tARG TAG="v0.0.2"
\t\tADD --keep-git-dir --checksum={v2} ${{REPO}}#${{TAG}} /nogitdir
\t\tRUN [ -f /nogitdir/foo ]
\t\tRUN [ "$(cat /nogitdir/foo)" = "foo of v0.0.2" ]
\t\tRUN [ -d /nogitdir/.git ]
\t\t"""
        sandbox.build_ok(sandbox.context(dockerfile))
        # ADD from Git URL using the v0.0.3 commit for both checksum and ref
        dockerfile = f"""
\tFROM alpine
\tARG REPO="{url}/.git"
\tARG COMMIT="{v3}"
\tADD --keep-git-dir=true --checksum={v3} ${{REPO}}#${{COMMIT}} /commitdir
\tRUN [ -f /commitdir/foo ]
\tRUN [ "$(cat /commitdir/foo)" = "foo of v0.0.3" ]
\tRUN [ -d /commitdir/.git ]
\t"""
        sandbox.build_ok(sandbox.context(dockerfile))
        # checksum does not match
        dockerfile = f'\n\tFROM alpine\n\tARG REPO="{url}/.git"\n\tARG TAG="v0.0.3"\n\tADD --checksum={v2} ${{REPO}}#${{TAG}} /faildir\n\t'
        assert "expected checksum to match" in sandbox.build_fails(sandbox.context(dockerfile))
        # checksum is garbage
        dockerfile = f'\n\tFROM alpine\n\tARG REPO="{url}/.git"\n\tARG TAG="v0.0.3"\n\tADD --checksum=foobar ${{REPO}}#${{TAG}} /faildir\n\t'
        output = sandbox.build_fails(sandbox.context(dockerfile))
        assert "invalid checksum" in output
        assert "expected hex commit hash" in output


# dockerfile_addgit_test.go: testAddGitSHA1
def test_add_git_sha1(sandbox: Sandbox) -> None:
    add_git(sandbox, "sha1")


# dockerfile_addgit_test.go: testAddGitSHA256
def test_add_git_sha256(sandbox: Sandbox) -> None:
    add_git(sandbox, "sha256")


# dockerfile_addgit_test.go: testAddGitChecksumCache
def test_add_git_checksum_cache(own_sandbox: Sandbox) -> None:
    repository = init_repository(own_sandbox.fresh("git"))
    for tag in ("v0.0.1", "v0.0.2"):
        commit_tagged(repository, tag)
    git(repository, "update-server-info")
    commit = git(repository, "rev-parse", "v0.0.2")
    with serving_directory(repository) as url:
        template = (
            "\nFROM alpine AS src\nADD --keep-git-dir {checksum}{url}/.git#v0.0.2 /repo\n"
            "RUN head -c 16 /dev/urandom | base64 > /repo/unique.txt\n\nFROM scratch\nCOPY --from=src /repo/unique.txt /\n"
        )
        first = own_sandbox.export(own_sandbox.context(template.format(checksum="", url=url)))
        second = own_sandbox.export(
            own_sandbox.context(template.format(checksum=f"--checksum={commit} ", url=url))
        )
    # cache should be matched and unique file content should be the same
    assert (first / "unique.txt").read_text() == (second / "unique.txt").read_text()


QUERY_DOCKERFILE = """
FROM scratch AS withgit
COPY .git/HEAD out

FROM scratch as withsubmod
COPY submod/file out

FROM scratch
COPY foo out
"""


def query_string_repository(sandbox: Sandbox, submodule_url: str) -> Path:
    repository = init_repository(sandbox.fresh("git"))
    (repository / "foo").write_text("base\n")
    (repository / "Dockerfile").write_text(QUERY_DOCKERFILE)
    git(
        repository, "-c", "protocol.allow=always", "submodule", "-q", "add", submodule_url + "/.git", "submod"
    )
    git(repository, "add", "Dockerfile", "foo", "submod")
    git(repository, "commit", "-q", "-m", "initial")
    git(repository, "tag", "v0.0.1")
    git(repository, "branch", "base")
    (repository / "foo").write_text("feature\n")
    (repository / "sub").mkdir()
    (repository / "sub/foo").write_text("subfeature\n")
    (repository / "sub/Dockerfile").write_text(QUERY_DOCKERFILE)
    git(repository, "add", "foo", "sub")
    git(repository, "commit", "-q", "-m", "feature")
    git(repository, "branch", "feature")
    git(repository, "checkout", "-q", "-B", "master", "base")
    for tag in ("v0.0.2", "latest"):
        (repository / "foo").write_text(f"{tag}\n")
        git(repository, "add", "foo")
        git(repository, "commit", "-q", "-m", tag)
        git(repository, "tag", tag)
    git(repository, "update-server-info")
    return repository


def query_cases(url: str, v2: str, latest: str) -> tuple[tuple[str, str, str, str, str], ...]:
    """(name, url, target, expected out, expected error)"""
    return (
        # if this commit is already cached then this will work and ignore tag atm because tag name has no influence to the output
        (
            "tag with invalid commit",
            f"{url}/.git?tag=v0.0.2&commit={latest}",
            "",
            "",
            "expected checksum to match",
        ),
        ("old style ref", f"{url}/.git#v0.0.2", "", "v0.0.2\n", ""),
        ("querystring ref", f"{url}/.git?ref=base", "", "base\n", ""),
        ("querystring branch", f"{url}/.git?branch=base", "", "base\n", ""),
        (
            "querystring invalid branch",
            f"{url}/.git?branch=invalid",
            "",
            "",
            "repository does not contain ref",
        ),
        ("tag as branch", f"{url}/.git?branch=v0.0.2", "", "", "repository does not contain ref"),
        ("allowed mixed refs", f"{url}/.git?tag=v0.0.2#refs/tags/v0.0.2", "", "v0.0.2\n", ""),
        ("v2 by commit", f"{url}/.git?commit={latest}", "", "latest\n", ""),
        ("v2 by commit (wrong short)", f"{url}/.git?commit={v2[:8]}", "", "", "expected checksum to match"),
        ("v2 by commit (short)", f"{url}/.git?commit={latest[:8]}", "", "latest\n", ""),
        ("v2 ref by commit", f"{url}/.git?ref={v2}", "", "v0.0.2\n", ""),
        ("v2 ref by commit (short)", f"{url}/.git?ref={v2[:8]}", "", "", "repository does not contain ref"),
        ("tag with commit", f"{url}/.git?tag=v0.0.2&commit={v2}", "", "v0.0.2\n", ""),
        ("commit with commit", f"{url}/.git?ref={v2}&commit={v2}", "", "v0.0.2\n", ""),
        ("latest with commit", f"{url}/.git?commit={latest}", "", "latest\n", ""),
        ("mismatch refs", f"{url}/.git?tag=v0.0.2#refs/heads/master", "", "", "ref conflicts"),
        ("sub old-style", f"{url}/.git#feature:sub", "", "subfeature\n", ""),
        ("sub query", f"{url}/.git?subdir=sub&ref=feature", "", "subfeature\n", ""),
        ("withgit", f"{url}/.git?keep-git-dir=true", "withgit", latest + "\n", ""),
        ("withgitandtag", f"{url}/.git?tag=v0.0.2&keep-git-dir=true", "withgit", v2 + "\n", ""),
        ("withgit-default", f"{url}/.git", "withgit", "", '.git/HEAD": not found'),
        ("withgit-valueless", f"{url}/.git?keep-git-dir&submodules", "withgit", latest + "\n", ""),
        ("withgit-forbidden", f"{url}/.git?keep-git-dir=false", "withgit", "", '.git/HEAD": not found'),
        ("withsubmod", f"{url}/.git", "withsubmod", "123\n", ""),
        ("withsubmodset", f"{url}/.git?submodules=true", "withsubmod", "123\n", ""),
        ("withsubmodempty", f"{url}/.git?submodules", "withsubmod", "123\n", ""),
        ("withoutsubmod", f"{url}/.git?submodules=false", "withsubmod", "", 'submod/file": not found'),
    )


# dockerfile_addgit_test.go: testGitQueryString. About 40 builds (~85 s): `slow`, run by CI through
# `make test-ci-slow`, so the default run stays within its budget.
@pytest.mark.slow
def test_git_query_string(sandbox: Sandbox) -> None:
    submodule = init_repository(sandbox.fresh("git"))
    (submodule / "file").write_text("123\n")
    git(submodule, "add", "file")
    git(submodule, "commit", "-q", "-m", "initial")
    git(submodule, "update-server-info")
    with serving_directory(submodule) as submodule_url:
        repository = query_string_repository(sandbox, submodule_url)
        v2, latest = git(repository, "rev-parse", "v0.0.2"), git(repository, "rev-parse", "latest")
        assert len(v2) == 40 and v2 != latest
        with serving_directory(repository) as url:
            cases = query_cases(url, v2, latest)
            for name, case_url, target, expected, error in cases:
                flags = ("--target", target) if target else ()
                if error:
                    assert error in sandbox.build_fails(case_url, *flags), f"context_{name}"
                else:
                    assert (sandbox.export(case_url, *flags) / "out").read_text() == expected, (
                        f"context_{name}"
                    )
            for name, case_url, target, expected, error in cases:
                dockerfile = (
                    f"\nFROM scratch AS main\nADD {case_url} /repo/\n\nFROM scratch as withsubmod\n"
                    "COPY --from=main /repo/submod/file /repo/foo\n\nFROM scratch AS withgit\n"
                    "COPY --from=main /repo/.git/HEAD /repo/foo\n\nFROM main\n\t\t"
                )
                context = sandbox.context(dockerfile)
                flags = ("--target", target) if target else ()
                if error:
                    assert error in sandbox.build_fails(context, *flags), f"add_{name}"
                else:
                    assert (sandbox.export(context, *flags) / "repo/foo").read_text() == expected, (
                        f"add_{name}"
                    )
