"""The converter: Dockerfile text to the build graph the solver runs, checked as a user of `docker build` would."""

from __future__ import annotations

import re
from contextlib import suppress
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slipway.errors import DockerfileError, ImageNotFound, StageNotFound, UsageError
from slipway.frontend.convert import BaseImage, ConvertOptions, convert
from slipway.frontend.parser import parse
from slipway.graph.ops import (
    BuildGraph,
    ContextSource,
    Copy,
    Exec,
    GitSource,
    HttpSource,
    ImageSource,
    InlineSource,
    Mkdir,
    RunMount,
    ScratchSource,
    StagePlan,
    Vertex,
    walk,
)
from slipway.image.oci import ContainerConfig, DiffID, History, ImageConfig, RootFS, sha256_digest
from slipway.image.reference import parse_reference

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class Images:
    """A resolver that knows every image (one layer, its own env) and remembers what it was asked."""

    def __init__(self, configs: dict[str, ImageConfig] | None = None) -> None:
        self.configs = configs or {}
        self.calls: list[tuple[str, str]] = []

    def resolve(self, ref: str, platform: str) -> BaseImage:
        self.calls.append((ref, platform))
        name = str(parse_reference(ref))
        config = self.configs.get(ref) or image_config(env=(f"PATH=/{ref}/bin", f"IMAGE={ref}"))
        return BaseImage(
            ref=name, manifest_digest=sha256_digest(f"{name} {platform}".encode()), config=config
        )


class NoImages:
    def resolve(self, ref: str, platform: str) -> BaseImage:
        raise ImageNotFound(f"{ref}: no such image")


def image_config(**container: object) -> ImageConfig:
    return ImageConfig(
        architecture="amd64",
        os="linux",
        rootfs=RootFS(diff_ids=(DiffID("sha256:" + "1" * 64),)),
        config=ContainerConfig(**container),  # type: ignore[arg-type]
        history=(History(created_by="/bin/sh -c #(nop) ADD file:base in /"),),
    )


def build(text: str, resolver: Images | NoImages | None = None, **options: object) -> BuildGraph:
    return convert(parse(text, path="Dockerfile"), ConvertOptions(**options), resolver or Images())  # type: ignore[arg-type]


def history(plan: StagePlan) -> list[str]:
    return [entry.created_by or "" for entry in plan.history]


def own_history(plan: StagePlan) -> list[str]:
    return [entry.created_by or "" for entry in plan.history if entry.comment == "buildkit.dockerfile.v0"]


def execs(plan: StagePlan) -> list[Exec]:
    return [vertex.op for vertex in walk(plan.root) if isinstance(vertex.op, Exec)]


def env_of(op: Exec) -> dict[str, str]:
    """What the step's process sees."""
    return dict(item.partition("=")[::2] for item in op.process_env)


def digests(graph: BuildGraph) -> list[str]:
    return [vertex.digest for plan in graph.stages for vertex in walk(plan.root)]


# ---- the seed example -----------------------------------------------------------------------------------


SEED_DOCUMENT = Path(__file__).resolve().parents[3] / "examples" / "seed" / "multi-stage-docker-builds.md"


def seed_dockerfile() -> str:
    text = SEED_DOCUMENT.read_text()
    section = text.split("### Complete Dockerfile with Multi-Stage", 1)[1]
    match = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert match is not None
    return match.group(1)


def test_the_seed_example_copies_the_binary_from_stage_0s_run_into_scratch() -> None:
    resolver = Images()
    graph = build(seed_dockerfile(), resolver)

    assert [plan.index for plan in graph.stages] == [0, 1]
    target = graph.target
    assert target.index == 1 and target.name is None
    copy = target.root
    assert isinstance(copy.op, Copy)
    assert (copy.op.sources, copy.op.dest) == (("/bin/hello",), "/bin/hello")
    assert isinstance(copy.inputs[0].op, ScratchSource)
    build_stage = graph.stages[0]
    assert copy.inputs[1] is build_stage.root
    run = build_stage.root
    assert isinstance(run.op, Exec)
    assert run.op.args == ("/bin/sh", "-c", "go build -o /bin/hello ./basicExamples.go")
    assert run.op.cwd == "/src"
    assert run.meta.name == "[stage-0 4/4] RUN go build -o /bin/hello ./basicExamples.go"
    (context_copy,) = run.inputs
    assert isinstance(context_copy.op, Copy) and context_copy.op.dest == "/src/"
    assert isinstance(context_copy.inputs[1].op, ContextSource)
    workdir = context_copy.inputs[0]
    assert workdir.op == Mkdir(path="/src")
    base = workdir.inputs[0]
    assert isinstance(base.op, ImageSource) and base.op.ref == "docker.io/library/golang:1.24"
    assert base.meta.name == "[stage-0 1/4] FROM docker.io/library/golang:1.24"
    assert resolver.calls == [("golang:1.24", "linux/amd64")]

    assert own_history(build_stage) == [
        "WORKDIR /src",
        "COPY ./basicExamples.go . # buildkit",
        "RUN /bin/sh -c go build -o /bin/hello ./basicExamples.go # buildkit",
    ]
    assert history(target) == ["COPY /bin/hello /bin/hello # buildkit", 'CMD ["/bin/hello"]']
    assert [entry.empty_layer for entry in target.history] == [None, True]
    assert target.config.config.cmd == ("/bin/hello",)
    assert target.config.config.env == (DEFAULT_PATH,)  # BuildKit's scratch image
    assert target.config.config.working_dir == "/"
    assert target.base_layers == 0 and build_stage.base_layers == 1


