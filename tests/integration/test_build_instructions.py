"""Every instruction of the Dockerfile reference, each with its effect checked the way a user checks it:
in `slipway inspect` (the image config) or inside `slipway run` (files, users, working dir)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.root, pytest.mark.rootless_too]

BASE_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SECOND = 1_000_000_000  # Docker keeps HEALTHCHECK durations in nanoseconds


def build(
    store: Any, make_context: Any, where: Path, name: str, dockerfile: str, *args: str, **files: Any
) -> str:
    context = make_context(where, dockerfile, {key.replace("__", "/"): value for key, value in files.items()})
    store.build_ok(context, "-t", name, *args)
    return name


# -- ENV, ARG, LABEL ---------------------------------------------------------------------------------------


def test_env_in_both_forms(shared_store: Any, make_context: Any, tmp_path: Path, token: str) -> None:
    image = build(
        shared_store,
        make_context,
        tmp_path / "ctx",
        f"env:{token}",
        """\
FROM busybox:test
ENV A=1 B="two words"
ENV C three words here
ENV D=${A}x
RUN echo "$A|$B|$C|$D" > /env.txt
""",
    )
    config = shared_store.config(image)
    assert config["Env"] == [BASE_PATH, "A=1", "B=two words", "C=three words here", "D=1x"]
    assert shared_store.run_output(image, "cat", "/env.txt") == "1|two words|three words here|1x\n"
    assert shared_store.run_output(image, "sh", "-c", 'echo "$B"') == "two words\n"


ARG_DOCKERFILE = """\
ARG TAG=test
ARG GLOBAL=global-default
FROM busybox:${TAG}
ARG GLOBAL
ARG WITH_DEFAULT=dflt
ARG FROM_CLI
RUN echo "$GLOBAL|$WITH_DEFAULT|$FROM_CLI" > /args.txt
"""


def test_arg_defaults_build_args_and_a_global_arg_in_from(
    shared_store: Any, make_context: Any, tmp_path: Path, token: str
) -> None:
    defaults = build(shared_store, make_context, tmp_path / "a", f"arg-defaults:{token}", ARG_DOCKERFILE)
    assert shared_store.run_output(defaults, "cat", "/args.txt") == "global-default|dflt|\n"
    given = build(
        shared_store,
        make_context,
        tmp_path / "b",
        f"arg-given:{token}",
        ARG_DOCKERFILE,
        "--build-arg",
        "FROM_CLI=cli",
        "--build-arg",
        "WITH_DEFAULT=over",
        "--build-arg",
        "GLOBAL=global-given",
    )
    assert shared_store.run_output(given, "cat", "/args.txt") == "global-given|over|cli\n"
    # Build args are not part of the image's environment.
    assert shared_store.config(given)["Env"] == [BASE_PATH]


def test_a_global_arg_is_only_seen_in_a_stage_that_redeclares_it(
    shared_store: Any, make_context: Any, tmp_path: Path, token: str
) -> None:
    image = build(
        shared_store,
        make_context,
        tmp_path / "ctx",
        f"arg-scope:{token}",
        """\
ARG BASE=no-such-image:anywhere
ARG UNSEEN=global
FROM ${BASE}
RUN echo "[$UNSEEN]" > /unseen.txt
""",
        "--build-arg",
        "BASE=busybox:test",
    )
    assert shared_store.run_output(image, "cat", "/unseen.txt") == "[]\n"


def test_label(shared_store: Any, make_context: Any, tmp_path: Path, token: str) -> None:
    image = build(
        shared_store,
        make_context,
        tmp_path / "ctx",
        f"label:{token}",
        """\
FROM busybox:test
LABEL org.example.a=b "with space"="value with space"
LABEL multi.one=1 \\
      multi.two=2
