"""frontend/checks.py: BuildKit's build check rules, run on parsed and converted Dockerfiles (no images, no
root: base images are made up by a resolver). The ported BuildKit suite (tests/buildkit/test_dockerfile_check.py)
checks the same rules through `slipway build`."""

from __future__ import annotations

import pytest

from slipway.errors import DockerfileError, SlipwayError
from slipway.frontend.checks import (
    RULES,
    CheckConfig,
    InvalidCheckOptions,
    check_parsed,
    linter_for,
    parse_check_options,
)
from slipway.frontend.convert import BaseImage, ConvertOptions, convert
from slipway.frontend.parser import parse
from slipway.image.oci import ContainerConfig, DiffID, ImageConfig, RootFS, sha256_digest


class Images:
    """Every image is a one-layer linux image with PATH set; `platforms` names the odd ones."""

    def __init__(self, platforms: dict[str, tuple[str, str]] | None = None) -> None:
        self.platforms = platforms or {}

    def resolve(self, ref: str, platform: str) -> BaseImage:
        os_name, architecture = self.platforms.get(ref, ("linux", "amd64"))
        config = ImageConfig(
            architecture=architecture,
            os=os_name,
            rootfs=RootFS(diff_ids=(DiffID("sha256:" + "1" * 64),)),
            config=ContainerConfig(env=("PATH=/usr/bin:/bin",)),
        )
        return BaseImage(ref=ref, manifest_digest=sha256_digest(ref.encode()), config=config)


def lint(
    text: str,
    *,
    build_args: tuple[tuple[str, str], ...] = (),
    exclude: tuple[str, ...] = (),
    target: str | None = None,
    all_stages: bool = True,
    images: Images | None = None,
) -> list[str]:
    """The warnings' short forms (sorted by line), then "error: ..." if the evaluation failed."""
    parsed = parse(text)
    linter = linter_for(parsed, dict(build_args), exclude)
    check_parsed(parsed, linter)
    out: list[str] = []
    try:
        options = ConvertOptions(build_args=build_args, target=target)
        convert(parsed, options, images or Images(), linter, all_stages=all_stages)
        error = linter.error()
    except SlipwayError as err:
        error = err.message
    out += [warning.short for warning in sorted(linter.warnings, key=lambda w: (w.location.line, w.detail))]
    return out + ([f"error: {error}"] if error else [])


def test_every_rule_has_buildkit_name_text_and_link() -> None:
    names = [rule.name for rule in RULES]
    assert len(names) == len(set(names)) == 22
    for rule in RULES:
        assert rule.description and rule.detail
        if rule.name != "InvalidBaseImagePlatform":  # BuildKit documents every rule but this one
            assert rule.url.startswith("https://docs.docker.com/go/dockerfile/rule/") and rule.url.endswith(
                "/"
            )
    assert [rule.name for rule in RULES if rule.experimental] == ["InvalidDefinitionDescription"]


@pytest.mark.parametrize(
    ("text", "config"),
    [
        ("", CheckConfig()),
        ("skip=all", CheckConfig(skip_all=True)),
        (" skip = A, B ;error=true", CheckConfig(skip=frozenset({"A", "B"}), error=True)),
        ("experimental=all;error=0", CheckConfig(experimental_all=True)),
        ("experimental=X", CheckConfig(experimental=frozenset({"X"}))),
    ],
)
def test_check_options(text: str, config: CheckConfig) -> None:
    assert parse_check_options(text) == config


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("skip", 'invalid check option "skip"'),
        ("frob=1", 'invalid check option "frob"'),
        ("error=maybe", 'failed to parse check option "error=maybe"'),
    ],
)
def test_bad_check_options(text: str, message: str) -> None:
    with pytest.raises(InvalidCheckOptions, match=message):
        parse_check_options(text)


def test_a_bad_directive_or_build_arg_is_an_error_naming_it() -> None:
    with pytest.raises(DockerfileError, match="failed to parse check options: invalid check option"):
        lint("# check=skip\nFROM scratch\n")
    with pytest.raises(DockerfileError, match="failed to parse build-arg:BUILDKIT_DOCKERFILE_CHECK"):
        lint("FROM scratch\n", build_args=(("BUILDKIT_DOCKERFILE_CHECK", "nope"),))