# ---- instructions -----------------------------------------------------------------------------------------


CONFIG_DOCKERFILE = """\
FROM alpine
ENV A=1 B=$A
ENV C ${A}0
LABEL version=$A "other label"=x
USER app
WORKDIR work
WORKDIR sub
EXPOSE 80 53/udp 8000-8001
VOLUME /data $C
STOPSIGNAL SIGINT
SHELL ["/bin/bash", "-c"]
HEALTHCHECK --interval=30s --timeout=1m30s --retries=3 CMD curl -f http://localhost/
MAINTAINER someone@example.com
ONBUILD RUN echo child
ENTRYPOINT ["/entry"]
CMD run it
"""


def test_config_instructions_update_the_image_config() -> None:
    plan = build(CONFIG_DOCKERFILE).target
    config = plan.config.config
    assert config.env == ("PATH=/alpine/bin", "IMAGE=alpine", "A=1", "B=", "C=10")  # B read A before this ENV
    assert config.labels == {"version": "1", "other label": "x"}
    assert config.user == "app"
    assert config.working_dir == "/work/sub"
    assert config.exposed_ports == {"80/tcp": {}, "53/udp": {}, "8000/tcp": {}, "8001/tcp": {}}
    assert config.volumes == {"/data": {}, "10": {}}
    assert config.stop_signal == "SIGINT"
    assert config.shell == ("/bin/bash", "-c")
    assert config.healthcheck is not None
    assert config.healthcheck.test == ("CMD-SHELL", "curl -f http://localhost/")
    assert (config.healthcheck.interval, config.healthcheck.timeout) == (30 * 10**9, 90 * 10**9)
    assert config.healthcheck.retries == 3
    assert plan.config.author == "someone@example.com"
    assert config.on_build == ("RUN echo child",)
    assert config.entrypoint == ("/entry",)
    assert config.cmd == ("/bin/bash", "-c", "run it")  # the SHELL wraps the shell form
    assert plan.config.created is None


def test_history_has_buildkits_created_by_text_and_empty_layer_marks() -> None:
    plan = build(CONFIG_DOCKERFILE).target
    assert history(plan) == [
        "/bin/sh -c #(nop) ADD file:base in /",
        "ENV A=1 B=",
        "ENV C=10",
        "LABEL version=1 other label=x",
        "USER app",
        "WORKDIR /work",
        "WORKDIR /work/sub",
        "EXPOSE [53/udp 80/tcp 8000/tcp 8001/tcp]",
        "VOLUME [/data 10]",
        "STOPSIGNAL SIGINT",
        "SHELL [/bin/bash -c]",
        "HEALTHCHECK {Test:[CMD-SHELL curl -f http://localhost/] Interval:30s Timeout:1m30s StartPeriod:0s "
        "StartInterval:0s Retries:3}",
        "MAINTAINER someone@example.com",
        'ENTRYPOINT ["/entry"]',
        'CMD ["/bin/bash" "-c" "run it"]',
    ]
    layered = [entry.created_by for entry in plan.history[1:] if not entry.empty_layer]
    assert layered == ["WORKDIR /work", "WORKDIR /work/sub"]  # only the file-system steps make layers
    assert all(entry.created is None for entry in plan.history)


def test_workdir_makes_directories_owned_by_user_and_root_makes_none() -> None:
    plan = build("FROM alpine\nUSER 1000\nWORKDIR /app\nWORKDIR /\n").target
    mkdirs = [vertex.op for vertex in walk(plan.root) if isinstance(vertex.op, Mkdir)]
    assert mkdirs == [Mkdir(path="/app", chown="1000")]
    assert plan.history[-1].created_by == "WORKDIR /" and plan.history[-1].empty_layer


def test_entrypoint_clears_the_cmd_of_the_base_but_not_its_own() -> None:
    base = image_config(cmd=("sh",), entrypoint=("/old",))
    images = Images({"app": base})
    assert build("FROM app\nENTRYPOINT /new\n", images).target.config.config.cmd is None
    kept = build('FROM app\nCMD ["x"]\nENTRYPOINT ["/new"]\n', images).target.config.config
    assert (kept.cmd, kept.entrypoint) == (("x",), ("/new",))
    assert build("FROM app\nLABEL a=b\n", images).target.config.config.cmd == ("sh",)


