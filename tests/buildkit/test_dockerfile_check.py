"""BuildKit's frontend/dockerfile/dockerfile_check_test.go (its lint rules), ported to slipway (see README.md
and _lint.py for how BuildKit's two checks of each case are made here)."""

from __future__ import annotations

import pytest

from buildkit._lint import Lint, check_linter_warnings
from buildkit._sandbox import Sandbox, file

pytestmark = pytest.mark.root

FROM_AS_CASING = Lint("FromAsCasing", "'as' and 'FROM' keywords' casing do not match", 2)
MISSING_DOCKERFILE = r'failed to solve: failed to compute cache key: failed to calculate checksum of ref [^\s]+ "/Dockerfile": not found'


# dockerfile_check_test.go: testRuleCheckOption
def test_rule_check_option(sandbox: Sandbox) -> None:
    body = "FROM scratch as base\ncopy Dockerfile .\n"
    check_linter_warnings(sandbox, "#check=skip=all\n" + body)
    check_linter_warnings(sandbox, "#check=skip=all;error=true\n" + body)
    check_linter_warnings(sandbox, "#check=skip=ConsistentInstructionCasing,FromAsCasing\n" + body)
    check_linter_warnings(sandbox, "#check=skip=ConsistentInstructionCasing,FromAsCasing;error=true\n" + body)
    check_linter_warnings(sandbox, "#check=skip=ConsistentInstructionCasing\n" + body, (FROM_AS_CASING,))
    check_linter_warnings(
        sandbox,
        "#check=skip=ConsistentInstructionCasing;error=true\n" + body,
        (FROM_AS_CASING,),
        build_error="lint violation found for rules: FromAsCasing",
    )
    check_linter_warnings(
        sandbox,
        "#check=skip=all\n" + body,
        (FROM_AS_CASING,),
        build_error="lint violation found for rules: FromAsCasing",
        args=("--build-arg", "BUILDKIT_DOCKERFILE_CHECK=skip=ConsistentInstructionCasing;error=true"),
    )
    check_linter_warnings(
        sandbox, "#check=error=true\n" + body, args=("--build-arg", "BUILDKIT_DOCKERFILE_CHECK=skip=all")
    )


# dockerfile_check_test.go: testStageName
def test_stage_name(sandbox: Sandbox) -> None:
    dockerfile = """
# warning: stage name should be lowercase
#
FROM scratch AS BadStageName

# warning: 'as' should match 'FROM' cmd casing.
#
FROM scratch as base2

FROM scratch AS base3
"""
    check_linter_warnings(
        sandbox,
        dockerfile,
        (
            Lint("StageNameCasing", "Stage name 'BadStageName' should be lowercase", 4),
            Lint("FromAsCasing", "'as' and 'FROM' keywords' casing do not match", 8),
        ),
    )
    dockerfile = """
# warning: 'AS' should match 'from' cmd casing.
#
from scratch AS base

from scratch as base2
"""
    check_linter_warnings(
        sandbox, dockerfile, (Lint("FromAsCasing", "'AS' and 'from' keywords' casing do not match", 4),)
    )


# dockerfile_check_test.go: testNoEmptyContinuation
def test_no_empty_continuation(sandbox: Sandbox) -> None:
    dockerfile = """
FROM scratch
# warning: empty continuation line
COPY Dockerfile \\

.
COPY Dockerfile \\
.
"""
    check_linter_warnings(sandbox, dockerfile, (Lint("NoEmptyContinuation", "Empty continuation line", 6),))


def casing(command: str, majority: str) -> Lint:
    return Lint(
        "ConsistentInstructionCasing",
        f"Command '{command}' should match the case of the command majority ({majority})",
        4,
    )