LABEL a.b=first
LABEL a.b=second
""",
    )
    assert shared_store.config(image)["Labels"] == {
        "org.example.a": "b",
        "with space": "value with space",
        "multi.one": "1",
        "multi.two": "2",
        "a.b": "second",
    }


def test_maintainer_sets_the_author(shared_store: Any, make_context: Any, tmp_path: Path, token: str) -> None:
    image = build(
        shared_store,
        make_context,
        tmp_path / "ctx",
        f"maintainer:{token}",
        "FROM busybox:test\nMAINTAINER Jane Doe <jane@example.com>\n",
    )
    assert shared_store.inspect(image)["Author"] == "Jane Doe <jane@example.com>"


# -- EXPOSE, VOLUME, STOPSIGNAL, HEALTHCHECK, SHELL, ONBUILD -----------------------------------------------


def test_expose(shared_store: Any, make_context: Any, tmp_path: Path, token: str) -> None:
    image = build(
        shared_store,
        make_context,
        tmp_path / "ctx",
        f"expose:{token}",
        "FROM busybox:test\nEXPOSE 80 53/udp\nEXPOSE 8080/tcp\n",
    )
    assert shared_store.config(image)["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}, "8080/tcp": {}}


def test_volume_in_both_forms(shared_store: Any, make_context: Any, tmp_path: Path, token: str) -> None:
    image = build(
        shared_store,
        make_context,
        tmp_path / "ctx",
        f"volume:{token}",
        'FROM busybox:test\nVOLUME ["/data"]\nVOLUME /v1 /v2\n',
    )
    assert shared_store.config(image)["Volumes"] == {"/data": {}, "/v1": {}, "/v2": {}}


def test_no_stopsignal_and_an_empty_cmd_show_as_docker_shows_them(
    shared_store: Any, make_context: Any, tmp_path: Path, token: str
) -> None:
    # docker image inspect shows null for an unset StopSignal and for `CMD []` (the image config's
    # fields are omitempty, so an empty list is dropped).
    image = build(
        shared_store, make_context, tmp_path / "ctx", f"empty-cmd:{token}", "FROM busybox:test\nCMD []\n"
    )
    config = shared_store.config(image)
    assert config.get("StopSignal") is None
    assert config.get("Cmd") is None


def test_stopsignal(shared_store: Any, make_context: Any, tmp_path: Path, token: str) -> None:
    image = build(
        shared_store,
        make_context,
        tmp_path / "ctx",
        f"stopsignal:{token}",
        "FROM busybox:test\nSTOPSIGNAL SIGKILL\n",
    )
    assert shared_store.config(image)["StopSignal"] == "SIGKILL"


def test_healthcheck_with_flags_in_exec_and_shell_forms(
    shared_store: Any, make_context: Any, tmp_path: Path, token: str
) -> None:
    exec_form = build(
        shared_store,
        make_context,
        tmp_path / "a",
        f"healthcheck-exec:{token}",
        'FROM busybox:test\nHEALTHCHECK --interval=30s --timeout=5s --start-period=2s --retries=4 CMD ["/bin/true"]\n',
    )
    assert shared_store.config(exec_form)["Healthcheck"] == {
        "Test": ["CMD", "/bin/true"],
        "Interval": 30 * SECOND,
        "Timeout": 5 * SECOND,
        "StartPeriod": 2 * SECOND,
        "Retries": 4,
    }
    shell_form = build(
        shared_store,
        make_context,
        tmp_path / "b",
        f"healthcheck-shell:{token}",
        "FROM busybox:test\nHEALTHCHECK --interval=1m CMD test -e /tmp/healthy || exit 1\n",
    )
    assert shared_store.config(shell_form)["Healthcheck"] == {
        "Test": ["CMD-SHELL", "test -e /tmp/healthy || exit 1"],
        "Interval": 60 * SECOND,
    }


def test_healthcheck_none(shared_store: Any, make_context: Any, tmp_path: Path, token: str) -> None:
    image = build(
        shared_store,
        make_context,
        tmp_path / "ctx",
        f"healthcheck-none:{token}",
        "FROM busybox:test\nHEALTHCHECK NONE\n",
    )
    assert shared_store.config(image)["Healthcheck"] == {"Test": ["NONE"]}


def test_shell_changes_how_run_and_shell_form_cmd_run(
    shared_store: Any, make_context: Any, tmp_path: Path, token: str
) -> None:
    image = build(
        shared_store,
        make_context,
        tmp_path / "ctx",
        f"shell:{token}",
        """\