def test_run_shell_and_exec_forms_env_cwd_user_and_network() -> None:
    plan = build(
        'FROM alpine\nUSER nobody\nWORKDIR /w\nRUN make all\nRUN ["ls", "-l"]\n'
        "RUN --network=host --security=insecure curl x\n",
        network="none",
        entitlements=frozenset({"security.insecure", "network.host"}),
    ).target
    shell, exec_form, host = execs(plan)
    assert shell.args == ("/bin/sh", "-c", "make all")
    assert exec_form.args == ("ls", "-l")
    assert shell.env == ("PATH=/alpine/bin", "IMAGE=alpine")
    assert (shell.cwd, shell.user, shell.network) == ("/w", "nobody", "none")
    assert (host.network, host.security) == ("host", "insecure")
    assert history(plan)[-1] == "RUN /bin/sh -c curl x # buildkit"


def test_run_security_insecure_needs_the_entitlement_only_in_stages_built() -> None:
    # As BuildKit (CVE-2024-23653): the Dockerfile may ask, only the caller of the build may grant.
    text = "FROM alpine AS privileged\nRUN --security=insecure mount x\nFROM alpine AS plain\nRUN true\n"
    with pytest.raises(DockerfileError, match=r"Dockerfile:2: .*security.insecure is not allowed.*--allow"):
        build(text, target="privileged")
    assert execs(build(text, target="plain").target)[0].security == "sandbox"
    granted = build(text, target="privileged", entitlements=frozenset({"security.insecure"}))
    assert execs(granted.target)[0].security == "insecure"


def test_run_text_is_not_expanded_by_the_frontend() -> None:
    (run,) = execs(build("FROM alpine\nENV NAME=x\nRUN echo $NAME ${NAME:-y}\n").target)
    assert run.args == ("/bin/sh", "-c", "echo $NAME ${NAME:-y}")


def test_run_mounts_with_their_sources_as_inputs() -> None:
    graph = build(
        "FROM alpine AS deps\nRUN fetch\n"
        "FROM alpine\nWORKDIR /src\nARG CACHE=gocache\n"
        "RUN --mount=type=cache,id=$CACHE,target=/root/.cache "
        "--mount=type=bind,from=deps,source=/out,target=vendor "
        "--mount=type=bind,target=/ctx,rw "
        "--mount=type=tmpfs,target=/tmp,size=1m "
        "--mount=type=secret,id=token "
        "--mount=type=ssh go build\n",
        exclude=("*.md",),
    )
    run = graph.target.root
    assert isinstance(run.op, Exec)
    cache, deps, context, tmpfs, secret, ssh = run.op.mounts
    assert cache == RunMount(type="cache", target="/root/.cache", readonly=False, id="gocache")
    assert deps == RunMount(type="bind", target="/src/vendor", source="/out", input=1)
    assert run.inputs[1] is graph.stages[0].root
    assert context == RunMount(type="bind", target="/ctx", input=2, readonly=False)
    assert run.inputs[2].op == ContextSource(exclude=("*.md",))
    assert tmpfs == RunMount(type="tmpfs", target="/tmp", readonly=False, size=1024 * 1024)
    assert secret == RunMount(type="secret", target="/run/secrets/token", id="token", mode=0o400)
    assert ssh == RunMount(type="ssh", target="/run/buildkit/ssh_agent.0", id="default", mode=0o600)
    assert run.meta.used_args == ("CACHE",)


def test_a_mount_at_the_root_is_refused() -> None:
    with pytest.raises(DockerfileError, match="invalid mount target"):
        build("FROM alpine\nRUN --mount=type=cache,target=/ make\n")


def test_run_heredocs_as_buildkit_runs_them() -> None:
    simple, script, wrapped = execs(
        build(
            "FROM alpine\nRUN <<EOF\napk add curl\necho done\nEOF\n"
            "RUN <<EOF\n#!/usr/bin/env python3\nprint(1)\nEOF\n"
            "RUN cat <<A > /a\nhello\nA\n"
        ).target
    )
    assert simple.args == ("/bin/sh", "-c", "apk add curl\necho done\n")
    assert script.args == ("/bin/sh", "-c", "/dev/pipes/EOF")
    (pipe,) = script.mounts
    assert (pipe.type, pipe.target, pipe.input) == ("bind", "/dev/pipes/", 1)
    assert wrapped.args == ("/bin/sh", "-c", "cat <<A > /a\nhello\nA")


def test_heredoc_step_name_summarizes_the_script() -> None:
    run = build("FROM alpine\nRUN <<EOF\napk add curl\necho done\nEOF\n").target.root
    assert run.meta.name.endswith("RUN <<EOF (apk add curl...)")