# dockerfile_check_test.go: testConsistentInstructionCasing
def test_consistent_instruction_casing(sandbox: Sandbox) -> None:
    check_linter_warnings(
        sandbox,
        "\n# warning: 'FROM' should be either lowercased or uppercased\n#\nFrom scratch as base\nFROM scratch AS base2\n",
        (casing("From", "uppercase"),),
    )
    check_linter_warnings(
        sandbox,
        "\nFROM scratch\n# warning: 'copy' should match command majority's casing (uppercase)\ncopy Dockerfile /foo\nCOPY Dockerfile /bar\n",
        (casing("copy", "uppercase"),),
    )
    check_linter_warnings(
        sandbox,
        "\n# warning: 'frOM' should be either lowercased or uppercased\n#\nfrOM scratch as base\nfrom scratch as base2\n",
        (casing("frOM", "lowercase"),),
    )
    check_linter_warnings(
        sandbox,
        "\nfrom scratch\n# warning: 'COPY' should match command majority's casing (lowercase)\nCOPY Dockerfile /foo\ncopy Dockerfile /bar\n",
        (casing("COPY", "lowercase"),),
    )
    check_linter_warnings(
        sandbox,
        "\n# warning: 'from' should match command majority's casing (uppercase)\n#\nfrom scratch\n"
        "COPY Dockerfile /foo\nCOPY Dockerfile /bar\nCOPY Dockerfile /baz\n",
        (casing("from", "uppercase"),),
    )
    check_linter_warnings(
        sandbox,
        "\n# warning: 'FROM' should match command majority's casing (lowercase)\n#\nFROM scratch\n"
        "copy Dockerfile /foo\ncopy Dockerfile /bar\ncopy Dockerfile /baz\n",
        (casing("FROM", "lowercase"),),
    )
    check_linter_warnings(sandbox, "\nfrom scratch\ncopy Dockerfile /foo\ncopy Dockerfile /bar\n")
    check_linter_warnings(sandbox, "\nFROM scratch\nCOPY Dockerfile /foo\nCOPY Dockerfile /bar\n")
    check_linter_warnings(sandbox, "\nFROM alpine\nRUN <<'EOT'\nenv\nEOT\n")


# dockerfile_check_test.go: testDuplicateStageName
def test_duplicate_stage_name(sandbox: Sandbox) -> None:
    check_linter_warnings(
        sandbox,
        "\nFROM scratch AS b\nFROM scratch AS b\n",
        (Lint("DuplicateStageName", 'Duplicate stage name "b", stage names should be unique', 3),),
    )
    check_linter_warnings(sandbox, "\nFROM scratch AS b1\nFROM scratch AS b2\n")


# dockerfile_check_test.go: testReservedStageName
def test_reserved_stage_name(sandbox: Sandbox) -> None:
    check_linter_warnings(
        sandbox,
        "\nFROM scratch AS scratch\nFROM scratch AS context\n",
        (
            Lint(
                "ReservedStageName", 'Stage name should not use the same name as reserved stage "scratch"', 2
            ),
            Lint(
                "ReservedStageName", 'Stage name should not use the same name as reserved stage "context"', 3
            ),
        ),
    )
    # Using a reserved name as the base without a set name
    # or a non-reserved name shouldn't trigger a lint warning.
    check_linter_warnings(sandbox, "\nFROM scratch\nFROM scratch AS a\n")


def json_args(instruction: str) -> Lint:
    return Lint(
        "JSONArgsRecommended",
        f"JSON arguments recommended for {instruction} to prevent unintended behavior related to OS signals",
        3,
    )


# dockerfile_check_test.go: testJSONArgsRecommended
def test_json_args_recommended(sandbox: Sandbox) -> None:
    check_linter_warnings(sandbox, "\nFROM scratch\nCMD mycommand\n", (json_args("CMD"),))
    check_linter_warnings(sandbox, "\nFROM scratch\nENTRYPOINT mycommand\n", (json_args("ENTRYPOINT"),))
    check_linter_warnings(sandbox, '\nFROM scratch\nSHELL ["/usr/bin/customshell"]\nCMD mycommand\n')
    check_linter_warnings(sandbox, '\nFROM scratch\nSHELL ["/usr/bin/customshell"]\nENTRYPOINT mycommand\n')
    check_linter_warnings(
        sandbox, '\nFROM scratch AS base\nSHELL ["/usr/bin/customshell"]\n\nFROM base\nCMD mycommand\n'
    )
    check_linter_warnings(
        sandbox, '\nFROM scratch AS base\nSHELL ["/usr/bin/customshell"]\n\nFROM base\nENTRYPOINT mycommand\n'
    )