FROM busybox:test
SHELL ["/bin/sh", "-ec"]
RUN echo "$-" > /flags.txt
CMD echo from-shell-form-cmd
""",
    )
    config = shared_store.config(image)
    assert config["Shell"] == ["/bin/sh", "-ec"]
    assert config["Cmd"] == ["/bin/sh", "-ec", "echo from-shell-form-cmd"]
    assert "e" in shared_store.run_output(image, "cat", "/flags.txt")
    assert shared_store.run_output(image) == "from-shell-form-cmd\n"


def test_shell_with_errexit_fails_a_run_that_plain_sh_would_pass(
    shared_store: Any, make_context: Any, tmp_path: Path, token: str
) -> None:
    passing = make_context(tmp_path / "a", "FROM busybox:test\nRUN false; echo survived\n")
    shared_store.build_ok(passing, "-t", f"shell-default:{token}")
    failing = make_context(
        tmp_path / "b", 'FROM busybox:test\nSHELL ["/bin/sh", "-ec"]\nRUN false; echo survived\n'
    )
    result = shared_store.build(failing, "-t", f"shell-errexit:{token}")
    assert result.returncode != 0, 'SHELL [..., "-ec"] should stop at `false`'


def test_onbuild_triggers_run_in_the_child_only(
    shared_store: Any, make_context: Any, tmp_path: Path, token: str
) -> None:
    base = build(
        shared_store,
        make_context,
        tmp_path / "base",
        f"onbuild-base:{token}",
        """\
FROM busybox:test
ONBUILD RUN echo triggered > /onbuild.txt
ONBUILD COPY child-file.txt /from-child-context.txt
""",
    )
    assert shared_store.config(base)["OnBuild"] == [
        "RUN echo triggered > /onbuild.txt",
        "COPY child-file.txt /from-child-context.txt",
    ]
    assert shared_store("run", "--rm", base, "test", "-e", "/onbuild.txt").returncode == 1
    child = build(
        shared_store,
        make_context,
        tmp_path / "child",
        f"onbuild-child:{token}",
        f"FROM {base}\nRUN echo child-step > /child.txt\n",
        **{"child-file.txt": "from the child's context\n"},
    )
    assert shared_store.run_output(child, "cat", "/onbuild.txt") == "triggered\n"
    assert shared_store.run_output(child, "cat", "/from-child-context.txt") == "from the child's context\n"
    # Triggers fire once: a grandchild does not inherit them.
    assert not shared_store.config(child).get("OnBuild")


# -- CMD and ENTRYPOINT ------------------------------------------------------------------------------------


def test_cmd_and_entrypoint_in_exec_form(
    shared_store: Any, make_context: Any, tmp_path: Path, token: str
) -> None:
    image = build(
        shared_store,
        make_context,
        tmp_path / "ctx",
        f"exec-form:{token}",
        'FROM busybox:test\nENTRYPOINT ["/bin/echo", "ep"]\nCMD ["default-arg"]\n',
    )
    config = shared_store.config(image)
    assert config["Entrypoint"] == ["/bin/echo", "ep"]
    assert config["Cmd"] == ["default-arg"]
    assert shared_store.run_output(image) == "ep default-arg\n"
    assert shared_store.run_output(image, "given") == "ep given\n"


def test_shell_form_entrypoint_and_cmd(
    shared_store: Any, make_context: Any, tmp_path: Path, token: str
) -> None:
    entrypoint = build(
        shared_store,
        make_context,
        tmp_path / "a",
        f"shell-entrypoint:{token}",
        "FROM busybox:test\nENTRYPOINT echo shell-entrypoint $HOME\n",
    )
    config = shared_store.config(entrypoint)
    assert config["Entrypoint"] == ["/bin/sh", "-c", "echo shell-entrypoint $HOME"]
    # Docker: ENTRYPOINT resets a CMD inherited from the base image (busybox:test has CMD ["sh"]).
    assert not config.get("Cmd")
    assert shared_store.run_output(entrypoint).startswith("shell-entrypoint")
    cmd = build(
        shared_store,
        make_context,
        tmp_path / "b",
        f"shell-cmd:{token}",
        "FROM busybox:test\nCMD echo shell-cmd\n",
    )
    assert shared_store.config(cmd)["Cmd"] == ["/bin/sh", "-c", "echo shell-cmd"]
    assert shared_store.run_output(cmd) == "shell-cmd\n"


def test_cmd_is_inherited_from_the_base(
    shared_store: Any, make_context: Any, tmp_path: Path, token: str
) -> None:
    image = build(
        shared_store, make_context, tmp_path / "ctx", f"inherit-cmd:{token}", "FROM busybox:test\nENV X=1\n"
    )
    assert shared_store.config(image)["Cmd"] == ["sh"]


# -- USER, WORKDIR -----------------------------------------------------------------------------------------


def test_user_applies_to_run_and_to_the_image(
    shared_store: Any, make_context: Any, tmp_path: Path, token: str
) -> None:
    image = build(
        shared_store,
        make_context,
        tmp_path / "ctx",
        f"user:{token}",
        """\
