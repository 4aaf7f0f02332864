"""slipway build against Docker's BuildKit: the same small Dockerfiles, FROM the same busybox rootfs, give
the same image config fields and the same file trees.

A private dockerd (own data root, exec root, socket and pid file; no bridge, no iptables) runs for this
module; Docker builds with DOCKER_BUILDKIT=1 through the daemon's embedded BuildKit (the Debian client has
no buildx plugin) and `--network host`. Trees come from `docker save` and `slipway save`, each archive's
layers applied in order with whiteouts, compared on paths, types, modes, sizes, link targets and owners.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import signal
import subprocess
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import build_helpers
import prerequisites

pytestmark = [pytest.mark.interop, pytest.mark.root]


helpers = build_helpers.load()
busybox_rootfs = helpers.busybox_rootfs
busybox_tar = helpers.busybox_tar
shared_store = helpers.shared_store

DOCKER = Path("/usr/bin/docker")
CONFIG_FIELDS = ("Env", "Cmd", "Entrypoint", "WorkingDir", "User", "ExposedPorts", "Volumes", "Labels")


@dataclass(frozen=True)
class Docker:
    socket: Path
    config_dir: Path

    def __call__(self, *args: str, timeout: float = 180, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(DOCKER), "-H", f"unix://{self.socket}", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "DOCKER_BUILDKIT": "1", "DOCKER_CONFIG": str(self.config_dir)},
            check=False,
            **kwargs,
        )

    def ok(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        result = self(*args, **kwargs)
        assert result.returncode == 0, helpers.describe(result)
        return result


@pytest.fixture(scope="module")
def docker(tmp_path_factory: pytest.TempPathFactory, busybox_tar: Path) -> Iterator[Docker]:
    prerequisites.require_file(DOCKER, "docker.io")
    prerequisites.require_tool("dockerd", "docker.io")
    directory = tmp_path_factory.mktemp("dockerd")
    client = Docker(directory / "docker.sock", directory / "client-config")
    client.config_dir.mkdir()
    log = (directory / "dockerd.log").open("w")
    daemon = subprocess.Popen(
        [
            "dockerd",
            "--data-root",
            str(directory / "data"),
            "--exec-root",
            str(directory / "exec"),
            "-H",
            f"unix://{client.socket}",
            "--pidfile",
            str(directory / "docker.pid"),
            "--bridge=none",
            "--iptables=false",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while client("version", timeout=10).returncode != 0:
            if daemon.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"dockerd did not start: see {directory / 'dockerd.log'}")
            time.sleep(0.2)
        client.ok(
            "import",
            "--change",
            f"ENV PATH={helpers.BUSYBOX_PATH}",
            "--change",
            'CMD ["sh"]',
            str(busybox_tar),
            "busybox:test",
        )
        yield client
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        log.close()


def tar_gz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mode = 0o640
            info.uid = info.gid = 1000
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


CASES: dict[str, tuple[str, dict[str, str | bytes]]] = {
    "env-workdir-copy-run": (
        """\
FROM busybox:test
ENV APP_HOME=/srv/app LANG=C.UTF-8
ENV GREETING="hello world"
WORKDIR $APP_HOME
COPY app.txt .
RUN echo "$GREETING" > built.txt && mkdir -p sub/dir && ln -s ../app.txt sub/link && chmod 700 sub/dir
CMD ["cat", "app.txt"]
""",
        {"app.txt": "the app\n"},
    ),
    "user-expose-volume-label-entrypoint": (
        """\
FROM busybox:test
RUN mkdir -p /data && chown app:app /data && touch /data/seed
USER app
RUN echo "$(id -u)" > /tmp/whoami && mkdir /home/app/made
EXPOSE 8080 53/udp
VOLUME /data
LABEL org.example.name=demo version="1.0" "with space"=yes
ENTRYPOINT ["/bin/echo"]
CMD ["hello"]
""",
        {},
    ),
    "copy-chown-chmod-dir-glob-add": (
        """\
FROM busybox:test
COPY --chown=app:app --chmod=640 owned.txt /opt/owned.txt
COPY tree /opt/tree
COPY *.cfg /opt/cfg/
ADD bundle.tar.gz /opt/bundle/
COPY bundle.tar.gz /opt/raw/
USER app:app
WORKDIR /home/app/work
""",
        {
            "owned.txt": "owned\n",
            "tree/a.txt": "a\n",
            "tree/sub/b.txt": "bb\n",
            "one.cfg": "1",
            "two.cfg": "22",
            "skip.txt": "not copied",
            "bundle.tar.gz": tar_gz({"in/one.txt": b"one\n", "top.txt": b"top\n"}),
        },
    ),
    "multi-stage-shell-forms": (
        """\
