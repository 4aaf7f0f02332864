"""BuildKit's build check rules as data (frontend/dockerfile/linter/ruleset.go): each rule's name, what it is
about, its documentation link and the template of its warnings' text, word for word. checks.py runs them."""

from __future__ import annotations

import msgspec

__all__ = ["RULES", "Rule"]

_DOCS = "https://docs.docker.com/go/dockerfile/rule/"


class Rule(msgspec.Struct, frozen=True):
    name: str
    description: str
    detail: str  # str.format template of a warning's text
    slug: str = ""  # of the documentation page; "" when the rule has none
    experimental: bool = False  # runs only when asked for (`experimental=`), whatever `skip=` says
    hint: str = ""  # template added to the detail when there is a suggestion ({match})

    @property
    def url(self) -> str:
        return f"{_DOCS}{self.slug}/" if self.slug else ""


STAGE_NAME_CASING = Rule(
    "StageNameCasing",
    "Stage names should be lowercase",
    "Stage name '{name}' should be lowercase",
    "stage-name-casing",
)
FROM_AS_CASING = Rule(
    "FromAsCasing",
    "The 'as' keyword should match the case of the 'from' keyword",
    "'{as_}' and '{from_}' keywords' casing do not match",
    "from-as-casing",
)
NO_EMPTY_CONTINUATION = Rule(
    "NoEmptyContinuation",
    "Empty continuation lines will become errors in a future release",
    "Empty continuation line",
    "no-empty-continuation",
)
CONSISTENT_INSTRUCTION_CASING = Rule(
    "ConsistentInstructionCasing",
    "All commands within the Dockerfile should use the same casing (either upper or lower)",
    "Command '{command}' should match the case of the command majority ({casing})",
    "consistent-instruction-casing",
)
DUPLICATE_STAGE_NAME = Rule(
    "DuplicateStageName",
    "Stage names should be unique",
    'Duplicate stage name "{name}", stage names should be unique',
    "duplicate-stage-name",
)
RESERVED_STAGE_NAME = Rule(
    "ReservedStageName",
    "Reserved words should not be used as stage names",
    'Stage name should not use the same name as reserved stage "{name}"',
    "reserved-stage-name",
)
JSON_ARGS_RECOMMENDED = Rule(
    "JSONArgsRecommended",
    "JSON arguments recommended for ENTRYPOINT/CMD to prevent unintended behavior related to OS signals",
    "JSON arguments recommended for {instruction} to prevent unintended behavior related to OS signals",
    "json-args-recommended",
)
MAINTAINER_DEPRECATED = Rule(
    "MaintainerDeprecated",
    "The MAINTAINER instruction is deprecated, use a label instead to define an image author",
    "Maintainer instruction is deprecated in favor of using label",
    "maintainer-deprecated",
)
UNDEFINED_ARG_IN_FROM = Rule(
    "UndefinedArgInFrom",
    "FROM command must use declared ARGs",
    "FROM argument '{name}' is not declared",
    "undefined-arg-in-from",
    hint=" (did you mean {match}?)",
)
WORKDIR_RELATIVE_PATH = Rule(
    "WorkdirRelativePath",
    "Relative workdir without an absolute workdir declared within the build can have unexpected results if "
    "the base image changes",
    'Relative workdir "{path}" can have unexpected results if the base image changes',
    "workdir-relative-path",
)
UNDEFINED_VAR = Rule(
    "UndefinedVar",
    "Variables should be defined before their use",
    "Usage of undefined variable '${name}'",
    "undefined-var",
    hint=" (did you mean ${match}?)",
)
MULTIPLE_INSTRUCTIONS_DISALLOWED = Rule(
    "MultipleInstructionsDisallowed",
    "Multiple instructions of the same type should not be used in the same stage",
    "Multiple {instruction} instructions should not be used in the same stage because only the last one "
    "will be used",
    "multiple-instructions-disallowed",
)
LEGACY_KEY_VALUE_FORMAT = Rule(
    "LegacyKeyValueFormat",
    "Legacy key/value format with whitespace separator should not be used",
    '"{instruction} key=value" should be used instead of legacy "{instruction} key value" format',
    "legacy-key-value-format",
)
INVALID_BASE_IMAGE_PLATFORM = Rule(
    "InvalidBaseImagePlatform",
    "Base image platform does not match expected target platform",
    'Base image {image} was pulled with platform "{actual}", expected "{expected}" for current build',
)
REDUNDANT_TARGET_PLATFORM = Rule(
    "RedundantTargetPlatform",
    "Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior",
    "Setting platform to predefined {expression} in FROM is redundant as this is the default behavior",
    "redundant-target-platform",
)
SECRETS_USED_IN_ARG_OR_ENV = Rule(
    "SecretsUsedInArgOrEnv",
    "Sensitive data should not be used in the ARG or ENV commands",
    'Do not use ARG or ENV instructions for sensitive data ({instruction} "{key}")',
    "secrets-used-in-arg-or-env",
)
INVALID_DEFAULT_ARG_IN_FROM = Rule(
    "InvalidDefaultArgInFrom",
    "Default value for global ARG results in an empty or invalid base image name",
    "Default value for ARG {base} results in empty or invalid base image name",
    "invalid-default-arg-in-from",
)
FROM_PLATFORM_FLAG_CONST_DISALLOWED = Rule(
    "FromPlatformFlagConstDisallowed",
    "FROM --platform flag should not use a constant value",
    'FROM --platform flag should not use constant value "{platform}"',
    "from-platform-flag-const-disallowed",
)
COPY_IGNORED_FILE = Rule(
    "CopyIgnoredFile",
    "Attempting to Copy file that is excluded by .dockerignore",
    'Attempting to {instruction} file "{path}" that is excluded by .dockerignore',
    "copy-ignored-file",
)
INVALID_DEFINITION_DESCRIPTION = Rule(
    "InvalidDefinitionDescription",
    "Comment for build stage or argument should follow the format: `# <arg/stage name> <description>`. If "
    "this is not intended to be a description comment, add an empty line or comment between the instruction "
    "and the comment.",
    "Comment for {instruction} should follow the format: `# {name} <description>`",
    "invalid-definition-description",
    experimental=True,
)
EXPOSE_PROTO_CASING = Rule(
    "ExposeProtoCasing",
    "Protocol in EXPOSE instruction should be lowercase",
    "Defined protocol '{port}' in EXPOSE instruction should be lowercase",
    "expose-proto-casing",
)
EXPOSE_INVALID_FORMAT = Rule(
    "ExposeInvalidFormat",
    "IP address and host-port mapping should not be used in EXPOSE instruction. This will become an error in "
    "a future release",
    "EXPOSE instruction should not define an IP address or host-port mapping, found '{port}'",
    "expose-invalid-format",
)

RULES: tuple[Rule, ...] = (
    STAGE_NAME_CASING,
    FROM_AS_CASING,
    NO_EMPTY_CONTINUATION,
    CONSISTENT_INSTRUCTION_CASING,
    DUPLICATE_STAGE_NAME,
    RESERVED_STAGE_NAME,
    JSON_ARGS_RECOMMENDED,
    MAINTAINER_DEPRECATED,
    UNDEFINED_ARG_IN_FROM,
    WORKDIR_RELATIVE_PATH,
    UNDEFINED_VAR,
    MULTIPLE_INSTRUCTIONS_DISALLOWED,
    LEGACY_KEY_VALUE_FORMAT,
    INVALID_BASE_IMAGE_PLATFORM,
    REDUNDANT_TARGET_PLATFORM,
    SECRETS_USED_IN_ARG_OR_ENV,
    INVALID_DEFAULT_ARG_IN_FROM,
    FROM_PLATFORM_FLAG_CONST_DISALLOWED,
    COPY_IGNORED_FILE,
    INVALID_DEFINITION_DESCRIPTION,
    EXPOSE_PROTO_CASING,
    EXPOSE_INVALID_FORMAT,
)