def test_copy_dest_is_absolute_against_workdir_and_keeps_its_slash() -> None:
    plan = build(
        "FROM alpine\nWORKDIR /app\nCOPY a .\nCOPY b sub/\nCOPY c /abs\nCOPY d e f ../up/\nCOPY --chown=1:1 --chmod=640 g h\n"
    ).target
    copies = [vertex.op for vertex in walk(plan.root) if isinstance(vertex.op, Copy)]
    assert [(op.sources, op.dest) for op in copies] == [
        (("a",), "/app/"),
        (("b",), "/app/sub/"),
        (("c",), "/abs"),
        (("d", "e", "f"), "/up/"),
        (("g",), "/app/h"),
    ]
    assert (copies[-1].chown, copies[-1].chmod) == ("1:1", "640")
    assert history(plan)[-1] == "COPY --chown=1:1 --chmod=640 g h # buildkit"


def test_several_sources_need_a_directory_destination() -> None:
    with pytest.raises(DockerfileError) as caught:
        build("FROM alpine\nCOPY a b /dest\n")
    assert "Dockerfile:2" in str(caught.value) and "destination must be a directory and end with a /" in str(
        caught.value
    )


def test_copy_words_and_flags_are_expanded_with_env_and_args() -> None:
    plan = build(
        "FROM alpine\nARG OWNER=app\nENV DIR=/srv\nCOPY --chown=$OWNER --exclude=$DIR/*.tmp src $DIR/\n"
    ).target
    copy = plan.root
    assert isinstance(copy.op, Copy)
    assert (copy.op.chown, copy.op.exclude, copy.op.dest) == ("app", ("/srv/*.tmp",), "/srv/")
    # One stage only: BuildKit leaves the stage name out of step names.
    assert copy.meta.name == "[2/2] COPY --chown=app --exclude=/srv/*.tmp src /srv/"
    assert copy.meta.used_args == ("OWNER",)


def test_copy_heredocs_are_inline_sources_expanded_unless_quoted() -> None:
    plan = build(
        "FROM alpine\nENV NAME=world\nCOPY <<A <<'B' /etc/\nhello \"$NAME\"\nA\nraw $NAME\nB\n"
    ).target
    copy = plan.root
    assert isinstance(copy.op, Copy) and copy.op.sources == ("A", "B")
    assert copy.inputs[1].op == InlineSource(
        files=(("A", 'hello "world"\n', 0o644), ("B", "raw $NAME\n", 0o644))
    )
    assert history(plan)[-1] == "COPY <<A <<B /etc/ # buildkit"


def test_heredoc_bodies_expand_with_a_backslash_escape_even_under_a_backtick_escape() -> None:
    plan = build("# escape=`\nFROM alpine\nENV NAME=world\nCOPY <<A /etc/\nhi \\$NAME $NAME 'q'\nA\n").target
    assert plan.root.inputs[1].op == InlineSource(files=(("A", "hi $NAME world 'q'\n", 0o644),))


def test_add_urls_and_git_repositories() -> None:
    plan = build(
        "FROM alpine\nADD --checksum=sha256:" + "a" * 64 + " https://example.com/dl/tool.tar.gz /opt/\n"
        "ADD --keep-git-dir https://github.com/moby/buildkit.git#v0.13.0:docs /docs\n"
        "ADD local.tar /x/\n"
    ).target
    http_copy, git_copy, local_copy = [vertex for vertex in walk(plan.root) if isinstance(vertex.op, Copy)]
    assert http_copy.inputs[1].op == HttpSource(
        url="https://example.com/dl/tool.tar.gz", filename="tool.tar.gz", checksum="sha256:" + "a" * 64
    )
    assert isinstance(http_copy.op, Copy)
    assert (http_copy.op.sources, http_copy.op.unpack, http_copy.op.is_add) == (("tool.tar.gz",), False, True)
    assert git_copy.inputs[1].op == GitSource(
        url="https://github.com/moby/buildkit.git", ref="v0.13.0", keep_git_dir=True
    )
    assert isinstance(git_copy.op, Copy) and git_copy.op.sources == ("docs",)
    assert isinstance(local_copy.op, Copy) and (local_copy.op.is_add, local_copy.op.unpack) == (True, None)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("COPY https://example.com/a /a", "use ADD for remote sources"),
        ("ADD --checksum=sha256:" + "a" * 64 + " local.tar /d/", "needs an HTTP(S) or git source"),
        ("ADD https://a.example/x https://b.example/y /d/", "split the instruction"),
        ("ADD --checksum=md5:abc https://a.example/x /d", "expected sha256:"),
        ("COPY --from=$STAGE /a /b", "variable expansion is not supported for --from"),
        ("COPY --chmod=$MODE a b", "invalid --chmod=u+q"),
        ("STOPSIGNAL $MODE", "invalid signal"),
        ("EXPOSE 80/http", "invalid protocol 'http'"),
        ("EXPOSE 90000", "ports are 0 to 65535"),
        ("EXPOSE 10-5", "the end is before the start"),
        ("WORKDIR ${UNSET?must be set}", "must be set"),
    ],
)
def test_dispatch_errors_carry_the_line(line: str, message: str) -> None:
    with pytest.raises(DockerfileError) as caught:
        build(f"FROM alpine\nARG MODE=u+q\n{line}\n")
    assert caught.value.location is not None and caught.value.location.line == 3
    assert message in str(caught.value)


