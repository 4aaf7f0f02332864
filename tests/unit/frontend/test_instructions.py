"""Typed instructions: what each one holds, and the flag and argument errors a user gets (with the line)."""

from __future__ import annotations

import pytest

from slipway.errors import DockerfileError, SourceLocation
from slipway.frontend.instructions import (
    AddCommand,
    ArgCommand,
    ArgDeclaration,
    CmdCommand,
    Command,
    CopyCommand,
    EntrypointCommand,
    EnvCommand,
    ExposeCommand,
    FromCommand,
    HealthcheckCommand,
    InlineFile,
    InvalidValue,
    KeyValue,
    LabelCommand,
    MaintainerCommand,
    MountSpec,
    OnbuildCommand,
    RunCommand,
    ShellCommand,
    StopSignalCommand,
    UserCommand,
    VolumeCommand,
    WorkdirCommand,
    parse_command,
    parse_duration,
    parse_mount,
    parse_ram_bytes,
)
from slipway.frontend.parser import Instruction, parse


def command(text: str) -> Command:
    """The typed command of the last instruction of `text` (a FROM line is put before it when needed)."""
    parsed = parse(text, path="Dockerfile")
    return parse_command(parsed.instructions[-1])


def error(text: str) -> DockerfileError:
    with pytest.raises(DockerfileError) as caught:
        command(text)
    return caught.value


def test_a_hand_built_instruction_is_typed_without_the_parser() -> None:
    location = SourceLocation("Dockerfile", 3, 3)
    instruction = Instruction(
        keyword="copy",
        args=("a", "b/"),
        flags=("--from=build", "--chown=1:2", "--link"),
        json_form=False,
        original="COPY --from=build --chown=1:2 --link a b/",
        heredocs=(),
        location=location,
    )
    typed = parse_command(instruction)
    assert isinstance(typed, CopyCommand)
    assert (typed.sources, typed.dest, typed.from_ref, typed.chown, typed.link) == (
        ("a",),
        "b/",
        "build",
        "1:2",
        True,
    )
    assert typed.location == location


def test_an_unknown_keyword_is_refused_with_the_known_ones() -> None:
    location = SourceLocation("Dockerfile", 7, 7)
    instruction = Instruction(
        keyword="fly",
        args=("away",),
        flags=(),
        json_form=False,
        original="FLY away",
        heredocs=(),
        location=location,
    )
    with pytest.raises(DockerfileError) as caught:
        parse_command(instruction)
    assert caught.value.location == location
    assert caught.value.message == "dockerfile parse error on line 7: unknown instruction: FLY"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("RUNN b", "unknown instruction: RUNN (did you mean RUN?)"),
        ("fntrypoint x", "unknown instruction: fntrypoint (did you mean entrypoint?)"),
        ("FROM x\nONBUILD FROB x", "unknown instruction: FROB"),
    ],
)
def test_an_unknown_keyword_says_what_was_meant(text: str, message: str) -> None:
    with pytest.raises(DockerfileError) as caught:
        command(text)
    assert message in caught.value.message


def test_from_with_platform_and_stage_name_lower_cased() -> None:
    typed = command("FROM --platform=$BUILDPLATFORM golang:1.24 AS Build")
    assert typed == FromCommand(
        location=typed.location,
        original="FROM --platform=$BUILDPLATFORM golang:1.24 AS Build",
        base="golang:1.24",
        stage_name="build",
        platform="$BUILDPLATFORM",
    )


def test_run_shell_form_exec_form_and_flags() -> None:
    shell = command("FROM a\nRUN --network=none --security=insecure go build ./...")
    assert isinstance(shell, RunCommand)
    assert shell.command == ("go build ./...",) and shell.prepend_shell
    assert (shell.network, shell.security) == ("none", "insecure")
    exec_form = command('FROM a\nRUN ["ls", "-la"]')
    assert isinstance(exec_form, RunCommand)
    assert exec_form.command == ("ls", "-la") and not exec_form.prepend_shell


