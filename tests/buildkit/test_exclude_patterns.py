"""BuildKit's frontend/dockerfile/exclude_patterns_test.go, ported to slipway (see README.md)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from buildkit._http import serving_directory
from buildkit._sandbox import Sandbox, directory, file, symlink

pytestmark = pytest.mark.root

# (path, expected content or None when excluded); a symlink's content is its target
EXPECTED = (
    # Files copied with COPY command
    ("builder1/1/dir1/file-101.png", None),
    ("builder1/1/dir1/file-102.txt", "3"),
    ("builder1/1/dir1/file-103.jpeg", None),
    ("builder1/1/dir2/file-201.pdf", "6"),
    ("builder1/1/dir2/file-202.jpeg", None),
    ("builder1/1/dir2/file-203.png", None),
    ("builder1/1/dir3/file-301.mp3", "9"),
    ("builder1/1/dir3/file-302.mpeg", "10"),
    ("builder1/1/dir4/file-401.txt", "11"),
    ("builder1/1/dir4/file-402.txt", "file-401.txt"),
    ("builder1/1/dir4/file-403.txt", "file-404.txt"),
    # files copied with COPY command
    ("builder2/2/dir1/file-101.png", "2"),
    ("builder2/2/dir1/file-102.txt", None),
    ("builder2/2/dir1/file-103.jpeg", "4"),
    ("builder2/2/dir2/file-201.pdf", None),
    ("builder2/2/dir2/file-202.jpeg", "7"),
    ("builder2/2/dir2/file-203.png", "8"),
    ("builder2/2/dir3/file-301.mp3", "9"),
    ("builder2/2/dir3/file-302.mpeg", "10"),
    ("builder2/2/dir4/file-401.txt", None),
    ("builder2/2/dir4/file-402.txt", None),
    ("builder2/2/dir4/file-403.txt", None),
    # Files copied with ADD command
    ("builder3/3/file-301.mp3", None),
    ("builder3/3/file-302.mpeg", "10"),
    # Files copied with COPY wildcard
    ("builder4/4/file-101.png", None),
    ("builder4/4/file-102.txt", None),
    ("builder4/4/file-103.jpeg", None),
    ("builder4/4/file-201.pdf", None),
    ("builder4/4/file-202.jpeg", None),
    ("builder4/4/file-203.png", None),
    ("builder4/4/file-301.mp3", None),
    ("builder4/4/file-302.mpeg", "10"),
    ("builder4/4/dir4/file-401.txt", None),
    ("builder4/4/dir4/file-402.txt", None),
    ("builder4/4/dir4/file-403.txt", None),
    # Files copied with ADD wildcard
    ("builder5/5/file-101.png", None),
    ("builder5/5/file-102.txt", "3"),
    ("builder5/5/file-103.jpeg", None),
    ("builder5/5/file-201.pdf", None),
    ("builder5/5/file-202.jpeg", None),
    ("builder5/5/file-203.png", None),
    ("builder5/5/file-301.mp3", None),
    ("builder5/5/file-302.mpeg", None),
    ("builder5/5/file-401.txt", "11"),
    ("builder5/5/file-402.txt", "file-401.txt"),
    ("builder5/5/file-403.txt", "file-404.txt"),
)

STAGES = """
# ignore all the image files
FROM scratch as builder1
COPY {from_base}--exclude=*/*.png --exclude=*/*.jpeg . /1
# ignore all document files
FROM scratch as builder2
COPY {from_base}--exclude=*/*.pdf --exclude=*/*.txt . /2
# ignore all mp3 files
FROM scratch as builder3
{add} {from_base}--exclude=*.mp3 dir3/ /3/
# Ignore everything, keeping only .mpeg files, using src as a wildcard.
# it's a fake example, just to be sure that src as wildcards work as expected.
FROM scratch as builder4
COPY {from_base}--exclude=*.mp3 --exclude=*.jpeg --exclude=*.png --exclude=*.pdf --exclude=*.txt dir* /4/
# Ignore everything, keeping only txt files.
# it's a fake example, just to be sure that src as wildcards work as expected.
FROM scratch as builder5
{add} {from_base}--exclude=*.mp* --exclude=*.jpeg --exclude=*.png --exclude=*.pdf dir* /5
# Exclude all files. No idea how it could be useful, but it should not be forbidden.
FROM scratch as builder6
{add} {from_base}--exclude=* dir* /6
FROM scratch
COPY --from=builder1 / /builder1
COPY --from=builder2 / /builder2
COPY --from=builder3 / /builder3
COPY --from=builder4 / /builder4
COPY --from=builder5 / /builder5
COPY --from=builder6 / /builder6
"""


def check_output(out: Path) -> None:
    for name, content in EXPECTED:
        path = out / name
        if content is None:
            assert not path.is_symlink() and not path.exists(), f"File {name} should not exist"
            continue
        found = str(path.readlink()) if path.is_symlink() else path.read_text()
        assert found == content, f"File {name} does not have matched content"
    # As all files are excluded, the directory must be empty
    assert list((out / "builder6/6").iterdir()) == []


# exclude_patterns_test.go: testExcludedFilesOnCopy (#4439)
def test_excluded_files_on_copy(sandbox: Sandbox) -> None:
    source = sandbox.context(
        None,
        *(directory(f"dir{number}", 0o777) for number in range(1, 5)),
        file("dir1/file-101.png", "2"),
        file("dir1/file-102.txt", "3"),
        file("dir1/file-103.jpeg", "4"),
        file("dir2/file-201.pdf", "6"),
        file("dir2/file-202.jpeg", "7"),
        file("dir2/file-203.png", "8"),
        file("dir3/file-301.mp3", "9"),
        file("dir3/file-302.mpeg", "10"),
        file("dir4/file-401.txt", "11"),
        symlink("file-401.txt", "dir4/file-402.txt"),
        symlink("file-404.txt", "dir4/file-403.txt"),
    )
    # First, test with reading from a plain directory
    dockerfile_dir = sandbox.context(STAGES.format(from_base="", add="ADD"))
    check_output(sandbox.export(source, dockerfile=dockerfile_dir / "Dockerfile"))

    # Load context from a git repository
    for command in (
        ["git", "init", "-q"],
        ["git", "config", "--local", "user.email", "test"],
        ["git", "config", "--local", "user.name", "test"],
        ["git", "add", "."],
        ["git", "commit", "-q", "-m", "0.1"],
        ["git", "tag", "0.1"],
        ["git", "update-server-info"],
    ):
        subprocess.run(command, cwd=source, check=True, capture_output=True)
    with serving_directory(source) as url:
        # In this example, all the ADD commands were replaced by COPY, as ADD does not support
        # the `--from=` flag, and we want to keep the assertions intact.
        dockerfile = (
            f'\nFROM scratch AS base\nARG REPO="{url}/.git"\nARG TAG="0.1"\nADD --keep-git-dir=true ${{REPO}}#${{TAG}} /\n'
            + STAGES.format(from_base="--from=base ", add="COPY")
        )
        check_output(sandbox.export(sandbox.context(dockerfile)))
