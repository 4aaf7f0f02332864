"""Users and groups from a root's /etc/passwd and /etc/group, as Docker and BuildKit resolve them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from slipway.errors import ContextError, RunFailed
from slipway.worker.users import ExecUser, resolve_owner, resolve_user

PASSWD = """\
root:x:0:0:root:/root:/bin/sh
# a comment
broken line
app:x:1000:1000:app:/home/app:/bin/sh
svc:x:1001:50::/srv:/bin/false
"""
GROUP = """\
root:x:0:
wheel:x:10:root,app
app:x:1000:
staff:x:50:app
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text(PASSWD)
    (tmp_path / "etc" / "group").write_text(GROUP)
    return tmp_path


# The primary group leads the supplementary groups (containerd since CVE-2023-25173, as BuildKit runs steps).
@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("", ExecUser(0, 0, (0, 10), "/root")),
        ("root", ExecUser(0, 0, (0, 10), "/root")),
        ("app", ExecUser(1000, 1000, (1000, 10, 50), "/home/app")),
        ("1000", ExecUser(1000, 1000, (1000, 10, 50), "/home/app")),
        ("svc", ExecUser(1001, 50, (50,), "/srv")),
        ("app:staff", ExecUser(1000, 50, (50,), "/home/app")),
        ("app:0", ExecUser(1000, 0, (0,), "/home/app")),
        ("1000:777", ExecUser(1000, 777, (777,), "/home/app")),
        ("4242", ExecUser(4242, 0, (0,), "/")),
        ("4242:4242", ExecUser(4242, 4242, (4242,), "/")),
    ],
)
def test_resolve_user(root: Path, user: str, expected: ExecUser) -> None:
    assert resolve_user(root, user) == expected


def test_unknown_names_are_errors(root: Path) -> None:
    with pytest.raises(RunFailed, match="unable to find user nobody"):
        resolve_user(root, "nobody")
    with pytest.raises(RunFailed, match="unable to find group nogroup"):
        resolve_user(root, "app:nogroup")


def test_a_root_without_passwd_takes_numbers_only(tmp_path: Path) -> None:
    assert resolve_user(tmp_path, "") == ExecUser(0, 0, (0,), "/")
    assert resolve_user(tmp_path, "1000:1000") == ExecUser(1000, 1000, (1000,), "/")
    with pytest.raises(RunFailed, match="unable to find user app"):
        resolve_user(tmp_path, "app")


def test_passwd_through_an_absolute_symlink_stays_in_the_root(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "passwd").write_text("app:x:7:7::/:/bin/sh\n")
    (tmp_path / "etc" / "passwd").symlink_to("/real/passwd")
    assert resolve_user(tmp_path, "app").uid == 7


@pytest.mark.parametrize(
    ("chown", "expected"),
    [
        ("app", (1000, 1000)),
        ("svc", (1001, 50)),
        ("42", (42, 42)),
        ("42:43", (42, 43)),
        ("app:staff", (1000, 50)),
    ],
)
def test_resolve_owner_as_copy_chown(root: Path, chown: str, expected: tuple[int, int]) -> None:
    assert resolve_owner(root, chown) == expected


def test_resolve_owner_errors(root: Path) -> None:
    with pytest.raises(ContextError, match="unable to find user ghost"):
        resolve_owner(root, "ghost")
    with pytest.raises(ContextError, match="no user"):
        resolve_owner(root, ":staff")


def test_passwd_or_group_that_is_not_a_regular_file_is_never_read(root: Path) -> None:
    # A FIFO would block the open, /dev/zero never end: as runc ignores what it cannot open, COPY --chown
    # sees no such file; a container (which runc would set up by reading it) is refused with the reason.
    (root / "etc" / "passwd").unlink()
    os.mkfifo(root / "etc" / "passwd")
    with pytest.raises(RunFailed, match="unable to find user 1000: in the image, /etc/passwd is a FIFO"):
        resolve_user(root, "1000")
    with pytest.raises(ContextError, match="unable to find user app .*/etc/passwd is a FIFO"):
        resolve_owner(root, "app")
    assert resolve_owner(root, "42:43") == (42, 43)


def test_an_oversized_passwd_is_an_error_naming_the_cap(root: Path) -> None:
    (root / "etc" / "passwd").write_text("app:x:1000:1000::/:/bin/sh\n" * 200_000)
    with pytest.raises(RunFailed, match="/etc/passwd is larger than 4 MiB"):
        resolve_user(root, "app")


def test_a_passwd_symlink_resolves_inside_the_root(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside-passwd"
    outside.write_text("ghost:x:4242:4242::/:/bin/sh\n")
    (root / "etc" / "passwd").unlink()
    (root / "etc" / "passwd").symlink_to(outside)
    with pytest.raises(RunFailed, match="unable to find user ghost"):
        resolve_user(root, "ghost")