MAINTAINER = Lint("MaintainerDeprecated", "Maintainer instruction is deprecated in favor of using label", 3)


# dockerfile_check_test.go: testMaintainerDeprecated
def test_maintainer_deprecated(sandbox: Sandbox) -> None:
    check_linter_warnings(sandbox, "\nFROM scratch\nMAINTAINER me@example.org\n", (MAINTAINER,))
    check_linter_warnings(
        sandbox, '\nFROM scratch\nLABEL org.opencontainers.image.authors="me@example.org"\n'
    )
    check_linter_warnings(sandbox, "\nFROM scratch\n# check=skip=JSONArgsRecommended\nCMD mycommand\n")
    check_linter_warnings(sandbox, "\nFROM scratch\n# check=skip=JSONArgsRecommended\nENTRYPOINT mycommand\n")
    check_linter_warnings(
        sandbox, "\nFROM scratch\n# check=skip=MaintainerDeprecated\nMAINTAINER me@example.org\n"
    )


# dockerfile_check_test.go: testWarningsBeforeError
def test_warnings_before_error(sandbox: Sandbox) -> None:
    check_linter_warnings(
        sandbox,
        "\nFROM scratch AS BadStageName\nMAINTAINER me@example.org\nBADCMD\n",
        (
            Lint("StageNameCasing", "Stage name 'BadStageName' should be lowercase", 2),
            Lint("MaintainerDeprecated", "Maintainer instruction is deprecated in favor of using label", 3),
        ),
        build_error="dockerfile parse error on line 4: unknown instruction: BADCMD",
    )


# dockerfile_check_test.go: testUndeclaredArg
def test_undeclared_arg(sandbox: Sandbox) -> None:
    check_linter_warnings(sandbox, "\nARG base=scratch\nFROM $base\nCOPY Dockerfile .\n")
    check_linter_warnings(
        sandbox,
        "\nARG BUILDPLATFORM=linux/amd64\nFROM --platform=$BUILDPLATFORM scratch\nCOPY Dockerfile .\n",
    )
    check_linter_warnings(sandbox, "\nFROM --platform=$BUILDPLATFORM scratch\nCOPY Dockerfile .\n")
    check_linter_warnings(sandbox, "\nARG DEBUG\nFROM scratch${DEBUG}\nCOPY Dockerfile .\n")
    check_linter_warnings(sandbox, "\nARG DEBUG\nFROM scra${DEBUG:-tch}\nCOPY Dockerfile .\n")
    check_linter_warnings(sandbox, '\nARG DEBUG=""\nFROM scratch${DEBUG-@bogus}\nCOPY Dockerfile .\n')
    check_linter_warnings(
        sandbox,
        "\nFROM --platform=$BULIDPLATFORM scratch\nCOPY Dockerfile .\n",
        (
            Lint(
                "UndefinedArgInFrom",
                "FROM argument 'BULIDPLATFORM' is not declared (did you mean BUILDPLATFORM?)",
                2,
            ),
        ),
        build_error="empty platform value from expression $BULIDPLATFORM (did you mean BUILDPLATFORM?)",
    )
    check_linter_warnings(
        sandbox,
        "\nARG MY_OS=linux\nARG MY_ARCH=amd64\nFROM --platform=linux/${MYARCH} busybox\nCOPY Dockerfile .\n\t",
        (Lint("UndefinedArgInFrom", "FROM argument 'MYARCH' is not declared (did you mean MY_ARCH?)", 4),),
        build_error=(
            'failed to parse platform linux/${MYARCH}: "" is an invalid component of "linux/": platform specifier '
            'component must match "^[A-Za-z0-9_.-]+$": invalid argument (did you mean MY_ARCH?)'
        ),
    )
    check_linter_warnings(
        sandbox,
        "\nARG tag=latest\nFROM busybox:${tag}${version} AS b\nCOPY Dockerfile .\n",
        (Lint("UndefinedArgInFrom", "FROM argument 'version' is not declared", 3),),
    )


