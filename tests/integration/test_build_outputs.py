"""`slipway build --output`: the final stage's files in a directory or a tar, the image in a docker archive,
and the errors of output and cache flags that make no sense."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.root

# A file made in one step and deleted in a later one must be absent from the output: whiteouts applied.
DOCKERFILE = """\
FROM busybox:test
RUN mkdir -p /app/gone && echo temporary > /app/gone/file && echo old > /etc/motd
RUN echo hello > /app/hello && ln /app/hello /app/hello-link && chown 1000:1000 /app/hello \\
 && rm -r /app/gone /etc/motd && mkdir /app/empty
COPY note.txt /app/note.txt
"""


@pytest.fixture
def context(make_context: Any, tmp_path: Path) -> Path:
    path: Path = make_context(tmp_path / "ctx", DOCKERFILE, {"note.txt": "from the context\n"})
    return path


def test_local_output_has_the_files_and_applies_whiteouts(
    own_store: Any, context: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "out"

    result = own_store.build_ok(context, "--output", f"type=local,dest={dest}")

    assert "exporting to client directory" in result.stderr
    assert (dest / "app" / "hello").read_text() == "hello\n"
    assert (dest / "app" / "note.txt").read_text() == "from the context\n"
    assert (dest / "app" / "hello").stat().st_uid == 1000
    assert (dest / "app" / "hello").stat().st_ino == (dest / "app" / "hello-link").stat().st_ino
    assert (dest / "app" / "empty").is_dir()
    assert (dest / "bin" / "busybox").is_file()
    assert not (dest / "app" / "gone").exists()
    assert not (dest / "etc" / "motd").exists()
    assert not list(dest.rglob(".wh.*"))
    # Not an image: nothing is tagged, and the store holds only the base image.
    assert [row.repository for row in own_store.images()] == ["busybox"]


def test_several_outputs_in_one_build_each_get_the_result(
    own_store: Any, context: Path, tmp_path: Path
) -> None:
    dest, archive = tmp_path / "out", tmp_path / "image.tar"
    result = own_store.build_ok(
        context, "-t", "several:v1", "-o", f"type=local,dest={dest}", "-o", f"type=docker,dest={archive}",
        "-o", "type=image", "--progress", "plain",
    )  # fmt: skip
    assert (dest / "app" / "note.txt").read_text() == "from the context\n"
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
    assert manifest[0]["RepoTags"] == ["several:v1"]
    assert own_store.run_output("several:v1", "cat", "/app/hello") == "hello\n"
    log = result.stderr
    steps = ("exporting to client directory", "exporting to docker image format", "exporting to image")
    assert all(name in log for name in steps), log
    assert log.count("RUN echo hello") == 1  # one build, three exports


def test_short_form_is_a_local_directory(own_store: Any, context: Path, tmp_path: Path) -> None:
    own_store.build_ok(context, "-o", str(tmp_path / "short"))

    assert (tmp_path / "short" / "app" / "hello").read_text() == "hello\n"


def test_tar_output_is_the_same_tree(own_store: Any, context: Path, tmp_path: Path) -> None:
    archive = tmp_path / "fs.tar"

    own_store.build_ok(context, "-t", f"tar-{tmp_path.name}:v1", "--output", f"type=tar,dest={archive}")

    with tarfile.open(archive) as tar:
        members = {member.name.rstrip("/"): member for member in tar.getmembers()}
        assert tar.extractfile(members["app/hello"]).read() == b"hello\n"  # type: ignore[union-attr]
    assert members["app/hello"].uid == 1000
    assert members["app/hello-link"].islnk()
    assert "app/gone" not in members and "app/gone/file" not in members and "etc/motd" not in members
    assert not [name for name in members if ".wh." in name]
    assert [row.repository for row in own_store.images()] == [
        "busybox"
    ]  # -t names nothing without type=image


def test_tar_on_stdout(own_store: Any, context: Path) -> None:
    completed = subprocess.run(
        own_store.argv("build", "--progress", "plain", "-o", "-", str(context)),
        capture_output=True,
        timeout=300,
    )

    assert completed.returncode == 0, completed.stderr.decode(errors="replace")
    with tarfile.open(fileobj=io.BytesIO(completed.stdout)) as tar:
        assert tar.extractfile("app/note.txt").read() == b"from the context\n"  # type: ignore[union-attr]


def test_docker_archive_loads_as_the_image_the_store_build_makes(
    own_store: Any, context: Path, tmp_path: Path
) -> None:
    archive = tmp_path / "image.tar"
    epoch = {"SOURCE_DATE_EPOCH": "1700000000"}

    own_store.build_ok(context, "-t", "archived:v1", "--output", f"type=docker,dest={archive}", env=epoch)
    assert "archived" not in {row.repository for row in own_store.images()}  # the archive only

    own_store.build_ok(context, "-t", "stored:v1", env=epoch)
    loaded = type(own_store)(tmp_path / "elsewhere")  # a second store: only the archive
    loaded.ok("load", "-i", str(archive))
    assert loaded.inspect("archived:v1")["Config"] == own_store.inspect("stored:v1")["Config"]
    assert loaded.image_id("archived:v1") == own_store.image_id("stored:v1")
    assert loaded.run_output("archived:v1", "cat", "/app/hello") == "hello\n"


def test_iidfile_holds_the_id_of_an_archived_image(own_store: Any, context: Path, tmp_path: Path) -> None:
    iidfile = tmp_path / "iid"

    own_store.build_ok(context, "--iidfile", str(iidfile), "-o", f"type=docker,dest={tmp_path / 'x.tar'}")

    with tarfile.open(tmp_path / "x.tar") as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
    assert manifest[0]["Config"] == "blobs/sha256/" + iidfile.read_text().removeprefix("sha256:")


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--output", "type=bogus"), "--output 'type=bogus': unknown type 'bogus'"),
        (("--output", "type=local"), "type=local needs dest=DIR"),
        (
            ("--output", "type=docker,dest=x.tar,compression=zstd"),
            "type=docker has no attribute 'compression'",
        ),
        (("--output", "type=image,push=maybe"), "'maybe' is not true or false"),
        (("--push",), "pushing needs a name to push to"),
        (("-o", "type=tar,dest=-", "-o", "type=oci,dest=-"), "only one output can write to stdout"),
        (("-q", "-o", "-"), "-q prints the image ID on stdout"),
        (("--cache-to", "type=registry"), "--cache-to 'type=registry': type=registry needs ref="),
        (("--cache-from", "type=gha"), "--cache-from 'type=gha': unsupported type 'gha'"),
    ],
)
def test_bad_output_flags_fail_before_building(
    own_store: Any, context: Path, flags: tuple[str, ...], message: str
) -> None:
    result = own_store.build(context, *flags)

    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert "#1 " not in result.stderr  # nothing ran


@pytest.mark.parametrize("output", ["type=docker,dest={file}/image.tar", "type=local,dest={file}/tree"])
def test_a_destination_that_cannot_be_written_is_a_clear_error(
    own_store: Any, context: Path, tmp_path: Path, output: str
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n")

    result = own_store.build(context, "--output", output.format(file=blocker))

    assert result.returncode == 1, result.stderr
    assert f"cannot write {blocker}/" in result.stderr
    assert "Traceback" not in result.stderr