def test_onbuild_triggers_of_the_base_run_first_and_are_cleared() -> None:
    base = image_config(on_build=("RUN make", "COPY . /app"))
    plan = build("FROM app\nRUN test\n", Images({"app": base})).target
    names = [vertex.meta.name for vertex in walk(plan.root) if not isinstance(vertex.op, ContextSource)]
    assert names == [
        "[1/4] FROM docker.io/library/app:latest",
        "[2/4] ONBUILD RUN make",
        "[3/4] ONBUILD COPY . /app",
        "[4/4] RUN test",
    ]
    assert plan.config.config.on_build is None
    assert own_history(plan)[0] == "RUN /bin/sh -c make # buildkit"


def test_onbuild_lines_of_a_stage_run_in_stages_built_from_it() -> None:
    graph = build("FROM alpine AS base\nONBUILD RUN echo child\nFROM base\nRUN echo self\n")
    base_plan, child = graph.stages
    assert base_plan.config.config.on_build == ("RUN echo child",)
    assert [op.args[-1] for op in execs(child)] == ["echo child", "echo self"]
    assert child.config.config.on_build is None


def test_a_bad_trigger_points_at_the_from_line() -> None:
    base = image_config(on_build=("COPY --nope a b",))
    with pytest.raises(DockerfileError) as caught:
        build("FROM alpine\nFROM app\n", Images({"app": base}))
    assert "Dockerfile:2" in str(caught.value) and "ONBUILD trigger" in str(caught.value)


def test_labels_from_options_go_to_the_target_only() -> None:
    graph = build("FROM alpine AS a\nLABEL x=1\nFROM a\n", labels=(("x", "2"), ("y", "3")))
    assert graph.target.config.config.labels == {"x": "2", "y": "3"}
    assert graph.stages[0].config.config.labels == {"x": "1"}


def test_step_numbers_are_padded_like_buildkits() -> None:
    text = "FROM alpine AS a\n" + "".join(f"RUN step{n}\n" for n in range(10))
    names = [vertex.meta.name for vertex in walk(build(text + "FROM a\n").stages[0].root)]
    assert names[0] == "[a  1/11] FROM docker.io/library/alpine:latest"
    assert names[-1] == "[a 11/11] RUN step9"


def test_steps_carry_their_source_location() -> None:
    run = build("FROM alpine\n\n# build it\nRUN make \\\n  all\n").target.root
    assert run.meta.location is not None
    assert (run.meta.location.path, run.meta.location.line, run.meta.location.end_line) == (
        "Dockerfile",
        4,
        5,
    )


# ---- ARG scope ------------------------------------------------------------------------------------------


def test_global_args_reach_from_lines_only_unless_redeclared() -> None:
    resolver = Images()
    graph = build(
        "ARG TAG=3.20\nARG V=1\nFROM alpine:$TAG\nRUN echo $V\nARG V\nRUN echo $V\n",
        resolver,
    )
    assert resolver.calls == [("alpine:3.20", "linux/amd64")]
    before, after = execs(graph.target)
    assert "V" not in env_of(before) and "TAG" not in env_of(before)
    assert env_of(after)["V"] == "1"
    assert graph.target.root.inputs[0].inputs[0].meta.used_args == ("TAG",)


def test_build_args_override_defaults_and_global_values() -> None:
    graph = build(
        "ARG TAG=3.20\nFROM alpine:$TAG\nARG MODE=debug\nARG LEVEL\nRUN make\n",
        build_args=(("TAG", "edge"), ("MODE", "release"), ("LEVEL", "3"), ("UNDECLARED", "x")),
    )
    (run,) = execs(graph.target)
    assert env_of(run)["MODE"] == "release" and env_of(run)["LEVEL"] == "3"
    assert "UNDECLARED" not in env_of(run)
    assert graph.target.root.inputs[0].op == ImageSource(
        ref="docker.io/library/alpine:edge",
        manifest_digest=sha256_digest(b"docker.io/library/alpine:edge linux/amd64"),
    )


def test_arg_history_and_run_history_list_the_args_in_scope() -> None:
    plan = build("FROM alpine\nARG A=1 B\nRUN make\nENV A=2\nRUN make\n").target
    assert own_history(plan) == [
        "ARG A=1 B",
        "RUN |2 A=1 B= /bin/sh -c make # buildkit",
        "ENV A=2",
        "RUN |2 A=2 B= /bin/sh -c make # buildkit",
    ]
    # ARG values are in RUN's environment, never in the image's.
    assert plan.config.config.env == ("PATH=/alpine/bin", "IMAGE=alpine", "A=2")