# dockerfile_check_test.go: testWorkdirRelativePath
def test_workdir_relative_path(sandbox: Sandbox) -> None:
    check_linter_warnings(
        sandbox,
        "\nFROM scratch\nWORKDIR app/\n",
        (
            Lint(
                "WorkdirRelativePath",
                'Relative workdir "app/" can have unexpected results if the base image changes',
                3,
            ),
        ),
    )
    check_linter_warnings(sandbox, "\nFROM scratch AS a\nWORKDIR /app\n\nFROM a AS b\nWORKDIR subdir/\n")
    check_linter_warnings(sandbox, "\nFROM scratch\n# check=skip=WorkdirRelativePath\nWORKDIR app/\n")


# dockerfile_check_test.go: testUnmatchedVars
def test_unmatched_vars(sandbox: Sandbox) -> None:
    check_linter_warnings(sandbox, "\nFROM scratch\nARG foo\nCOPY Dockerfile${foo} .\n")
    check_linter_warnings(sandbox, "\nFROM alpine AS base\nARG foo=Dockerfile\n\nFROM base\nCOPY $foo .\n")
    check_linter_warnings(sandbox, "\nFROM alpine\nRUN echo $PATH\n")
    check_linter_warnings(
        sandbox,
        "\nFROM alpine\nCOPY $foo .\nARG foo=bar\nRUN echo $foo\n",
        (Lint("UndefinedVar", "Usage of undefined variable '$foo'", 3),),
    )
    check_linter_warnings(
        sandbox,
        "\nFROM alpine\nARG DIR_BINARIES=binaries/\nARG DIR_ASSETS=assets/\nARG DIR_CONFIG=config/\nCOPY $DIR_ASSET .\n\t",
        (Lint("UndefinedVar", "Usage of undefined variable '$DIR_ASSET' (did you mean $DIR_ASSETS?)", 6),),
    )
    check_linter_warnings(
        sandbox,
        "\nFROM alpine\nENV PATH=$PAHT:/tmp/bin\n\t\t",
        (Lint("UndefinedVar", "Usage of undefined variable '$PAHT' (did you mean $PATH?)", 3),),
    )


def multiple(instruction: str, line: int) -> Lint:
    return Lint(
        "MultipleInstructionsDisallowed",
        f"Multiple {instruction} instructions should not be used in the same stage because only the last one will be used",
        line,
    )


# dockerfile_check_test.go: testMultipleInstructionsDisallowed
def test_multiple_instructions_disallowed(sandbox: Sandbox) -> None:
    dockerfile = """
FROM scratch
ENTRYPOINT ["/myapp"]
ENTRYPOINT ["/myotherapp"]
CMD ["/myapp"]
CMD ["/myotherapp"]
HEALTHCHECK CMD ["/myapp"]
HEALTHCHECK CMD ["/myotherapp"]
"""
    check_linter_warnings(
        sandbox, dockerfile, (multiple("ENTRYPOINT", 3), multiple("CMD", 5), multiple("HEALTHCHECK", 7))
    )
    # Still a linter warning even when broken up with another
    # command. Entrypoint is only used by the resulting image.
    dockerfile = """
FROM scratch
ENTRYPOINT ["/myapp"]
CMD ["/myapp"]
HEALTHCHECK CMD ["/myapp"]
COPY <<EOF /a.txt
Hello, World!
EOF
ENTRYPOINT ["/myotherapp"]
CMD ["/myotherapp"]
HEALTHCHECK CMD ["/myotherapp"]
"""
    check_linter_warnings(
        sandbox, dockerfile, (multiple("ENTRYPOINT", 3), multiple("CMD", 4), multiple("HEALTHCHECK", 5))
    )
    dockerfile = """
FROM scratch AS a
ENTRYPOINT ["/myapp"]
CMD ["/myapp"]
HEALTHCHECK CMD ["/myapp"]

FROM a AS b
ENTRYPOINT ["/myotherapp"]
CMD ["/myotherapp"]
HEALTHCHECK CMD ["/myotherapp"]
"""
    check_linter_warnings(sandbox, dockerfile)