FROM busybox:test
USER app
RUN id -u > /tmp/uid.txt && id -g >> /tmp/uid.txt && id -un >> /tmp/uid.txt && touch /tmp/made-by-app
""",
    )
    assert shared_store.config(image)["User"] == "app"
    assert shared_store.run_output(image, "cat", "/tmp/uid.txt") == "1000\n1000\napp\n"
    assert shared_store.run_output(image, "stat", "-c", "%u:%g", "/tmp/made-by-app") == "1000:1000\n"
    assert shared_store.run_output(image, "id", "-u") == "1000\n"


def test_workdir_absolute_relative_and_with_variables(
    shared_store: Any, make_context: Any, tmp_path: Path, token: str
) -> None:
    image = build(
        shared_store,
        make_context,
        tmp_path / "ctx",
        f"workdir:{token}",
        """\
FROM busybox:test
WORKDIR /a
WORKDIR b
ENV SUB=c
WORKDIR $SUB
RUN pwd > /pwd.txt && touch here.txt
""",
    )
    assert shared_store.config(image)["WorkingDir"] == "/a/b/c"
    assert shared_store.run_output(image, "cat", "/pwd.txt") == "/a/b/c\n"
    assert shared_store.run_output(image, "pwd") == "/a/b/c\n"
    assert shared_store("run", "--rm", image, "test", "-f", "/a/b/c/here.txt").returncode == 0


# -- COPY and ADD ------------------------------------------------------------------------------------------


def test_copy_with_chown_and_chmod(shared_store: Any, make_context: Any, tmp_path: Path, token: str) -> None:
    context = make_context(
        tmp_path / "ctx",
        """\
FROM busybox:test
COPY --chown=app:app --chmod=640 owned.txt /opt/owned.txt
COPY plain.sh /opt/plain.sh
""",
        {"owned.txt": "owned\n", "plain.sh": "#!/bin/sh\necho plain\n"},
    )
    (context / "plain.sh").chmod(0o755)
    (context / "owned.txt").chmod(0o666)
    shared_store.build_ok(context, "-t", f"chown:{token}")
    output = shared_store.run_output(
        f"chown:{token}", "stat", "-c", "%n %U %G %a", "/opt/owned.txt", "/opt/plain.sh"
    )
    assert output == "/opt/owned.txt app app 640\n/opt/plain.sh root root 755\n"
    assert shared_store.run_output(f"chown:{token}", "/opt/plain.sh") == "plain\n"


def test_add_extracts_a_local_tar_gz_and_copy_does_not(
    shared_store: Any, make_context: Any, tmp_path: Path, token: str
) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in (("dir/inner.txt", b"inside the archive\n"), ("top.txt", b"top\n")):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(content))
    context = make_context(
        tmp_path / "ctx",
        """\