def test_arg_defaults_expand_with_the_stage_env() -> None:
    (run,) = execs(build("FROM alpine\nENV HOME=/root\nARG DIR=$HOME/src\nRUN make\n").target)
    assert env_of(run)["DIR"] == "/root/src"


def test_predefined_platform_args_in_from_lines_and_declared_in_stages() -> None:
    resolver = Images()
    graph = build(
        "FROM --platform=$BUILDPLATFORM golang AS build\nRUN echo $TARGETARCH\nARG TARGETARCH TARGETPLATFORM\n"
        "RUN echo $TARGETARCH\nFROM alpine:$TARGETARCH\nCOPY --from=build /out /out\n",
        resolver,
        target_platform="linux/arm64",
        build_platform="linux/amd64",
    )
    assert sorted(resolver.calls) == [("alpine:arm64", "linux/arm64"), ("golang", "linux/amd64")]
    undeclared, declared = execs(graph.stages[0])
    assert "TARGETARCH" not in env_of(undeclared)
    assert env_of(declared)["TARGETARCH"] == "arm64" and env_of(declared)["TARGETPLATFORM"] == "linux/arm64"
    assert graph.stages[0].root.inputs[0].inputs[0].op == ImageSource(
        ref="docker.io/library/golang:latest",
        manifest_digest=sha256_digest(b"docker.io/library/golang:latest linux/amd64"),
        platform="linux/amd64",
    )


def test_targetstage_names_the_target() -> None:
    resolver = Images()
    build("ARG TARGETSTAGE\nFROM alpine:$TARGETSTAGE AS final\n", resolver)
    assert resolver.calls == [("alpine:final", "linux/amd64")]


def test_proxy_args_reach_run_only_when_given_and_never_the_history() -> None:
    text = "FROM alpine\nRUN apk add curl\n"
    (plain,) = execs(build(text).target)
    assert not any("proxy" in item.lower() for item in plain.env)
    plan = build(text, build_args=(("HTTPS_PROXY", "http://proxy:3128"),)).target
    (proxied,) = execs(plan)
    assert env_of(proxied)["HTTPS_PROXY"] == "http://proxy:3128"
    assert env_of(proxied)["https_proxy"] == "http://proxy:3128"
    assert not any("proxy" in line.lower() for line in history(plan))
    # As BuildKit's ProxyEnv: another proxy is the same step, its cache kept.
    other = build(text, build_args=(("HTTPS_PROXY", "http://other:3128"),)).target
    assert other.root.digest == plan.root.digest == build(text).target.root.digest


# ---- stages ---------------------------------------------------------------------------------------------


def test_from_an_earlier_stage_continues_its_file_system_config_and_args() -> None:
    resolver = Images()
    graph = build(
        "FROM alpine AS Base\nARG V=1\nENV E=2\nWORKDIR /w\nRUN make\nFROM base\nRUN test\n", resolver
    )
    base_plan, child = graph.stages
    assert child.root.inputs[0] is base_plan.root
    (_, run) = execs(child)
    assert (env_of(run)["V"], env_of(run)["E"], run.cwd) == ("1", "2", "/w")
    assert child.config.config.working_dir == "/w"
    assert resolver.calls == [("alpine", "linux/amd64")]  # the stage is not looked up as an image
    assert child.base_layers == 3  # alpine's layer, WORKDIR, RUN
    assert history(child)[: len(history(base_plan))] == history(base_plan)


def test_copy_from_by_name_index_and_image() -> None:
    resolver = Images()
    graph = build(
        "FROM alpine AS one\nRUN a\nFROM alpine AS two\nRUN b\nFROM scratch\n"
        "COPY --from=ONE /a /a\nCOPY --from=1 /b /b\nCOPY --from=busybox:1.36 /bin/busybox /bin/\n",
        resolver,
    )
    one, two, final = graph.stages
    by_name, by_index, image = [vertex for vertex in walk(final.root) if isinstance(vertex.op, Copy)]
    assert by_name.inputs[1] is one.root and by_index.inputs[1] is two.root
    assert image.inputs[1].op == ImageSource(
        ref="docker.io/library/busybox:1.36",
        manifest_digest=sha256_digest(b"docker.io/library/busybox:1.36 linux/amd64"),
    )
    assert ("busybox:1.36", "linux/amd64") in resolver.calls


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        (
            "FROM alpine AS t\nCOPY --from=later /a /a\nFROM alpine AS later\n",
            'cannot copy from stage "later", it needs to be defined before current stage "t"',
            2,
        ),
        ("FROM alpine AS t\nCOPY --from=t /a /a\n", "refers to itself", 2),
        ("FROM alpine AS t\nCOPY --from=3 /a /a\n", "there is no stage 3", 2),
        (
            "FROM alpine AS t\nRUN --mount=from=b,target=/x make\nFROM alpine AS b\n",
            'cannot mount from stage "b" to "/x", stage needs to be defined before current command',
            2,
        ),
        ("FROM b AS t\nFROM alpine AS b\n", "FROM b: stage 'b' is defined later", 1),
    ],
)
def test_bad_stage_references_name_the_stage(text: str, message: str, line: int) -> None:
    with pytest.raises(StageNotFound) as caught:
        build(text, target="t")
    assert message in str(caught.value)
    assert caught.value.location is not None and caught.value.location.line == line