LEGACY = (
    Lint(
        "LegacyKeyValueFormat", '"ENV key=value" should be used instead of legacy "ENV key value" format', 3
    ),
    Lint(
        "LegacyKeyValueFormat",
        '"LABEL key=value" should be used instead of legacy "LABEL key value" format',
        4,
    ),
)


# dockerfile_check_test.go: testLegacyKeyValueFormat
def test_legacy_key_value_format(sandbox: Sandbox) -> None:
    check_linter_warnings(sandbox, "\nFROM scratch\nENV testkey value\nLABEL key value\n", LEGACY)
    check_linter_warnings(sandbox, "\nFROM scratch\nENV testkey=value\nLABEL key=value\n")
    # Warnings only happen in unmarshal if the lint happens in a
    # stage that's not reachable.
    check_linter_warnings(
        sandbox,
        "\nFROM scratch AS a\n\nFROM a AS b\nENV testkey value\nLABEL key value\n\nFROM a AS c\n",
        (),
        unmarshal_warnings=(
            Lint("LegacyKeyValueFormat", LEGACY[0].detail, 3),
            Lint("LegacyKeyValueFormat", LEGACY[1].detail, 4),
        ),
    )
    check_linter_warnings(
        sandbox,
        "\nFROM scratch\n# check=skip=LegacyKeyValueFormat\nENV testkey value\n# check=skip=LegacyKeyValueFormat\nLABEL key value\n",
    )


# dockerfile_check_test.go: testBaseImagePlatformMismatch (the base image goes to the store, not a registry)
def test_base_image_platform_mismatch(sandbox: Sandbox) -> None:
    context = sandbox.context("\nFROM scratch\nCOPY foo /foo\n", file("foo", "test", 0o644))
    target = sandbox.image(context, "--platform", "linux/arm64")
    check_linter_warnings(
        sandbox,
        f"\nFROM {target}\nENV foo=bar\n\t",
        (
            Lint(
                "InvalidBaseImagePlatform",
                f'Base image {target} was pulled with platform "linux/arm64", expected "linux/amd64" for current build',
                2,
            ),
        ),
        args=("--platform", "linux/amd64"),
    )


# dockerfile_check_test.go: testAllTargetUnmarshal
def test_all_target_unmarshal(sandbox: Sandbox) -> None:
    check_linter_warnings(
        sandbox,
        "\nFROM scratch AS first\nCOPY $foo .\n\nFROM scratch AS second\nCOPY $bar .\n",
        (Lint("UndefinedVar", "Usage of undefined variable '$bar'", 6),),
        unmarshal_warnings=(
            Lint("UndefinedVar", "Usage of undefined variable '$foo'", 3),
            Lint("UndefinedVar", "Usage of undefined variable '$bar'", 6),
        ),
    )


# dockerfile_check_test.go: testRedundantTargetPlatform
def test_redundant_target_platform(sandbox: Sandbox) -> None:
    for expression in ("$TARGETPLATFORM", "${TARGETPLATFORM}"):
        detail = f"Setting platform to predefined {expression} in FROM is redundant as this is the default behavior"
        check_linter_warnings(
            sandbox,
            f"\nFROM --platform={expression} scratch\n",
            (Lint("RedundantTargetPlatform", detail, 2),),
        )
    check_linter_warnings(
        sandbox, "\n# check=skip=RedundantTargetPlatform\nFROM --platform=$TARGETPLATFORM scratch\n"
    )


SECRETS_DOCKERFILE = """# check=skip=InvalidDefinitionDescription

FROM scratch
ARG SECRET_PASSPHRASE
ENV SUPER_Secret=foo
ENV password=bar secret=baz
ARG super_duper_secret_token=foo auth=bar
ENV apikey=bar sunflower=foo
ENV git_key=
ENV PUBLIC_KEY=
ARG public_token
ARG SECRET_PASSPHRASE_FILE
ENV password_file=bar secret_File=baz
ARG AUTH_MODULE_VERSION
# check=skip=SecretsUsedInArgOrEnv // allow secret in environment
ENV password=bar
# check=skip=SecretsUsedInArgOrEnv // allow secret in arg
ARG password
# check=skip=all // is local to only this instruction
ENV alternate_password=bar
# check=skip=all // is local to only this instruction
ARG alternate_password
"""