BODY = "FROM scratch as base\ncopy Dockerfile .\n"
CASING = "ConsistentInstructionCasing: Command 'copy' should match the case of the command majority (uppercase) (line 3)"
AS_CASING = "FromAsCasing: 'as' and 'FROM' keywords' casing do not match (line 2)"


@pytest.mark.parametrize(
    ("directive", "build_arg", "expected"),
    [
        ("#check=skip=all\n", None, []),
        ("#check=skip=ConsistentInstructionCasing,FromAsCasing;error=true\n", None, []),
        ("#check=skip=ConsistentInstructionCasing\n", None, [AS_CASING]),
        (
            "#check=skip=ConsistentInstructionCasing;error=true\n",
            None,
            [AS_CASING, "error: lint violation found for rules: FromAsCasing"],
        ),
        (  # the build argument replaces the directive
            "#check=skip=all\n",
            "skip=ConsistentInstructionCasing;error=true",
            [AS_CASING, "error: lint violation found for rules: FromAsCasing"],
        ),
        ("#check=error=true\n", "skip=all", []),
        ("", None, [AS_CASING.replace("line 2", "line 1"), CASING.replace("line 3", "line 2")]),
    ],
)
def test_the_directive_and_the_build_argument(
    directive: str, build_arg: str | None, expected: list[str]
) -> None:
    args = (("BUILDKIT_DOCKERFILE_CHECK", build_arg),) if build_arg is not None else ()
    assert lint(directive + BODY, build_args=args) == expected


def test_the_error_names_every_rule_once_sorted() -> None:
    found = lint("# check=error=true\nFROM scratch AS Base\nFROM scratch as b\nFROM scratch as c\n")
    assert found[-1] == "error: lint violation found for rules: FromAsCasing, StageNameCasing"


def test_a_check_comment_scopes_to_its_instruction() -> None:
    text = "FROM scratch\n# check=skip=JSONArgsRecommended // the shell form is meant\nCMD a\nENTRYPOINT b\n"
    assert lint(text) == [
        "JSONArgsRecommended: JSON arguments recommended for ENTRYPOINT to prevent unintended behavior related "
        "to OS signals (line 4)"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "\nFROM scratch AS BadStageName\nFROM scratch as base2\nFROM scratch AS base3\n",
            [
                "StageNameCasing: Stage name 'BadStageName' should be lowercase (line 2)",
                "FromAsCasing: 'as' and 'FROM' keywords' casing do not match (line 3)",
            ],
        ),
        ("from scratch AS base\nfrom scratch as base2\n", ["FromAsCasing: 'AS' and 'from' keywords' casing do not match (line 1)"]),
        (
            "FROM scratch\nCOPY Dockerfile \\\n\n.\nCOPY Dockerfile \\\n.\n",
            ["NoEmptyContinuation: Empty continuation line (line 4)"],
        ),
        (
            "From scratch as base\nFROM scratch AS base2\n",
            ["ConsistentInstructionCasing: Command 'From' should match the case of the command majority (uppercase) (line 1)"],
        ),
        (  # the ARGs before the first FROM are not counted
            "arg a=1\narg b=2\nFROM scratch\nCOPY a b\ncopy c d\n",
            ["ConsistentInstructionCasing: Command 'copy' should match the case of the command majority (uppercase) (line 5)"],
        ),
        ("FROM scratch AS b\nFROM scratch AS B\n", ['DuplicateStageName: Duplicate stage name "b", stage names should be unique (line 2)', "StageNameCasing: Stage name 'B' should be lowercase (line 2)"]),
        (
            "FROM scratch AS scratch\nFROM scratch AS context\n",
            [
                'ReservedStageName: Stage name should not use the same name as reserved stage "scratch" (line 1)',
                'ReservedStageName: Stage name should not use the same name as reserved stage "context" (line 2)',
            ],
        ),
        ("FROM scratch\nMAINTAINER me\n", ["MaintainerDeprecated: Maintainer instruction is deprecated in favor of using label (line 2)"]),
    ],
)  # fmt: skip
def test_rules_on_the_parsed_instructions(text: str, expected: list[str]) -> None:
    assert lint(text) == expected


def test_warnings_come_before_an_error() -> None:
    assert lint("\nFROM scratch AS BadStageName\nMAINTAINER me@example.org\nBADCMD\n") == [
        "StageNameCasing: Stage name 'BadStageName' should be lowercase (line 2)",
        "MaintainerDeprecated: Maintainer instruction is deprecated in favor of using label (line 3)",
        "error: dockerfile parse error on line 4: unknown instruction: BADCMD",
    ]