FROM busybox:test AS build
RUN mkdir /out && echo artifact > /out/a.txt && chmod 600 /out/a.txt && ln -s a.txt /out/link

FROM busybox:test AS unused
RUN exit 1

FROM busybox:test
COPY --from=build /out /opt/out
COPY --from=build /out/a.txt /single
ENTRYPOINT echo shell form entrypoint
""",
        {},
    ),
    "run-mounts": (
        """\
FROM busybox:test AS tools
RUN mkdir /tools && echo tool > /tools/t.txt

FROM busybox:test
RUN --mount=type=bind,from=tools,source=/tools,target=/mnt/tools cp /mnt/tools/t.txt /from-stage.txt
RUN --mount=type=bind,target=/ctx cp /ctx/data.txt /from-context.txt
RUN --mount=type=tmpfs,target=/scratch echo x > /scratch/x && ls /scratch > /tmpfs-seen.txt
RUN --mount=type=cache,target=/var/cache/thing echo cached > /var/cache/thing/c && touch /after-cache
""",
        {"data.txt": "data\n"},
    ),
    "deletions-and-whiteouts": (
        """\
FROM busybox:test
RUN rm -rf /home/app /bin/vi && mkdir -p /newdir/inner && touch /newdir/inner/f /etc/motd
RUN rm -rf /newdir && echo changed > /etc/motd && rm /etc/group && echo "root:x:0:" > /etc/group
CMD echo shell form cmd
""",
        {},
    ),
}


def write_context(directory: Path, dockerfile: str, files: dict[str, str | bytes]) -> Path:
    context: Path = helpers.make_context(directory, dockerfile, files)
    if (context / "tree").is_dir():
        (context / "tree" / "a.txt").chmod(0o755)
    return context


@pytest.mark.parametrize("case", sorted(CASES))
def test_config_and_file_tree_match_buildkit(
    case: str, docker: Docker, shared_store: Any, tmp_path: Path
) -> None:
    dockerfile, files = CASES[case]
    context = write_context(tmp_path / "ctx", dockerfile, files)
    name = f"vs-buildkit-{case}:latest"

    built = docker.ok("build", "--network", "host", "--progress", "plain", "-t", name, str(context))
    assert "[internal] load build definition" in built.stderr + built.stdout, (
        "Docker did not build with BuildKit"
    )
    shared_store.build_ok(context, "-t", name)

    docker_config = docker.ok("image", "inspect", name).stdout
    expected = json.loads(docker_config)[0]["Config"]
    actual = shared_store.config(name)
    differences = {
        field: {"buildkit": expected.get(field), "slipway": actual.get(field)}
        for field in CONFIG_FIELDS
        if expected.get(field) != actual.get(field)
    }
    assert not differences, differences
    # `docker images` SIZE counts the files' bytes; the same content must show the same size (within 1%: the
    # run-mounts case's stubs, below, and dockerd's own accounting of the busybox base).
    docker_size, slipway_size = json.loads(docker_config)[0]["Size"], shared_store.inspect(name)["Size"]
    assert abs(slipway_size - docker_size) <= docker_size / 100, (slipway_size, docker_size)

    archive = tmp_path / "docker-save.tar"
    docker.ok("save", "-o", str(archive), name)
    expected_tree = helpers.flatten_layers(helpers.saved_layers(archive))
    actual_tree = shared_store.image_tree(name, tmp_path)
    assert expected_tree.get("bin/busybox") is not None, "the trees hold the whole image, base layer included"
    if case == "run-mounts":
        # dockerd 20.10 embeds BuildKit 0.8, which left the empty directories it made as RUN --mount targets in
        # the image; BuildKit 0.11 and later remove those stubs (moby/buildkit#3307, #3314), as slipway does.
        for stub in ("ctx", "mnt", "mnt/tools", "scratch", "var/cache", "var/cache/thing"):
            if stub not in actual_tree:
                expected_tree.pop(stub, None)
    if case == "copy-chown-chmod-dir-glob-add":
        # BuildKit 0.8 made the parent dirs of `COPY --chmod=640 ... /opt/owned.txt` 0755; BuildKit 0.12 and
        # later give them the --chmod mode (fsutil's MkdirAll with ci.Mode; testCopyChmod), as slipway does.
        assert expected_tree["opt"].mode == 0o755
        expected_tree["opt"] = dataclasses.replace(expected_tree["opt"], mode=0o640)
    missing = sorted(set(expected_tree) - set(actual_tree))
    extra = sorted(set(actual_tree) - set(expected_tree))
    changed = {
        path: {"buildkit": expected_tree[path], "slipway": actual_tree[path]}
        for path in sorted(set(expected_tree) & set(actual_tree))
        if expected_tree[path] != actual_tree[path]
    }
    assert (missing, extra, changed) == ([], [], {})