# dockerfile_check_test.go: testSecretsUsedInArgOrEnv
def test_secrets_used_in_arg_or_env(sandbox: Sandbox) -> None:
    def secret(kind: str, name: str, line: int) -> Lint:
        return Lint(
            "SecretsUsedInArgOrEnv",
            f'Do not use ARG or ENV instructions for sensitive data ({kind} "{name}")',
            line,
        )

    check_linter_warnings(
        sandbox,
        SECRETS_DOCKERFILE,
        (
            secret("ARG", "SECRET_PASSPHRASE", 4),
            secret("ENV", "SUPER_Secret", 5),
            secret("ENV", "password", 6),
            secret("ENV", "secret", 6),
            secret("ARG", "auth", 7),
            secret("ARG", "super_duper_secret_token", 7),
            secret("ENV", "apikey", 8),
            secret("ENV", "git_key", 9),
        ),
    )


# dockerfile_check_test.go: testInvalidDefaultArgInFrom
def test_invalid_default_arg_in_from(sandbox: Sandbox) -> None:
    def invalid(expression: str) -> Lint:
        return Lint(
            "InvalidDefaultArgInFrom",
            f"Default value for ARG {expression} results in empty or invalid base image name",
            3,
        )

    check_linter_warnings(
        sandbox,
        "\nARG VERSION\nFROM busybox:$VERSION\n",
        (invalid("busybox:$VERSION"),),
        args=("--build-arg", "VERSION=latest"),
    )
    check_linter_warnings(
        sandbox,
        "\nARG IMAGE\nFROM $IMAGE\n",
        (invalid("$IMAGE"),),
        args=("--build-arg", "IMAGE=busybox:latest"),
    )
    check_linter_warnings(
        sandbox,
        '\nARG SFX="box:"\nFROM busy${SFX}\n',
        (invalid("busy${SFX}"),),
        args=("--build-arg", "SFX=box:latest"),
    )
    check_linter_warnings(
        sandbox, '\nARG VERSION="latest"\nFROM busybox:${VERSION}\n', args=("--build-arg", "VERSION=latest")
    )
    check_linter_warnings(
        sandbox,
        '\nARG BUSYBOX_VARIANT=""\nFROM busybox:stable${BUSYBOX_VARIANT}\n',
        args=("--build-arg", "BUSYBOX_VARIANT=-musl"),
    )
    check_linter_warnings(
        sandbox,
        "\n\tARG BUSYBOX_VARIANT\n\tFROM busybox:stable${BUSYBOX_VARIANT}\n\t",
        args=("--build-arg", "BUSYBOX_VARIANT=-musl"),
    )


# dockerfile_check_test.go: testFromPlatformFlagConstDisallowed
def test_from_platform_flag_const_disallowed(sandbox: Sandbox) -> None:
    check_linter_warnings(
        sandbox,
        "\nFROM --platform=linux/amd64 scratch\n",
        (
            Lint(
                "FromPlatformFlagConstDisallowed",
                'FROM --platform flag should not use constant value "linux/amd64"',
                2,
            ),
        ),
    )
    check_linter_warnings(sandbox, "\nFROM --platform=linux/amd64 scratch AS my_amd64_stage\n")
    check_linter_warnings(sandbox, "\nFROM --platform=linux/amd64 scratch AS linux\n")


IGNORED_COPY = Lint(
    "CopyIgnoredFile", 'Attempting to Copy file "Dockerfile" that is excluded by .dockerignore', 3
)
IGNORED_ADD = Lint(
    "CopyIgnoredFile", 'Attempting to Add file "Dockerfile" that is excluded by .dockerignore', 4
)