@pytest.mark.parametrize(
    ("text", "build_args", "expected"),
    [
        ("ARG base=scratch\nFROM $base\n", (), []),
        ("FROM --platform=$BUILDPLATFORM scratch\n", (), []),
        ("ARG DEBUG\nFROM scra${DEBUG:-tch}\n", (), []),
        (
            "FROM --platform=$BULIDPLATFORM scratch\n",
            (),
            [
                "UndefinedArgInFrom: FROM argument 'BULIDPLATFORM' is not declared (did you mean BUILDPLATFORM?) (line 1)",
                "error: empty platform value from expression $BULIDPLATFORM (did you mean BUILDPLATFORM?)",
            ],
        ),
        (
            "ARG MY_ARCH=amd64\nFROM --platform=linux/${MYARCH} busybox\n",
            (),
            [
                "UndefinedArgInFrom: FROM argument 'MYARCH' is not declared (did you mean MY_ARCH?) (line 2)",
                'error: failed to parse platform linux/${MYARCH}: "" is an invalid component of "linux/": platform '
                'specifier component must match "^[A-Za-z0-9_.-]+$": invalid argument (did you mean MY_ARCH?)',
            ],
        ),
        ("ARG tag=latest\nFROM busybox:${tag}${version}\n", (), ["UndefinedArgInFrom: FROM argument 'version' is not declared (line 2)"]),
        (
            "FROM --platform=$TARGETPLATFORM scratch\n",
            (),
            ["RedundantTargetPlatform: Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior (line 1)"],
        ),
        (
            "FROM --platform=linux/amd64 scratch\n",
            (),
            ['FromPlatformFlagConstDisallowed: FROM --platform flag should not use constant value "linux/amd64" (line 1)'],
        ),
        ("FROM --platform=linux/amd64 scratch AS my_amd64_stage\n", (), []),
        (
            "ARG VERSION\nFROM busybox:$VERSION\n",
            (("VERSION", "latest"),),
            ["InvalidDefaultArgInFrom: Default value for ARG busybox:$VERSION results in empty or invalid base image name (line 2)"],
        ),
        ('ARG VARIANT=""\nFROM busybox:stable${VARIANT}\n', (("VARIANT", "-musl"),), []),
    ],
)  # fmt: skip
def test_rules_on_the_from_lines(
    text: str, build_args: tuple[tuple[str, str], ...], expected: list[str]
) -> None:
    assert lint(text, build_args=build_args) == expected


MULTIPLE = (
    "Multiple {0} instructions should not be used in the same stage because only the last one will be used"
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("FROM scratch\nCMD a\n", ["JSONArgsRecommended: JSON arguments recommended for CMD to prevent unintended behavior related to OS signals (line 2)"]),
        ('FROM scratch AS base\nSHELL ["/bin/custom"]\nFROM base\nCMD a\n', []),
        ("FROM scratch\nWORKDIR app/\n", ['WorkdirRelativePath: Relative workdir "app/" can have unexpected results if the base image changes (line 2)']),
        ("FROM scratch AS a\nWORKDIR /app\nFROM a\nWORKDIR sub/\n", []),
        ("FROM alpine\nCOPY $foo .\nARG foo=bar\nRUN echo $foo\n", ["UndefinedVar: Usage of undefined variable '$foo' (line 2)"]),
        ("FROM scratch\nARG foo\nCOPY a${foo} .\n", []),
        ("FROM alpine\nENV PATH=$PAHT:/tmp/bin\n", ["UndefinedVar: Usage of undefined variable '$PAHT' (did you mean $PATH?) (line 2)"]),
        ("FROM alpine\nCOPY <<EOF /a\n$nothere\nEOF\n", ["UndefinedVar: Usage of undefined variable '$nothere' (line 2)"]),
        (
            'FROM scratch\nCMD ["a"]\nCOPY a b\nCMD ["b"]\n',
            ["MultipleInstructionsDisallowed: " + MULTIPLE.format("CMD") + " (line 2)"],
        ),
        ('FROM scratch AS a\nCMD ["a"]\nFROM a\nCMD ["b"]\n', []),
        (
            "FROM scratch\nENV k v\nLABEL k v\n",
            [
                'LegacyKeyValueFormat: "ENV key=value" should be used instead of legacy "ENV key value" format (line 2)',
                'LegacyKeyValueFormat: "LABEL key=value" should be used instead of legacy "LABEL key value" format (line 3)',
            ],
        ),
        (
            "FROM scratch\nARG SECRET_PASSPHRASE PUBLIC_KEY\nENV api_key=1 key_file=2 AUTH_MODULE_VERSION=3\n",
            [
                'SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for sensitive data (ARG "SECRET_PASSPHRASE") (line 2)',
                'SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for sensitive data (ENV "api_key") (line 3)',
            ],
        ),
        (
            "FROM scratch\nEXPOSE 80/TcP 127.0.0.1:80:80 8000\n",
            [
                "ExposeProtoCasing: Defined protocol '80/TcP' in EXPOSE instruction should be lowercase (line 2)",
                "ExposeInvalidFormat: EXPOSE instruction should not define an IP address or host-port mapping, found '127.0.0.1:80:80' (line 2)",
            ],
        ),
    ],
)  # fmt: skip
def test_rules_of_the_dispatch(text: str, expected: list[str]) -> None:
    assert lint(text) == expected