FROM busybox:test
ADD archive.tar.gz /unpacked/
COPY archive.tar.gz /copied/
""",
        {"archive.tar.gz": buffer.getvalue()},
    )
    shared_store.build_ok(context, "-t", f"add-tar:{token}")
    image = f"add-tar:{token}"
    assert shared_store.run_output(image, "cat", "/unpacked/dir/inner.txt", "/unpacked/top.txt") == (
        "inside the archive\ntop\n"
    )
    assert shared_store.run_output(image, "ls", "/copied") == "archive.tar.gz\n"
    assert shared_store("run", "--rm", image, "test", "-e", "/unpacked/archive.tar.gz").returncode == 1


def test_copy_of_a_directory_copies_its_contents(
    shared_store: Any, make_context: Any, tmp_path: Path, token: str
) -> None:
    context = make_context(
        tmp_path / "ctx",
        "FROM busybox:test\nCOPY src /dst\nCOPY src/ /dst2/\n",
        {"src/a.txt": "a\n", "src/sub/b.txt": "b\n", "src/sub/deeper/c.txt": "c\n"},
    )
    shared_store.build_ok(context, "-t", f"copy-dir:{token}")
    listing = shared_store.run_output(f"copy-dir:{token}", "find", "/dst", "/dst2")
    expected = {
        f"{top}{rest}"
        for top in ("/dst", "/dst2")
        for rest in ("", "/a.txt", "/sub", "/sub/b.txt", "/sub/deeper", "/sub/deeper/c.txt")
    }
    assert set(listing.split()) == expected


def test_copy_with_globs(shared_store: Any, make_context: Any, tmp_path: Path, token: str) -> None:
    context = make_context(
        tmp_path / "ctx",
        "FROM busybox:test\nCOPY *.txt /globbed/\nCOPY t?o.md /question/\nCOPY [ab]*.cfg /class/\n",
        {
            "one.txt": "1",
            "two.txt": "2",
            "three.md": "3",
            "two.md": "2",
            "tao.md": "t",
            "a1.cfg": "a",
            "b2.cfg": "b",
            "c3.cfg": "c",
        },
    )
    shared_store.build_ok(context, "-t", f"globs:{token}")
    image = f"globs:{token}"
    assert shared_store.run_output(image, "ls", "/globbed").split() == ["one.txt", "two.txt"]
    assert shared_store.run_output(image, "ls", "/question").split() == ["tao.md", "two.md"]
    assert shared_store.run_output(image, "ls", "/class").split() == ["a1.cfg", "b2.cfg"]


def test_heredoc_as_a_run_script(shared_store: Any, make_context: Any, tmp_path: Path, token: str) -> None:
    image = build(
        shared_store,
        make_context,
        tmp_path / "ctx",
        f"heredoc-run:{token}",
        "FROM busybox:test\nRUN <<EOF\necho first > /heredoc-run.txt\necho second >> /heredoc-run.txt\nEOF\n",
    )
    assert shared_store.run_output(image, "cat", "/heredoc-run.txt") == "first\nsecond\n"


def test_heredoc_as_a_copy_source(shared_store: Any, make_context: Any, tmp_path: Path, token: str) -> None:
    image = build(
        shared_store,
        make_context,
        tmp_path / "ctx",
        f"heredoc-copy:{token}",
        "FROM busybox:test\nCOPY <<EOF /etc/greeting\nhello from a heredoc\nsecond line\nEOF\n",
    )
    assert shared_store.run_output(image, "cat", "/etc/greeting") == "hello from a heredoc\nsecond line\n"


def test_heredoc_as_the_stdin_of_a_run_command(
    shared_store: Any, make_context: Any, tmp_path: Path, token: str
) -> None:
    # The reference's `RUN <<EOT bash` form: the heredoc feeds the command written after it.
    image = build(
        shared_store,
        make_context,
        tmp_path / "ctx",
        f"heredoc-stdin:{token}",
        "FROM busybox:test\nRUN <<ONE cat > /two-docs.txt\ncontent of a heredoc fed to cat\nONE\n",
    )
    assert shared_store.run_output(image, "cat", "/two-docs.txt") == "content of a heredoc fed to cat\n"


# -- RUN --network and --mount -----------------------------------------------------------------------------


def interfaces(proc_net_dev: str) -> set[str]:
    return {line.split(":")[0].strip() for line in proc_net_dev.splitlines()[2:] if ":" in line}


def test_run_network_none_has_only_loopback(
    shared_store: Any, make_context: Any, tmp_path: Path, token: str
) -> None:
    image = build(
        shared_store,
        make_context,
        tmp_path / "ctx",
        f"network-none:{token}",
        """\
FROM busybox:test
RUN --network=none cat /proc/net/dev > /none.txt
RUN cat /proc/net/dev > /default.txt
""",
    )
    assert interfaces(shared_store.run_output(image, "cat", "/none.txt")) == {"lo"}
    host = interfaces(Path("/proc/net/dev").read_text())
    assert interfaces(shared_store.run_output(image, "cat", "/default.txt")) == host


def test_run_cache_mount_persists_across_builds_and_stays_out_of_the_image(
    own_store: Any, make_context: Any, tmp_path: Path, token: str
) -> None:
    first = make_context(
        tmp_path / "a",
        "FROM busybox:test\nRUN --mount=type=cache,target=/cache echo written-by-first > /cache/marker\n",
    )
    own_store.build_ok(first, "-t", f"cache-first:{token}")
    second = make_context(
        tmp_path / "b",
        "FROM busybox:test\nRUN --mount=type=cache,target=/cache cat /cache/marker > /seen.txt\n",
    )
    own_store.build_ok(second, "-t", f"cache-second:{token}")
    assert own_store.run_output(f"cache-second:{token}", "cat", "/seen.txt") == "written-by-first\n"
    for image in (f"cache-first:{token}", f"cache-second:{token}"):
        assert own_store("run", "--rm", image, "test", "-e", "/cache/marker").returncode == 1


def test_run_bind_mount_of_the_context(
    shared_store: Any, make_context: Any, tmp_path: Path, token: str
) -> None:
    image = build(
        shared_store,
        make_context,
        tmp_path / "ctx",
        f"bind-context:{token}",
        """\