def test_run_mounts_are_repeatable_and_kept_as_written() -> None:
    typed = command(
        "FROM a\nRUN --mount=type=cache,target=/root/.cache --mount=type=bind,from=build,source=/out,target=/in make"
    )
    assert isinstance(typed, RunCommand)
    assert typed.mounts == ("type=cache,target=/root/.cache", "type=bind,from=build,source=/out,target=/in")


def test_copy_flags() -> None:
    typed = command("FROM a\nCOPY --from=0 --chmod=755 --parents --exclude=*.md --exclude=tmp a b /dst/")
    assert isinstance(typed, CopyCommand)
    assert typed.from_ref == "0" and typed.chmod == "755" and typed.parents
    assert typed.exclude == ("*.md", "tmp")
    assert typed.sources == ("a", "b") and typed.dest == "/dst/"


def test_add_flags() -> None:
    typed = command(
        "FROM a\nADD --checksum=sha256:"
        + "a" * 64
        + " --keep-git-dir=true --unpack=false https://x/y.tar /d/"
    )
    assert isinstance(typed, AddCommand)
    assert typed.checksum == "sha256:" + "a" * 64
    assert typed.keep_git_dir is True and typed.unpack is False
    plain = command("FROM a\nADD x /d/")
    assert isinstance(plain, AddCommand) and plain.unpack is None and plain.keep_git_dir is None


def test_copy_heredoc_sources_become_inline_files() -> None:
    typed = command("FROM a\nCOPY <<EOF <<'RAW' /etc/\nhello $NAME\nEOF\nkeep $THIS\nRAW\n")
    assert isinstance(typed, CopyCommand)
    assert typed.sources == ()
    assert typed.inline == (
        InlineFile(name="EOF", content="hello $NAME\n", expand=True),
        InlineFile(name="RAW", content="keep $THIS\n", expand=False),
    )


def test_env_and_label_pairs_in_both_forms() -> None:
    env = command('FROM a\nENV A=1 B="2 3"')
    assert isinstance(env, EnvCommand)
    assert env.pairs == (KeyValue("A", "1"), KeyValue("B", '"2 3"'))
    legacy = command("FROM a\nENV PATH /go/bin:$PATH")
    assert isinstance(legacy, EnvCommand)
    assert legacy.pairs == (KeyValue("PATH", "/go/bin:$PATH", legacy=True),)
    label = command('FROM a\nLABEL org.opencontainers.image.title="slipway" version=1')
    assert isinstance(label, LabelCommand)
    assert [pair.key for pair in label.pairs] == ["org.opencontainers.image.title", "version"]


def test_arg_declarations_with_and_without_defaults() -> None:
    typed = command('ARG A B=2 C="x y"')
    assert isinstance(typed, ArgCommand)
    assert typed.args == (ArgDeclaration("A"), ArgDeclaration("B", "2"), ArgDeclaration("C", '"x y"'))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("WORKDIR /src", WorkdirCommand),
        ("USER app:app", UserCommand),
        ("EXPOSE 80 443/udp", ExposeCommand),
        ("VOLUME /data /logs", VolumeCommand),
        ("STOPSIGNAL SIGINT", StopSignalCommand),
        ("MAINTAINER someone", MaintainerCommand),
        ('SHELL ["/bin/bash", "-c"]', ShellCommand),
        ("CMD echo hi", CmdCommand),
        ('ENTRYPOINT ["/bin/app"]', EntrypointCommand),
        ("ONBUILD RUN make", OnbuildCommand),
        ("HEALTHCHECK NONE", HealthcheckCommand),
    ],
)
def test_each_instruction_has_its_type(text: str, expected: type) -> None:
    assert isinstance(command("FROM a\n" + text), expected)


