"""docker build's flags on `slipway build`: -q, --iidfile, -t twice, -f -, -f elsewhere, --label, the
build cache seen through --progress plain, and --no-cache."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.root

IMAGE_ID = re.compile(r"sha256:[0-9a-f]{64}")


def test_quiet_prints_only_the_image_id(
    shared_store: Any, make_context: Any, tmp_path: Path, token: str
) -> None:
    context = make_context(tmp_path / "ctx", f"FROM busybox:test\nRUN echo quiet-{token} > /q.txt\n")
    result = shared_store.ok("build", "-q", "-t", f"quiet:{token}", str(context))
    assert IMAGE_ID.fullmatch(result.stdout.strip()), result.stdout
    assert result.stdout.strip() == shared_store.image_id(f"quiet:{token}")
    assert f"quiet-{token}" not in result.stdout + result.stderr, "no build output with -q"


def test_iidfile_holds_the_image_id(shared_store: Any, make_context: Any, tmp_path: Path, token: str) -> None:
    context = make_context(tmp_path / "ctx", "FROM busybox:test\nLABEL iidfile=yes\n")
    iidfile = tmp_path / "out" / "iid"
    iidfile.parent.mkdir()
    shared_store.build_ok(context, "--iidfile", str(iidfile), "-t", f"iidfile:{token}")
    assert IMAGE_ID.fullmatch(iidfile.read_text())
    assert iidfile.read_text() == shared_store.image_id(f"iidfile:{token}")


def test_two_tags_name_the_same_image(
    shared_store: Any, make_context: Any, tmp_path: Path, token: str
) -> None:
    context = make_context(tmp_path / "ctx", "FROM busybox:test\nLABEL two=tags\n")
    shared_store.build_ok(context, "-t", f"first-name:{token}", "-t", f"second-name:{token}")
    first = shared_store.inspect(f"first-name:{token}")
    assert first["Id"] == shared_store.image_id(f"second-name:{token}")
    assert {f"first-name:{token}", f"second-name:{token}"} <= set(first["RepoTags"])
    rows = {(row.repository, row.tag): row.image_id for row in shared_store.images()}
    assert rows[("first-name", token)] == rows[("second-name", token)]
    assert first["Id"].removeprefix("sha256:").startswith(rows[("first-name", token)])


def test_dockerfile_from_stdin(shared_store: Any, make_context: Any, tmp_path: Path, token: str) -> None:
    context = make_context(tmp_path / "ctx", None, {"data.txt": "context file\n"})
    dockerfile = "FROM busybox:test\nCOPY data.txt /data.txt\nLABEL from=stdin\n"
    result = shared_store(
        "build", "--progress", "plain", "-f", "-", "-t", f"stdin:{token}", str(context), input=dockerfile
    )
    assert result.returncode == 0, result.stderr
    assert shared_store.config(f"stdin:{token}")["Labels"] == {"from": "stdin"}
    assert shared_store.run_output(f"stdin:{token}", "cat", "/data.txt") == "context file\n"


def test_dockerfile_outside_the_context(
    shared_store: Any, make_context: Any, tmp_path: Path, token: str
) -> None:
    context = make_context(tmp_path / "ctx", "FROM busybox:test\nLABEL which=context-dockerfile\n")
    elsewhere = tmp_path / "elsewhere.Dockerfile"
    elsewhere.write_text("FROM busybox:test\nLABEL which=named-dockerfile\n")
    shared_store.build_ok(context, "-f", str(elsewhere), "-t", f"dash-f:{token}")
    assert shared_store.config(f"dash-f:{token}")["Labels"] == {"which": "named-dockerfile"}


def test_label_flag_adds_to_the_dockerfile_labels(
    shared_store: Any, make_context: Any, tmp_path: Path, token: str
) -> None:
    context = make_context(tmp_path / "ctx", "FROM busybox:test\nLABEL from.dockerfile=1 both=dockerfile\n")
    shared_store.build_ok(
        context,
        "--label",
        "from.flag=2",
        "--label",
        "both=flag",
        "--label",
        "spaced=a b",
        "-t",
        f"label-flag:{token}",
    )
    assert shared_store.config(f"label-flag:{token}")["Labels"] == {
        "from.dockerfile": "1",
        "from.flag": "2",
        "both": "flag",
        "spaced": "a b",
    }


def step_number(output: str, text: str) -> str:
    """The `#N` of the plain-progress step whose header line holds `text`."""
    for line in output.splitlines():
        match = re.match(r"#(\d+) \[.*\] (.*)", line)
        if match and text in match.group(2):
            return match.group(1)
    raise AssertionError(f"no step {text!r} in the progress output:\n{output}")


def cached_steps(output: str, *texts: str) -> set[str]:
    """Which of the steps named by `texts` the plain progress shows as CACHED."""
    lines = output.splitlines()
    return {text for text in texts if f"#{step_number(output, text)} CACHED" in lines}


def test_a_rebuild_is_cached_and_no_cache_reruns(
    own_store: Any, make_context: Any, tmp_path: Path, token: str
) -> None:
    context = make_context(
        tmp_path / "ctx",
        "FROM busybox:test\nCOPY data.txt /data.txt\n"
        "RUN echo cache-probe-$((6*7)) && cat /proc/sys/kernel/random/uuid > /stamp\n",
        {"data.txt": "data\n"},
    )
    steps = ("COPY data.txt", "RUN echo cache-probe")
    first = own_store.build_ok(context, "-t", "cached:first").stderr
    assert "cache-probe-42" in first
    assert cached_steps(first, *steps) == set()

    again = own_store.build_ok(context, "-t", "cached:again").stderr
    assert cached_steps(again, *steps) == set(steps)
    assert "cache-probe-42" not in again
    assert own_store.image_id("cached:again") == own_store.image_id("cached:first")

    fresh = own_store.build_ok(context, "--no-cache", "-t", "cached:fresh").stderr
    assert cached_steps(fresh, *steps) == set()
    assert "cache-probe-42" in fresh
    stamps = {own_store.run_output(f"cached:{name}", "cat", "/stamp") for name in ("first", "again", "fresh")}
    assert len(stamps) == 2, "the cached rebuild reused the RUN's result; --no-cache ran it again"


def test_a_changed_context_file_invalidates_the_copy_and_what_follows(
    own_store: Any, make_context: Any, tmp_path: Path
) -> None:
    context = make_context(
        tmp_path / "ctx",
        "FROM busybox:test\nRUN echo before-copy\nCOPY data.txt /data.txt\nRUN cat /data.txt\n",
        {"data.txt": "version one\n"},
    )
    own_store.build_ok(context, "-t", "invalidate:one")
    (context / "data.txt").write_text("version two\n")
    output = own_store.build_ok(context, "-t", "invalidate:two").stderr
    assert cached_steps(output, "RUN echo before-copy", "COPY data.txt", "RUN cat /data.txt") == {
        "RUN echo before-copy"
    }
    assert own_store.run_output("invalidate:two", "cat", "/data.txt") == "version two\n"


def test_dockerignore_hides_files_from_copy_and_from_the_cache_key(
    own_store: Any, make_context: Any, tmp_path: Path
) -> None:
    context = make_context(
        tmp_path / "ctx",
        "FROM busybox:test\nCOPY . /ctx/\n",
        {
            ".dockerignore": "secret.txt\n*.log\n!keep.log\nbuild/\n",
            "secret.txt": "secret\n",
            "debug.log": "noise\n",
            "keep.log": "kept\n",
            "build/out.bin": "artifact\n",
            "src/main.txt": "source\n",
        },
    )
    own_store.build_ok(context, "-t", "ignore:one")
    listing = own_store.run_output("ignore:one", "find", "/ctx", "-type", "f").split()
    assert sorted(listing) == ["/ctx/.dockerignore", "/ctx/Dockerfile", "/ctx/keep.log", "/ctx/src/main.txt"]
    (context / "secret.txt").write_text("changed, but ignored\n")
    (context / "debug.log").write_text("more noise\n")
    output = own_store.build_ok(context, "-t", "ignore:two").stderr
    assert cached_steps(output, "COPY . /ctx/") == {"COPY . /ctx/"}


def test_network_none_flag_applies_to_every_run(own_store: Any, make_context: Any, tmp_path: Path) -> None:
    context = make_context(tmp_path / "ctx", "FROM busybox:test\nRUN cat /proc/net/dev > /netdev.txt\n")
    own_store.build_ok(context, "--network", "none", "-t", "network:none")
    lines = own_store.run_output("network:none", "cat", "/netdev.txt").splitlines()[2:]
    assert {line.split(":")[0].strip() for line in lines} == {"lo"}


def test_source_date_epoch_makes_rebuilds_identical(
    own_store: Any, make_context: Any, tmp_path: Path
) -> None:
    context = make_context(
        tmp_path / "ctx",
        "FROM busybox:test\nRUN echo fixed > /f && mkdir -p /d && echo y > /d/y\nCOPY data.txt /data.txt\n",
        {"data.txt": "data\n"},
    )
    epoch = {"SOURCE_DATE_EPOCH": "1700000000"}
    first = own_store.ok(
        "build", "-q", "--no-cache", "-t", "epoch:one", str(context), env=epoch
    ).stdout.strip()
    second = own_store.ok(
        "build", "-q", "--no-cache", "-t", "epoch:two", str(context), env=epoch
    ).stdout.strip()
    assert first == second, "the same inputs and SOURCE_DATE_EPOCH give the same image"
    assert own_store.inspect("epoch:one")["Created"].startswith("2023-11-14T22:13:20")


def test_concurrent_builds_on_one_store(own_store: Any, make_context: Any, tmp_path: Path) -> None:
    builds = []
    for number in range(3):
        context = make_context(
            tmp_path / f"ctx{number}",
            f"FROM busybox:test\nRUN echo shared-step > /shared\nRUN echo {number} > /n\nCOPY f /f\n",
            {"f": f"file {number}\n"},
        )
        argv = own_store.argv("build", "-q", "-t", f"concurrent:{number}", str(context))
        builds.append(subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for process in builds:
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr
        assert IMAGE_ID.fullmatch(stdout.strip())
    for number in range(3):
        output = own_store.run_output(f"concurrent:{number}", "cat", "/shared", "/n", "/f")
        assert output == f"shared-step\n{number}\nfile {number}\n"
    assert own_store("system", "check").returncode == 0
