"""Files of an image that slipway reads on the host (/etc/passwd and /etc/group for USER, COPY --chown and
`slipway run -u`): opened inside the image's root, never blocking, only if regular, and up to a cap.

An image whose /etc/passwd is /dev/zero made USER read without end; a FIFO made USER, COPY --chown and
`run -u` wait forever. As runc's GetExecUserPath ignores a file it cannot open, such a file counts as absent:
numeric ids work, a name is "unable to find user", with the reason, at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _host import Host, context, failure

pytestmark = pytest.mark.root

# Long enough for any of these builds; a hang (the bug) ends in TimeoutExpired, failing the test.
TIMEOUT = 120


def build_image(store: Any, tmp_path: Path, name: str, setup: str) -> str:
    tag = f"evil-{name}:1"
    store.build_ok(context(tmp_path / f"base-{name}", f"FROM busybox:test\nRUN {setup}\n"), "-t", tag)
    return tag


@pytest.mark.parametrize(
    ("name", "setup", "kind"),
    [
        ("chardev", "rm /etc/passwd && mknod /etc/passwd c 1 5", "a character device"),  # /dev/zero
        ("fifo", "rm /etc/passwd && mkfifo /etc/passwd", "a FIFO"),  # an open for reading waits for a writer
        ("directory", "rm /etc/passwd && mkdir /etc/passwd", "a directory"),
    ],
)
def test_a_passwd_that_is_not_a_regular_file_is_never_read(
    store: Any, host: Host, tmp_path: Path, name: str, setup: str, kind: str
) -> None:
    image = build_image(store, tmp_path, name, setup)
    # No container starts on it (runc reads the file to set up any user, and would block on a FIFO) ...
    for user in ("app", "1000:1000"):
        run_step = store.build(
            context(tmp_path / f"run-{user[:3]}", f"FROM {image}\nUSER {user}\nRUN true\n"), timeout=TIMEOUT
        )
        error = failure(run_step)
        assert f"unable to find user {user.partition(':')[0]}" in error and kind in error, error
        assert "Dockerfile:3" in error
        run = store("run", "--rm", "-u", user, image, "true", timeout=TIMEOUT)
        assert kind in failure(run)
    # ... and for COPY --chown the file counts as absent, as runc ignores a file it cannot open.
    chown = store.build(
        context(tmp_path / "chown", f"FROM {image}\nCOPY --chown=app f /f\n", {"f": "x"}), timeout=TIMEOUT
    )
    assert "unable to find user app" in failure(chown)
    numeric = context(tmp_path / "numeric", f"FROM {image}\nCOPY --chown=1000:1000 f /f\n", {"f": "x"})
    store.build_ok(numeric, "-t", f"chown-{name}:1", timeout=TIMEOUT)
    assert store.image_tree(f"chown-{name}:1", tmp_path)["f"].uid == 1000
    host.assert_intact()


def test_a_fifo_group_file_does_not_hang_a_user_lookup(store: Any, host: Host, tmp_path: Path) -> None:
    image = build_image(store, tmp_path, "group", "rm /etc/group && mkfifo /etc/group")
    result = store.build(context(tmp_path / "user", f"FROM {image}\nUSER app\nRUN true\n"), timeout=TIMEOUT)
    error = failure(result)
    assert "/etc/group is a FIFO" in error
    chown = context(tmp_path / "chown", f"FROM {image}\nCOPY --chown=app:staff f /f\n", {"f": "x"})
    assert "unable to find group staff" in failure(store.build(chown, timeout=TIMEOUT))
    store.build_ok(
        context(tmp_path / "app", f"FROM {image}\nCOPY --chown=app f /f\n", {"f": "x"}), timeout=TIMEOUT
    )
    host.assert_intact()


def test_an_oversized_passwd_is_a_clear_error(store: Any, tmp_path: Path) -> None:
    image = build_image(store, tmp_path, "big", "head -c 5000000 /dev/zero | tr '\\0' '#' >> /etc/passwd")
    result = store.build(context(tmp_path / "user", f"FROM {image}\nUSER app\nRUN true\n"), timeout=TIMEOUT)
    error = failure(result)
    assert "/etc/passwd" in error and "larger than 4 MiB" in error
    assert len(error) < 10_000  # one message, not the file


def test_a_passwd_symlink_to_a_host_file_is_resolved_inside_the_image(
    store: Any, host: Host, tmp_path: Path
) -> None:
    # The host file would make `app` uid 4242 if the link were followed on the host.
    (host.canaries / "passwd").write_text("app:x:4242:4242::/:/bin/sh\n")
    host.before = host.state()
    climb = "../" * 30 + str(host.canaries / "passwd").lstrip("/")
    for name, target in (("absolute", str(host.canaries / "passwd")), ("relative", climb)):
        image = build_image(store, tmp_path, f"link-{name}", f"ln -sf {target} /etc/passwd")
        result = store.build(
            context(tmp_path / f"user-{name}", f"FROM {image}\nUSER app\nRUN true\n"), timeout=TIMEOUT
        )
        assert "unable to find user app" in failure(result)
        assert "4242" not in result.stderr
    host.assert_intact()