def test_expose_ports_are_sorted_as_buildkit_sorts_them() -> None:
    typed = command("FROM a\nEXPOSE 9000 5000 6000")
    assert isinstance(typed, ExposeCommand)
    assert typed.ports == ("5000", "6000", "9000")


def test_healthcheck_durations_are_nanoseconds() -> None:
    typed = command(
        "FROM a\nHEALTHCHECK --interval=5s --timeout=1m30s --start-period=500ms --retries=3 CMD curl -f http://x/"
    )
    assert isinstance(typed, HealthcheckCommand)
    assert typed.test == ("CMD-SHELL", "curl -f http://x/")
    assert (typed.interval, typed.timeout, typed.start_period, typed.retries) == (
        5_000_000_000,
        90_000_000_000,
        500_000_000,
        3,
    )
    exec_form = command('FROM a\nHEALTHCHECK CMD ["/bin/check", "-q"]')
    assert isinstance(exec_form, HealthcheckCommand)
    assert exec_form.test == ("CMD", "/bin/check", "-q")
    none = command("FROM a\nHEALTHCHECK NONE")
    assert isinstance(none, HealthcheckCommand) and none.test == ("NONE",)


def test_onbuild_keeps_the_trigger_text_as_docker_stores_it() -> None:
    typed = command("FROM a\nONBUILD COPY . /app")
    assert isinstance(typed, OnbuildCommand)
    assert (typed.expression, typed.trigger) == ("COPY . /app", "copy")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("COPY --chmown=1 a b", "unknown flag: --chmown (did you mean chown?)"),
        ("COPY --frobnicate a b", "unknown flag: --frobnicate; COPY accepts --from"),
        ("RUN --from=build make", "--from is a flag of COPY"),
        ("ADD --from=build a b", "--from is a flag of COPY"),
        ("ENV --link A=1", "ENV takes no flags"),
        ("COPY --link=yes a b", "expects true or false"),
        ("COPY --from a b", "--from needs a value"),
        ("COPY --from=a --from=b x y", "--from is given twice"),
        ("RUN --network=bridge make", "unsupported network mode 'bridge'"),
        ("RUN --security=root make", "unsupported security mode 'root'"),
        ("RUN --mount=type=volume,target=/x make", 'unsupported mount type "volume"'),
        ("RUN --mount=type=tmp,target=/x make", 'unsupported mount type "tmp" (did you mean tmpfs?)'),
        ("RUN --mount=typ=tmpfs make", "unexpected key 'typ' in 'typ=tmpfs' (did you mean type?)"),
        ("RUN --mount=from=$x,target=/x make", "'from' doesn't support variable expansion"),
        ("RUN --mount=type=cache,target=/x,colour=red make", "unexpected key 'colour'"),
        ("RUN --mount=type=bind,target=/x,uid=1 make", "uid not allowed for 'bind'"),
        ("RUN --mount=type=cache,target=/x,required make", "unexpected key 'required'"),
        ("RUN --mount=type=cache,target=/x,sharing=everyone make", "unsupported sharing value"),
        ("RUN --mount=type=tmpfs,target=/x,size=lots make", "invalid value for size"),
        ("RUN --mount=type=cache,target=/x,mode=999 make", "invalid value '999' for mode"),
        ("RUN --mount=type=bind,from=$STAGE,target=/x make", "doesn't support variable expansion"),
        ("RUN --mount=type=secret make", "one of id, source, target or env is required"),
        ("RUN --mount=type=bind,target=/x,bogus make", "must be a key=value pair"),
        ("HEALTHCHECK --interval=5 CMD true", "invalid duration"),
        ("HEALTHCHECK --interval=100us CMD true", "cannot be less than 1ms"),
        ("HEALTHCHECK --retries=-1 CMD true", "--retries cannot be negative"),
        ("HEALTHCHECK --interval=5s NONE", "takes no flags"),
        ("HEALTHCHECK CMD", "missing command"),
        ("HEALTHCHECK CONNECT TCP 7000", "unknown type 'CONNECT'"),
        ("COPY --chmod=999 a b", "invalid chmod parameter: '999'. it should be octal string"),
        ("COPY --chmod=64a a b", "invalid chmod parameter: '64a'. it should be octal string"),
        ("COPY --chmod=rwx a b", "invalid --chmod=rwx"),
        ("COPY onlyone", "destination is missing"),
        ("ADD --checksum=sha256:" + "a" * 64 + " a b /d/", "--checksum needs exactly one source"),
        ("WORKDIR", "needs exactly one argument"),
        ("USER", "needs exactly one argument"),
        ("STOPSIGNAL SIGNOPE", "invalid signal 'SIGNOPE'"),
        ("STOPSIGNAL 0", "invalid signal '0'"),
        ("SHELL /bin/bash -c", "JSON form"),
        ("ONBUILD ONBUILD RUN x", "chaining ONBUILD"),
        ("ONBUILD FROM alpine", "FROM isn't allowed as an ONBUILD trigger"),
        ("ONBUILD COPY --bogus=1 a b", "unknown flag: --bogus"),
        ("FROM a AS 1st", "invalid stage name '1st'"),
        ("FROM a b", "either one or three arguments"),
        ("FROM --platform a", "--platform needs a value"),
        ("EXPOSE", "needs at least one port"),
        ("FLY away", "unknown instruction"),
    ],
)
def test_errors_name_the_file_the_line_and_what_to_fix(text: str, message: str) -> None:
    err = error("FROM base\n" + text)
    assert err.location is not None and err.location.line == 2
    assert str(err).startswith("Dockerfile:2: ")
    assert message in str(err)