# dockerfile_check_test.go: testCopyIgnoredFiles
def test_copy_ignored_files(sandbox: Sandbox) -> None:
    dockerfile = "\nFROM scratch\nCOPY Dockerfile .\nADD Dockerfile /windy\n"
    for _ in range(2):  # BuildKit checks this case twice
        check_linter_warnings(
            sandbox,
            dockerfile,
            (IGNORED_COPY, IGNORED_ADD),
            dockerignore="\nDockerfile\n",
            stream_error=MISSING_DOCKERFILE,
        )
    check_linter_warnings(
        sandbox,
        "# check=skip=CopyIgnoredFile\n\nFROM scratch\nCOPY Dockerfile .\nADD Dockerfile /windy\n",
        dockerignore="\nDockerfile\n",
        stream_error=MISSING_DOCKERFILE,
    )
    check_linter_warnings(
        sandbox,
        "\nFROM scratch AS base\nCOPY Dockerfile /foobar\nADD Dockerfile /windy\n\nFROM base\nCOPY --from=base /foobar /Dockerfile\n",
        dockerignore="\nfoobar\n",
    )
    check_linter_warnings(
        sandbox, "\nFROM scratch\nCOPY ./Dockerfile .\n", dockerignore="\n**\n!Dockerfile\n"
    )
    # No warnings should occur if we copy the directory.
    check_linter_warnings(sandbox, "\nFROM scratch\nCOPY . .\n\t", dockerignore="\n**\n!Dockerfile\n")


# dockerfile_check_test.go: testCopyIgnoredFileContextRoot
def test_copy_ignored_file_context_root(sandbox: Sandbox) -> None:
    dockerfile = "\nFROM scratch\nCOPY . .\n"
    # dotfiles
    check_linter_warnings(sandbox, dockerfile, dockerignore="\n.*\n")
    # wildcard
    check_linter_warnings(
        sandbox,
        dockerfile,
        (Lint("CopyIgnoredFile", 'Attempting to Copy file "." that is excluded by .dockerignore', 3),),
        dockerignore="\n*\n",
    )


# dockerfile_check_test.go: testDefinitionDescription
def test_definition_description(sandbox: Sandbox) -> None:
    dockerfile = """# check=skip=all;experimental=InvalidDefinitionDescription
# foo this is the foo
ARG foo=bar

# base this is the base image
FROM scratch AS base

# version this is the version number
ARG version=latest

# baz this is the baz
ARG foo=baz bar=qux baz=quux
#
ARG bit=bat

# comment for something other than ARG or FROM
COPY Dockerfile .
"""
    check_linter_warnings(sandbox, dockerfile)
    dockerfile = """# check=experimental=InvalidDefinitionDescription
# bar this is the bar
ARG foo=bar
# BasE this is the BasE image
FROM scratch AS base
# definitely a bad comment
ARG version=latest
# definitely a bad comment
ARG foo=baz bar=qux baz=quux
"""

    def description(instruction: str, name: str, line: int) -> Lint:
        return Lint(
            "InvalidDefinitionDescription",
            f"Comment for {instruction} should follow the format: `# {name} <description>`",
            line,
        )

    check_linter_warnings(
        sandbox,
        dockerfile,
        (
            description("ARG", "foo", 3),
            description("FROM", "base", 5),
            description("ARG", "version", 7),
            description("ARG", "<arg_key>", 9),
        ),
    )


# dockerfile_check_test.go: testExposeProtoCasing
def test_expose_proto_casing(sandbox: Sandbox) -> None:
    check_linter_warnings(
        sandbox,
        "\nFROM scratch\nEXPOSE 80/TcP 8080/TCP 8080/udp\n",
        (
            Lint(
                "ExposeProtoCasing", "Defined protocol '80/TcP' in EXPOSE instruction should be lowercase", 3
            ),
            Lint(
                "ExposeProtoCasing",
                "Defined protocol '8080/TCP' in EXPOSE instruction should be lowercase",
                3,
            ),
        ),
    )


# dockerfile_check_test.go: testExposeInvalidFormat
def test_expose_invalid_format(sandbox: Sandbox) -> None:
    def invalid(found: str) -> Lint:
        detail = f"EXPOSE instruction should not define an IP address or host-port mapping, found '{found}'"
        return Lint("ExposeInvalidFormat", detail, 3)

    check_linter_warnings(
        sandbox,
        "\nFROM scratch\nEXPOSE 127.0.0.1:80:80 [::1]:8080:8080 5000:5000 8000\n",
        (invalid("127.0.0.1:80:80"), invalid("[::1]:8080:8080"), invalid("5000:5000")),
    )