def test_dispatch_rules_run_only_on_the_stages_converted() -> None:
    text = "FROM scratch AS a\nFROM a AS b\nENV k v\nFROM a AS c\n"
    legacy = 'LegacyKeyValueFormat: "ENV key=value" should be used instead of legacy "ENV key value" format (line 3)'
    assert lint(text, all_stages=False) == []  # a build of c never converts b
    assert lint(text) == [legacy]  # a check converts every stage
    assert lint(text, target="b", all_stages=False) == [legacy]


@pytest.mark.parametrize(
    ("text", "exclude", "expected"),
    [
        (
            "FROM scratch\nCOPY Dockerfile .\nADD Dockerfile /w\n",
            ("Dockerfile",),
            [
                'CopyIgnoredFile: Attempting to Copy file "Dockerfile" that is excluded by .dockerignore (line 2)',
                'CopyIgnoredFile: Attempting to Add file "Dockerfile" that is excluded by .dockerignore (line 3)',
            ],
        ),
        ("FROM scratch\nCOPY ./Dockerfile .\n", ("**", "!Dockerfile"), []),  # exceptions: no guessing
        ("FROM scratch\nCOPY . .\n", (".*",), []),
        ("FROM scratch\nCOPY . .\n", ("*",), ['CopyIgnoredFile: Attempting to Copy file "." that is excluded by .dockerignore (line 2)']),
        ("FROM scratch AS a\nFROM a\nCOPY --from=a /Dockerfile /x\n", ("Dockerfile",), []),
    ],
)  # fmt: skip
def test_copy_of_an_ignored_file(text: str, exclude: tuple[str, ...], expected: list[str]) -> None:
    assert lint(text, exclude=exclude) == expected


def test_a_base_image_of_another_platform() -> None:
    images = Images({"arm-image": ("linux", "arm64")})
    assert lint("FROM arm-image\n", images=images) == [
        'InvalidBaseImagePlatform: Base image arm-image was pulled with platform "linux/arm64", expected '
        '"linux/amd64" for current build (line 1)'
    ]


def test_definition_descriptions_only_when_asked_for() -> None:
    text = "# check=experimental=InvalidDefinitionDescription\n# bar is bar\nARG foo=bar\n# BasE base\nFROM scratch AS base\n"
    assert lint(text) == [
        "InvalidDefinitionDescription: Comment for ARG should follow the format: `# foo <description>` (line 3)",
        "InvalidDefinitionDescription: Comment for FROM should follow the format: `# base <description>` (line 5)",
    ]
    assert lint(text.replace("# check=experimental=InvalidDefinitionDescription", "# check=skip=all")) == []
    assert lint("# check=experimental=all\n# foo is foo\nARG foo=bar a=b\nFROM scratch\n") == []


def test_suggestions_stop_when_their_budget_is_spent() -> None:
    # Each "did you mean" compares with every name in scope: thousands of undefined variables among
    # thousands of defined ones get their warnings, the later ones without a suggestion, in bounded time.
    text = "FROM scratch\n" + "".join(f"ENV V{i}=$V{i - 1}x\n" for i in range(1, 1500))
    found = lint(text)
    assert len(found) == 1499
    suggested = [line for line in found if "did you mean" in line]
    assert 0 < len(suggested) < len(found)
    assert "(did you mean $V1?)" in found[1]  # V1x: one edit from V1
