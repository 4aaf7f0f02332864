"""`slipway import`: a rootfs tar becomes a one-layer image with the --change edits and the message."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import pytest
import zstandard
from _archive_images import run_cli, store_listing
from click.testing import CliRunner

from slipway.cli import cli
from slipway.errors import ArchiveError, UsageError
from slipway.export.config_changes import apply_changes
from slipway.image.layers import unpack_layer
from slipway.image.oci import ContainerConfig
from slipway.store import Store


def rootfs_tar(mtime: int = 1_700_000_000) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:

        def add(
            name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", mode: int = 0o644, target: str = ""
        ) -> None:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.mtime, info.linkname = kind, mode, mtime, target
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data else None)

        add("./bin", tarfile.DIRTYPE, mode=0o755)
        add("./bin/busybox", data=b"\x7fELF fake busybox", mode=0o755)
        add("./bin/sh", tarfile.SYMTYPE, target="busybox")
        add("./etc", tarfile.DIRTYPE, mode=0o755)
        add("./etc/hostname", data=b"box\n")
    return out.getvalue()


def test_import_with_changes_and_message(root: Path, tmp_path: Path) -> None:
    source = tmp_path / "rootfs.tar.gz"
    source.write_bytes(gzip.compress(rootfs_tar()))
    result = run_cli(
        root, "import",
        "--change", 'ENV PATH=/bin:/usr/bin GREETING="hello world"',
        "-c", 'CMD ["/bin/sh", "-c", "echo hi"]',
        "-c", "WORKDIR /srv",
        "-c", "WORKDIR app",
        "-c", "ENTRYPOINT /bin/sh -c",
        "-c", "EXPOSE 8080 53/udp",
        "-c", "USER 1000:1000",
        "-c", 'LABEL org.opencontainers.image.title="my box" tier=base',
        "-c", 'VOLUME ["/data"]',
        "-m", "made in a test",
        str(source), "box:1",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with Store.open(root) as store:
        image = store.images.resolve("box:1")
        assert result.output == image.id + "\n"
        config = image.config.config
        assert config.env == ("PATH=/bin:/usr/bin", "GREETING=hello world")
        assert config.cmd == ("/bin/sh", "-c", "echo hi")
        assert config.working_dir == "/srv/app"
        assert config.entrypoint == ("/bin/sh", "-c", "/bin/sh -c")
        assert config.exposed_ports == {"8080/tcp": {}, "53/udp": {}}
        assert config.user == "1000:1000"
        assert config.labels == {"org.opencontainers.image.title": "my box", "tier": "base"}
        assert config.volumes == {"/data": {}}
        assert [entry.comment for entry in image.config.history] == ["made in a test"]
        assert len(image.manifest.layers) == 1 and image.config.os == "linux"
        unpacked = tmp_path / "unpacked"
        unpacked.mkdir()
        with store.blobs.open(image.manifest.layers[0].digest) as blob:
            unpack_layer(blob, image.manifest.layers[0].media_type, unpacked, whiteouts="apply")
    assert (unpacked / "bin" / "busybox").read_bytes() == b"\x7fELF fake busybox"
    assert (unpacked / "bin" / "sh").readlink() == Path("busybox")
    assert (unpacked / "etc" / "hostname").read_text() == "box\n"
    history = run_cli(root, "history", "box:1").output
    assert "made in a test" in history


def test_import_is_reproducible_with_source_date_epoch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    first = run_cli(tmp_path / "a", "import", "-", "r:1", input=rootfs_tar(mtime=1_700_000_500)).output
    # Another compression and later mtimes: the tree is the same once clamped, and so is the image.
    later = zstandard.ZstdCompressor().compress(rootfs_tar(mtime=1_800_000_000))
    second = run_cli(tmp_path / "b", "import", "-", input=later).output
    assert first == second and first.startswith("sha256:")
    with Store.open(tmp_path / "a") as store:
        assert store.images.resolve("r:1").created == "2023-11-14T22:13:20Z"
        assert [entry.comment for entry in store.images.resolve("r:1").config.history] == ["Imported from -"]


def test_import_refuses_an_escaping_tar_and_keeps_the_store(root: Path, tmp_path: Path) -> None:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        info = tarfile.TarInfo("../../etc/cron.d/evil")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    source = tmp_path / "evil.tar"
    source.write_bytes(out.getvalue())
    run_cli(root, "images")
    before = store_listing(root)
    result = CliRunner().invoke(cli, ["--root", str(root), "import", str(source), "evil:1"])
    assert isinstance(result.exception, ArchiveError)
    assert "../../etc/cron.d/evil" in str(result.exception)
    assert store_listing(root) == before


def test_a_truncated_compressed_rootfs_is_refused(root: Path, tmp_path: Path) -> None:
    whole = gzip.compress(rootfs_tar() + bytes(100_000))
    result = CliRunner().invoke(cli, ["--root", str(root), "import", "-"], input=whole[: len(whole) // 2])
    assert isinstance(result.exception, ArchiveError)
    assert "truncated or corrupt" in str(result.exception)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ("RUN make", "RUN is not supported"),
        ("EXPOSE http", "is not a port"),
        ("ENV", "needs an argument"),
        ("LABEL a", "NAME=VALUE"),
    ],
)
def test_bad_changes_are_usage_errors(change: str, fragment: str) -> None:
    with pytest.raises(UsageError, match=fragment):
        apply_changes(ContainerConfig(), [change])


def test_changes_follow_dockerfile_forms() -> None:
    config = apply_changes(
        ContainerConfig(),
        [
            "ENV A b c",
            "env B=1",
            "ENV B=2",
            "CMD echo $HOME",
            "STOPSIGNAL SIGINT",
            "ONBUILD RUN true",
            "VOLUME /a /b",
        ],
    )
    assert config.env == ("A=b c", "B=2")
    assert config.cmd == ("/bin/sh", "-c", "echo $HOME")
    assert (config.stop_signal, config.on_build, config.volumes) == (
        "SIGINT",
        ("RUN true",),
        {"/a": {}, "/b": {}},
    )