def test_parse_mount_defaults_follow_buildkit() -> None:
    identity = str
    assert parse_mount("type=cache,target=/c", identity) == MountSpec(
        type="cache", target="/c", readonly=False
    )
    assert parse_mount("target=/src", identity) == MountSpec(type="bind", target="/src", readonly=True)
    assert parse_mount("type=bind,target=/src,rw", identity).readonly is False
    assert parse_mount("type=bind,target=/src,readwrite=true", identity).readonly is False
    assert parse_mount("type=tmpfs,dst=/tmp,size=64m", identity) == MountSpec(
        type="tmpfs", target="/tmp", readonly=False, size=64 * 1024 * 1024
    )
    secret = parse_mount("type=secret,id=token,env=TOKEN,required", identity)
    assert (secret.id, secret.env, secret.required) == ("token", "TOKEN", True)
    cache = parse_mount("type=cache,id=go,target=/go,sharing=locked,uid=1000,gid=1000,mode=0700", identity)
    assert (cache.id, cache.sharing, cache.uid, cache.gid, cache.mode) == ("go", "locked", 1000, 1000, 0o700)


def test_parse_mount_expands_values_but_not_from() -> None:
    seen: list[str] = []

    def expand(word: str) -> str:
        seen.append(word)
        return word.replace("$DIR", "/cache")

    spec = parse_mount("type=cache,from=build,target=$DIR", expand)
    assert spec.target == "/cache" and spec.from_ref == "build"
    assert "build" not in seen
    with pytest.raises(InvalidValue):
        parse_mount("type=bind,uid=${UID}", lambda word: "1000")


def test_durations_and_sizes_as_go_parses_them() -> None:
    assert parse_duration("0") == 0
    assert parse_duration("1h2m3.5s") == (3600 + 120 + 3.5) * 10**9
    assert parse_duration("300ms") == 300_000_000
    assert parse_duration("1.5us") == 1500
    for bad in ("", "5", "s", "1d", "1..5s"):
        with pytest.raises(ValueError):
            parse_duration(bad)
    assert parse_ram_bytes("1024") == 1024
    assert parse_ram_bytes("1k") == 1024
    assert parse_ram_bytes("1.5GiB") == int(1.5 * 1024**3)
    with pytest.raises(ValueError):
        parse_ram_bytes("ten")