def test_an_unknown_target_lists_the_stages() -> None:
    with pytest.raises(StageNotFound) as caught:
        build("FROM alpine AS build\nFROM scratch AS release\n", target="prod")
    assert 'target stage "prod" could not be found' in str(caught.value)
    assert "build, release" in str(caught.value)


THREE_STAGES = """\
FROM golang:1.24 AS build
RUN go build -o /out/app .
FROM alpine:3.20 AS test
RUN go test ./...
FROM scratch AS release
COPY --from=build /out/app /app
"""


def test_only_the_stages_the_target_needs_are_in_the_graph_and_resolved() -> None:
    resolver = Images()
    graph = build(THREE_STAGES, resolver)
    assert [plan.name for plan in graph.stages] == ["build", "release"]
    assert resolver.calls == [("golang:1.24", "linux/amd64")]  # alpine is never looked up
    every = {vertex.digest for vertex in walk(graph.target.root)}
    assert not any(
        isinstance(vertex.op, Exec) and "go test" in vertex.op.args[-1] for vertex in walk(graph.target.root)
    )
    assert graph.stages[0].root.digest in every


def test_a_target_that_needs_no_other_stage_is_alone() -> None:
    resolver = Images()
    graph = build(THREE_STAGES, resolver, target="test")
    assert [plan.name for plan in graph.stages] == ["test"] and graph.target.name == "test"
    assert resolver.calls == [("alpine:3.20", "linux/amd64")]


def test_an_unused_stage_with_a_missing_image_does_not_fail_the_build() -> None:
    graph = build("FROM does-not-exist AS unused\nFROM scratch\nLABEL a=b\n", NoImages())
    assert [plan.index for plan in graph.stages] == [1]


def test_a_missing_image_names_the_from_line() -> None:
    with pytest.raises(ImageNotFound) as caught:
        build("FROM scratch\nFROM missing:1\n", NoImages())
    assert "Dockerfile:2" in str(caught.value) and "missing:1" in str(caught.value)


def test_an_invalid_image_reference_is_a_dockerfile_error() -> None:
    with pytest.raises(DockerfileError) as caught:
        build("ARG NAME=UPPER\nFROM $NAME\n")
    assert "Dockerfile:2" in str(caught.value) and "lower-case" in str(caught.value)


def test_independent_stages_are_independent_branches() -> None:
    graph = build(
        "FROM alpine AS left\nRUN make left\nFROM busybox AS right\nRUN make right\n"
        "FROM scratch\nCOPY --from=left /l /l\nCOPY --from=right /r /r\n"
    )
    left, right, final = graph.stages
    left_vertices = {vertex.digest for vertex in walk(left.root)}
    right_vertices = {vertex.digest for vertex in walk(right.root)}
    assert left_vertices.isdisjoint(right_vertices)
    final_vertices = {vertex.digest for vertex in walk(final.root)}
    assert left_vertices | right_vertices <= final_vertices


def test_same_input_same_digests_and_comments_change_none() -> None:
    text = "ARG V=1\nFROM golang:1.24 AS build\nWORKDIR /src\nCOPY . .\nRUN go build ./...\nFROM scratch\nCOPY --from=build /bin/app /app\n"
    first, second = build(text), build(text)
    assert digests(first) == digests(second)
    commented = build(text.replace("RUN go build", "# compile it\n\n# really\nRUN go build"))
    assert digests(commented) == digests(first)
    runs = [vertex for vertex in walk(commented.target.root) if isinstance(vertex.op, Exec)]
    assert runs[0].meta.location is not None and runs[0].meta.location.line == 8  # only the meta moved


def test_a_changed_build_arg_changes_the_digests_of_the_steps_that_use_it() -> None:
    text = "FROM alpine\nARG V=1\nRUN make\n"
    assert digests(build(text)) != digests(build(text, build_args=(("V", "2"),)))
    unused = "FROM alpine\nRUN make\n"
    assert digests(build(unused)) == digests(build(unused, build_args=(("V", "2"),)))


def test_bad_options_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="--network bridge"):
        build("FROM alpine\n", network="bridge")
    with pytest.raises(UsageError, match="--platform"):
        build("FROM alpine\n", target_platform="linux/")


# ---- robustness ---------------------------------------------------------------------------------------------

