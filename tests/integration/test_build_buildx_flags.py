"""The build flags docker buildx scripts pass: --add-host, --shm-size, --ulimit (every RUN's, and part of its
cache key), --annotation (the manifest's), and those accepted for what they mean without a daemon (--load,
--provenance, --sbom, --rm, --force-rm)."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

import build_helpers

pytestmark = pytest.mark.root

PROBE = """\
FROM busybox:test
RUN cat /etc/hosts > /hosts; grep /dev/shm /proc/mounts > /shm; ulimit -n > /nofile; ulimit -u > /nproc
"""


def context(tmp_path: Path, dockerfile: str) -> Path:
    return build_helpers.load().make_context(tmp_path / "context", dockerfile)  # type: ignore[no-any-return]


def test_run_steps_get_the_hosts_shm_and_limits_asked_for(own_store: Any, tmp_path: Path) -> None:
    directory = context(tmp_path, PROBE)
    own_store.build_ok(
        directory, "-t", "probe:limits",
        "--add-host", "db.internal:10.1.2.3", "--add-host", "v6:fd00::1",
        "--shm-size", "128m", "--ulimit", "nofile=1062:2048", "--ulimit", "nproc=99",
    )  # fmt: skip
    read = lambda path: own_store.run_output("probe:limits", "cat", path)  # noqa: E731
    assert "10.1.2.3\tdb.internal\n" in read("/hosts") and "fd00::1\tv6\n" in read("/hosts")
    assert "size=131072k" in read("/shm")
    assert read("/nofile").strip() == "1062"
    assert read("/nproc").strip() == "99"
    # They are part of the step's cache key: another host list runs the step again.
    again = own_store.build_ok(directory, "-t", "probe:other", "--add-host", "db.internal:10.9.9.9")
    assert "CACHED" not in again.stderr.split("RUN cat")[1]
    assert "10.9.9.9\tdb.internal\n" in own_store.run_output("probe:other", "cat", "/hosts")
    # Without them the step is the one a build without the flags always had.
    plain = own_store.build_ok(directory, "-t", "probe:plain")
    assert "size=65536k" in own_store.run_output("probe:plain", "cat", "/shm")
    assert "CACHED" in own_store.build_ok(directory, "-t", "probe:plain").stderr.split("RUN cat")[1], (
        plain.stderr
    )


@pytest.mark.parametrize(
    ("flag", "value", "said"),
    [
        ("--add-host", "db.internal", "not an IP address"),
        ("--add-host", "bad_host!:10.0.0.1", "not a host name"),
        ("--shm-size", "lots", "not a size"),
        ("--ulimit", "files=10", "unknown type 'files'"),
        ("--ulimit", "nofile=20:10", "above the hard limit"),
        ("--annotation", "index:org.example=1", "manifest annotations only"),
        ("--annotation", "novalue", "expected [manifest:]KEY=VALUE"),
    ],
)
def test_a_bad_value_is_one_clear_line(
    own_store: Any, tmp_path: Path, flag: str, value: str, said: str
) -> None:
    failed = own_store.build(context(tmp_path, PROBE), flag, value, "-t", "never:1")
    assert failed.returncode == 2, failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1 and said in failed.stderr, failed.stderr
    assert "never" not in {row.repository for row in own_store.images()}


def test_annotations_are_the_manifests(own_store: Any, tmp_path: Path) -> None:
    directory = context(tmp_path, "FROM busybox:test\nRUN echo hi > /hi\n")
    archive = tmp_path / "image.tar"
    own_store.build_ok(
        directory, "--annotation", "org.opencontainers.image.title=probe",
        "--annotation", "manifest:com.example.team=platforms", "-o", f"type=oci,dest={archive}",
    )  # fmt: skip
    with tarfile.open(archive) as tar:

        def document(name: str) -> Any:
            extracted = tar.extractfile(name)
            assert extracted is not None
            return json.loads(extracted.read())

        digest = document("index.json")["manifests"][0]["digest"]
        manifest = document("blobs/" + digest.replace(":", "/"))
    assert manifest["annotations"] == {
        "org.opencontainers.image.title": "probe",
        "com.example.team": "platforms",
    }


def test_flags_accepted_for_buildx_scripts(own_store: Any, tmp_path: Path) -> None:
    directory = context(tmp_path, "FROM busybox:test\nRUN echo hi > /hi\n")
    quiet = own_store.build_ok(
        directory,
        "-t",
        "accepted:v1",
        "--load",
        "--rm",
        "--force-rm",
        "--provenance=false",
        "--sbom",
        "false",
    )
    assert "WARNING" not in quiet.stderr
    asked = own_store.build_ok(directory, "-t", "accepted:v2", "--provenance", "mode=max", "--sbom=true")
    warnings = [line for line in asked.stderr.splitlines() if line.startswith("WARNING")]
    assert warnings == [
        "WARNING: --provenance=mode=max: slipway makes no attestations; the image has none",
        "WARNING: --sbom=true: slipway makes no attestations; the image has none",
    ]
    assert own_store.run_output("accepted:v2", "cat", "/hi") == "hi\n"
    # --load with another output: that output, and the image in the store as well (buildx adds its exporter).
    own_store.build_ok(directory, "-t", "accepted:v3", "--load", "-o", f"type=local,dest={tmp_path / 'out'}")
    assert (tmp_path / "out" / "hi").read_text() == "hi\n"
    assert own_store.run_output("accepted:v3", "cat", "/hi") == "hi\n"
    help_text = own_store.ok("build", "--help").stdout
    assert "--load" in help_text and "--force-rm" in help_text and "--provenance" in help_text
