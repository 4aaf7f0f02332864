"""BuildKit's checkLinterWarnings (dockerfile_check_test.go) for slipway.

BuildKit checks each case twice: the warnings a build streams ("warntype=progress") and the result of the
lint subrequest ("warntype=unmarshal"). Here: the warnings `slipway build` prints at its end, as docker
buildx prints them (` - RuleName: detail (line N)`), and `slipway build --call check --format json`, whose
JSON is BuildKit's lint result (warnings with ruleName, description, url, detail, location; buildError).
BuildKit streams its build for linux/amd64 and linux/arm64 at once; here the build is for this machine.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from buildkit._sandbox import Sandbox, file, helpers

# Each rule's description and documentation link, as BuildKit's linter defines them.
RULES = {
    "StageNameCasing": ("Stage names should be lowercase", "stage-name-casing"),
    "FromAsCasing": ("The 'as' keyword should match the case of the 'from' keyword", "from-as-casing"),
    "NoEmptyContinuation": (
        "Empty continuation lines will become errors in a future release",
        "no-empty-continuation",
    ),
    "ConsistentInstructionCasing": (
        "All commands within the Dockerfile should use the same casing (either upper or lower)",
        "consistent-instruction-casing",
    ),
    "DuplicateStageName": ("Stage names should be unique", "duplicate-stage-name"),
    "ReservedStageName": ("Reserved words should not be used as stage names", "reserved-stage-name"),
    "JSONArgsRecommended": (
        "JSON arguments recommended for ENTRYPOINT/CMD to prevent unintended behavior related to OS signals",
        "json-args-recommended",
    ),
    "MaintainerDeprecated": (
        "The MAINTAINER instruction is deprecated, use a label instead to define an image author",
        "maintainer-deprecated",
    ),
    "UndefinedArgInFrom": ("FROM command must use declared ARGs", "undefined-arg-in-from"),
    "WorkdirRelativePath": (
        "Relative workdir without an absolute workdir declared within the build can have unexpected results if the base image changes",
        "workdir-relative-path",
    ),
    "UndefinedVar": ("Variables should be defined before their use", "undefined-var"),
    "MultipleInstructionsDisallowed": (
        "Multiple instructions of the same type should not be used in the same stage",
        "multiple-instructions-disallowed",
    ),
    "LegacyKeyValueFormat": (
        "Legacy key/value format with whitespace separator should not be used",
        "legacy-key-value-format",
    ),
    "InvalidBaseImagePlatform": ("Base image platform does not match expected target platform", ""),
    "RedundantTargetPlatform": (
        "Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior",
        "redundant-target-platform",
    ),
    "SecretsUsedInArgOrEnv": (
        "Sensitive data should not be used in the ARG or ENV commands",
        "secrets-used-in-arg-or-env",
    ),
    "InvalidDefaultArgInFrom": (
        "Default value for global ARG results in an empty or invalid base image name",
        "invalid-default-arg-in-from",
    ),
    "FromPlatformFlagConstDisallowed": (
        "FROM --platform flag should not use a constant value",
        "from-platform-flag-const-disallowed",
    ),
    "CopyIgnoredFile": ("Attempting to Copy file that is excluded by .dockerignore", "copy-ignored-file"),
    "InvalidDefinitionDescription": (
        "Comment for build stage or argument should follow the format: `# <arg/stage name> <description>`. "
        "If this is not intended to be a description comment, add an empty line or comment between the "
        "instruction and the comment.",
        "invalid-definition-description",
    ),
    "ExposeProtoCasing": ("Protocol in EXPOSE instruction should be lowercase", "expose-proto-casing"),
    "ExposeInvalidFormat": (
        "IP address and host-port mapping should not be used in EXPOSE instruction. This will become an error in a future release",
        "expose-invalid-format",
    ),
}


@dataclass(frozen=True)
class Lint:
    """expectedLintWarning: the rule, the warning's detail and its Dockerfile line."""

    rule: str
    detail: str
    line: int

    @property
    def short(self) -> str:
        """linter.LintFormatShort"""
        return f"{self.rule}: {self.detail} (line {self.line})"

    @property
    def description(self) -> str:
        return RULES[self.rule][0]

    @property
    def url(self) -> str:
        slug = RULES[self.rule][1]
        return f"https://docs.docker.com/go/dockerfile/rule/{slug}/" if slug else ""


def check_linter_warnings(
    sandbox: Sandbox,
    dockerfile: str,
    warnings: tuple[Lint, ...] = (),
    *,
    dockerignore: str | None = None,
    build_error: str = "",
    stream_error: str = "",
    unmarshal_error: str = "",
    unmarshal_warnings: tuple[Lint, ...] | None = None,
    args: tuple[str, ...] = (),
) -> None:
    entries = (file(".dockerignore", dockerignore),) if dockerignore is not None else ()
    context = sandbox.context(dockerfile, *entries)
    check_progress_stream(sandbox, context, warnings, build_error, stream_error, args)
    check_unmarshal(
        sandbox,
        context,
        warnings if unmarshal_warnings is None else unmarshal_warnings,
        build_error,
        unmarshal_error,
        args,
    )


def check_progress_stream(
    sandbox: Sandbox,
    context: Any,
    warnings: tuple[Lint, ...],
    build_error: str,
    error_pattern: str,
    args: tuple[str, ...],
) -> None:
    result = sandbox.build(context, *args)
    output = result.stdout + result.stderr
    assert "Traceback" not in output, helpers.describe(result)
    if not build_error and not error_pattern:
        assert result.returncode == 0, helpers.describe(result)
    else:
        assert result.returncode != 0, helpers.describe(result)
        assert build_error in output if build_error else re.search(error_pattern, output), helpers.describe(
            result
        )
    printed = re.findall(r"^\s*- (\w+: .* \(line \d+\))\s*$", output, re.MULTILINE)
    assert sorted(printed) == sorted(warning.short for warning in warnings), helpers.describe(result)


def check_unmarshal(
    sandbox: Sandbox,
    context: Any,
    warnings: tuple[Lint, ...],
    build_error: str,
    error_pattern: str,
    args: tuple[str, ...],
) -> None:
    result = sandbox.build(context, "--call", "check", "--format", "json", *args)
    assert "Traceback" not in result.stderr, helpers.describe(result)
    results = json.loads(result.stdout)
    if not build_error and not error_pattern:
        assert results.get("buildError") is None, results
    else:
        message = results["buildError"]["message"]
        assert message == build_error if build_error else re.search(error_pattern, message), message
        assert 0 <= results["buildError"]["location"].get("sourceIndex", 0) < len(results["sources"])
    found = sorted(
        results.get("warnings") or [],
        key=lambda warning: (warning["location"]["ranges"][0]["start"]["line"], warning["detail"]),
    )
    expected = sorted(warnings, key=lambda warning: (warning.line, warning.detail))
    assert len(found) == len(expected), found
    for warning, wanted in zip(found, expected, strict=True):
        assert warning["ruleName"] == wanted.rule
        assert warning["description"] == wanted.description
        assert warning.get("url", "") == wanted.url
        assert warning["detail"] == wanted.detail