KEYWORDS = st.sampled_from(
    [
        "FROM",
        "RUN",
        "COPY",
        "ADD",
        "ENV",
        "ARG",
        "LABEL",
        "WORKDIR",
        "USER",
        "EXPOSE",
        "VOLUME",
        "CMD",
        "ENTRYPOINT",
        "SHELL",
        "HEALTHCHECK",
        "ONBUILD",
        "STOPSIGNAL",
        "MAINTAINER",
        "from",
        "copy",
    ]
)
WORDS = st.sampled_from(
    [
        "alpine",
        "scratch",
        "AS",
        "build",
        "0",
        "1",
        "--from=0",
        "--from=build",
        "--mount=type=cache,target=/c",
        "--chown=$U",
        "--platform=$TARGETPLATFORM",
        "$A",
        "${B:-x}",
        "A=1",
        "/dst/",
        ".",
        "<<EOF",
        '["a", "b"]',
        "NONE",
        "CMD",
        "--interval=1s",
        "80/tcp",
        "http://x/y",
        "\\",
        "'",
        '"',
        "=",
        "#",
        "--link",
        "${C?no}",
    ]
)


def _line(keyword: str, words: list[str]) -> str:
    line = " ".join([keyword, *words])
    return line + "\nbody $A\nEOF" if "<<EOF" in words else line  # a heredoc gets its body


VALUES = st.sampled_from(
    ["x", "$A", "${A:-/d}", "/abs/", "rel", "", "a b", "$TARGETARCH", "0", "build", "1:1"]
)
TEMPLATES = st.sampled_from(
    [
        "FROM {0} AS s{1}",
        "FROM s{1}",
        "ARG A={0}",
        "ARG {0}",
        "ENV A={0}",
        "LABEL l={0}",
        "WORKDIR {0}",
        "USER {0}",
        "COPY {0} /dst/",
        "COPY --from={1} /{0} /out/",
        "COPY --from=s{1} {0} .",
        "ADD {0} /d/",
        "RUN --mount=type=cache,target=/c{0} make",
        "RUN --mount=from=s{1},target=/m{0} make",
        "RUN echo {0}",
        "EXPOSE {1}{0}",
        "VOLUME {0}",
        "STOPSIGNAL {0}",
        "CMD {0}",
        'ENTRYPOINT ["{0}"]',
        "ONBUILD RUN {0}",
        "HEALTHCHECK --interval={1}s CMD {0}",
        "COPY --chmod={0} a b",
        "FROM --platform={0} alpine",
    ]
)
TEMPLATED = st.builds(
    lambda template, value, number: template.format(value, number), TEMPLATES, VALUES, st.integers(0, 3)
)
LINE = st.one_of(st.builds(_line, KEYWORDS, st.lists(WORDS, max_size=5)), TEMPLATED)
DOCKERFILE = st.lists(LINE, min_size=1, max_size=8).map(
    lambda lines: "\n".join(["FROM alpine AS build", *lines])
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOCKERFILE)
def test_dockerfile_like_text_converts_or_fails_as_a_dockerfile_error(text: str) -> None:
    with suppress(DockerfileError):
        graph = build(text)
        assert graph.target in graph.stages
        for plan in graph.stages:
            assert all(isinstance(vertex, Vertex) for vertex in walk(plan.root))


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_any_text_converts_or_fails_as_a_dockerfile_error(text: str) -> None:
    with suppress(DockerfileError):
        build(text)


def test_run_step_names_show_the_environment_and_mask_secret_variables() -> None:
    # BuildKit's processCmdEnv: RUN's name shows the values of ENV and ARG; a secret variable is "****".
    graph = build(
        "FROM alpine\nENV TOKEN=placeholder GREETING=hi\n"
        'RUN --mount=type=secret,id=t,env=TOKEN echo "$GREETING" $TOKEN $UNSET ${GREETING}\n'
        "RUN echo $GREETING\n"
    )
    names = [vertex.meta.name for vertex in walk(graph.target.root) if isinstance(vertex.op, Exec)]
    assert names[0].endswith('RUN --mount=type=secret,id=t,env=TOKEN echo "hi" **** $UNSET hi')
    assert names[1].endswith("RUN echo hi")
    masked = execs(graph.target)[0]
    assert masked.args[-1] == 'echo "$GREETING" $TOKEN $UNSET ${GREETING}'  # what runs is unchanged


def test_ssh_mount_sets_ssh_auth_sock_unless_the_env_has_it() -> None:
    graph = build("FROM alpine\nRUN --mount=type=ssh,id=a,target=/a --mount=type=ssh,id=b true\n")
    (run,) = execs(graph.target)
    assert env_of(run)["SSH_AUTH_SOCK"] == "/a"
    assert [mount.target for mount in run.mounts] == ["/a", "/run/buildkit/ssh_agent.1"]
    kept = build("FROM alpine\nENV SSH_AUTH_SOCK=/mine\nRUN --mount=type=ssh true\n")
    assert env_of(execs(kept.target)[0])["SSH_AUTH_SOCK"] == "/mine"
    secret = build("FROM alpine\nRUN --mount=type=secret,id=tok,env=TOK true\n")
    assert execs(secret.target)[0].mounts[0] == RunMount(
        type="secret", target="", id="tok", mode=0o400, env="TOK"
    )