FROM busybox:test
RUN --mount=type=bind,source=.,target=/ctx cat /ctx/data.txt > /copied.txt && \\
    (touch /ctx/new 2>/dev/null && echo writable || echo read-only) > /rw.txt
""",
        **{"data.txt": "from the context\n"},
    )
    assert shared_store.run_output(image, "cat", "/copied.txt") == "from the context\n"
    assert shared_store.run_output(image, "cat", "/rw.txt") == "read-only\n"
    assert shared_store("run", "--rm", image, "test", "-e", "/ctx/data.txt").returncode == 1


def test_env_substitution_uses_the_values_before_the_instruction(
    shared_store: Any, make_context: Any, tmp_path: Path, token: str
) -> None:
    # The Dockerfile reference's own example: def gets "hello", ghi gets "bye".
    image = build(
        shared_store,
        make_context,
        tmp_path / "ctx",
        f"env-order:{token}",
        "FROM busybox:test\nENV abc=hello\nENV abc=bye def=$abc\nENV ghi=$abc\n",
    )
    assert shared_store.config(image)["Env"] == [BASE_PATH, "abc=bye", "def=hello", "ghi=bye"]


def test_env_overrides_a_build_arg_of_the_same_name(
    shared_store: Any, make_context: Any, tmp_path: Path, token: str
) -> None:
    # The Dockerfile reference's example: ENV wins over ARG, whatever --build-arg says.
    image = build(
        shared_store,
        make_context,
        tmp_path / "ctx",
        f"env-over-arg:{token}",
        """\
FROM busybox:test
ARG CONT_IMG_VER
ENV CONT_IMG_VER=v1.0.0
RUN echo $CONT_IMG_VER > /version.txt
""",
        "--build-arg",
        "CONT_IMG_VER=v2.0.1",
    )
    assert shared_store.run_output(image, "cat", "/version.txt") == "v1.0.0\n"


def test_run_mounts_from_a_stage_and_tmpfs_leave_no_content(
    shared_store: Any, make_context: Any, tmp_path: Path, token: str
) -> None:
    image = build(
        shared_store,
        make_context,
        tmp_path / "ctx",
        f"run-mounts:{token}",
        """\
FROM busybox:test AS tools
RUN mkdir /tools && echo tool-output > /tools/t.txt

FROM busybox:test
RUN --mount=type=bind,from=tools,source=/tools,target=/mnt/tools cat /mnt/tools/t.txt > /from-stage.txt
RUN --mount=type=tmpfs,target=/scratch echo x > /scratch/x && ls /scratch > /tmpfs-seen.txt
""",
    )
    assert shared_store.run_output(image, "cat", "/from-stage.txt", "/tmpfs-seen.txt") == "tool-output\nx\n"
    for leftover in ("/mnt/tools/t.txt", "/scratch/x", "/tools"):
        assert shared_store("run", "--rm", image, "test", "-e", leftover).returncode == 1, leftover


def test_copy_to_a_new_top_directory_and_over_a_removed_one(
    shared_store: Any, make_context: Any, tmp_path: Path, token: str
) -> None:
    # /fresh exists in no layer below (the copy writes the snapshot directly); /gone was made and removed
    # below (its whiteout must keep the old file hidden under the new copy).
    context = make_context(
        tmp_path / "ctx",
        "FROM busybox:test\n"
        "RUN mkdir /gone && echo old > /gone/old.txt\n"
        "RUN rm -rf /gone\n"
        "COPY src /fresh\n"
        "COPY src /gone\n"
        "COPY src/a.txt /single\n",
        {"src/a.txt": "a\n", "src/sub/b.txt": "b\n"},
    )
    (context / "src" / "sub").chmod(0o750)
    (context / "src" / "a.txt").chmod(0o604)
    shared_store.build_ok(context, "-t", f"fresh:{token}")

    listing = shared_store.run_output(
        f"fresh:{token}", "sh", "-c", "find /fresh /gone /single | sort | xargs stat -c '%n %u:%g %a'"
    )
    assert listing.splitlines() == [
        f"/fresh 0:0 {(context / 'src').stat().st_mode & 0o777:o}",
        "/fresh/a.txt 0:0 604",
        "/fresh/sub 0:0 750",
        "/fresh/sub/b.txt 0:0 644",
        f"/gone 0:0 {(context / 'src').stat().st_mode & 0o777:o}",
        "/gone/a.txt 0:0 604",
        "/gone/sub 0:0 750",
        "/gone/sub/b.txt 0:0 644",
        "/single 0:0 604",
    ]
