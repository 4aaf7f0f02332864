"""The grammar of `slipway build`, written once, as data: every flag with its spellings, kind, choices, default
and help. The click command (cli/build.py) is made from this table, and so is the parser of the fast path
(cli/_fast.py), which reads a build without importing click; both give one `BuildFlags` value.

No click here, and nothing but the standard library, slipway.choices and a name from the store's layout:
the fast path reads this table first.
"""

import collections
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NamedTuple

from slipway.choices import (
    CALL_FORMATS,
    COMPRESSIONS,
    ENTITLEMENTS,
    NETWORK_MODES,
    PROGRESS_MODES,
    CallFormat,
    NetworkMode,
    ProgressMode,
)
from slipway.store import REGISTRIES_FILE

__all__ = ["BUILD_FLAGS", "CONTEXT", "PULL_POLICY_VARIABLE", "BuildFlags", "Flag"]

PULL_POLICY_VARIABLE = (
    "SLIPWAY_PULL_POLICY"  # never|missing|always: when FROM images are pulled, unless --pull
)

# "flag": present or not (no value); "value": takes a value, the last one given counts; "multiple": takes a
# value each time it is given, all kept in order.
Kind = Literal["flag", "value", "multiple"]
# What a value must be: any text; a whole number of at least 1; a path that is not a directory if it exists
# (a file to write); a path that is not a file if it exists (a directory).
ValueType = Literal["text", "positive", "file", "directory"]


class Flag(NamedTuple):
    name: str  # the BuildFlags field it sets
    aliases: tuple[str, ...]  # as typed: "-t", "--tag"
    kind: Kind = "value"
    type: ValueType = "text"
    choices: tuple[str, ...] = ()  # when not empty, the only values accepted (as typed: case matters)
    default: str | None = None  # of a "value" flag not given ("flag": False, "multiple": ())
    metavar: str | None = None  # how help shows the value
    help: str = ""


# The one argument: the build context (its kinds are contexts.py's).
CONTEXT = Flag(
    "context",
    (),
    help="The build context: a directory, - (a tar archive or a Dockerfile on stdin), an http(s) "
    "URL of a tar archive or a Dockerfile, or a git URL (https://host/repo.git#ref:subdir).",
)

BUILD_FLAGS: tuple[Flag, ...] = (
    Flag("tags", ("-t", "--tag"), "multiple", help="Name and optionally a tag (name:tag)."),
    Flag("dockerfile", ("-f", "--file"), help="Name of the Dockerfile (default CONTEXT/Dockerfile; - for stdin)."),
    Flag("target", ("--target",), help="Set the target build stage to build."),
    Flag("build_args", ("--build-arg",), "multiple", metavar="KEY[=VALUE]",
         help="Set build-time variables (KEY alone: its value from the environment)."),
    Flag("labels", ("--label",), "multiple", metavar="KEY=VALUE", help="Set metadata for an image."),
    Flag("no_cache", ("--no-cache",), "flag", help="Do not use cache when building the image."),
    Flag("no_cache_filter", ("--no-cache-filter",), "multiple", metavar="STAGE", help="Do not cache the named stages."),
    Flag("network", ("--network",), choices=NETWORK_MODES, default="default",
         help="The network of RUN steps (default: the host's)."),
    Flag("platform", ("--platform",), metavar="OS/ARCH[/VARIANT][,...]",
         help="Target platform, or several (one image index); default: this machine's."),
    Flag("progress", ("--progress",), choices=PROGRESS_MODES, default="auto",
         help="How to show the build's progress (auto: tty on a terminal, plain elsewhere)."),
    Flag("quiet", ("-q", "--quiet"), "flag", help="Suppress the build output and print the image ID on success."),
    Flag("iidfile", ("--iidfile",), type="file", metavar="FILE", help="Write the image ID to the file."),
    Flag("max_parallelism", ("--max-parallelism",), type="positive", metavar="N", help="Most RUN steps at once."),
    Flag("compression", ("--compression",), choices=tuple(c for c in COMPRESSIONS if c != "none"),
         help="Compress the layers now (default: the store keeps them uncompressed; a push gzips them)."),
    Flag("pull", ("--pull",), "flag",
         help="Always check the registry for newer FROM images (default: pull only missing ones; "
         f"{PULL_POLICY_VARIABLE}=never|missing|always sets the default)."),
    Flag("insecure_registries", ("--insecure-registry",), "multiple", metavar="HOST[:PORT]",
         help=f"Allow plain HTTP (and unverified TLS) to this registry; also read from <root>/{REGISTRIES_FILE}."),
    Flag("output", ("-o", "--output"), "multiple", metavar="[type=TYPE,]dest=...",
         help="Where the result goes, as BuildKit's --output: type=image (default), registry, docker, oci, local, "
         "tar; DIR alone means type=local,dest=DIR. Give it again to write several."),
    Flag("push", ("--push",), "flag",
         help="Push the image to each -t name (--output type=registry; added to another --output)."),
    Flag("allow", ("--allow",), "multiple", choices=ENTITLEMENTS, metavar="ENTITLEMENT",
         help="Grant an entitlement: security.insecure lets RUN --security=insecure run with every capability; "
         "network.host lets RUN --network=host (or --network host) use the host's network."),
    Flag("cache_to", ("--cache-to",), "multiple", metavar="type=registry,ref=REF|type=local,dest=DIR[,mode=min|max]",
         help="Export the build cache (mode=min: the final image's steps, the default; max: every step)."),
    Flag("cache_from", ("--cache-from",), "multiple", metavar="type=registry,ref=REF|type=local,src=DIR",
         help="Use build cache exported by --cache-to (a REF alone means type=registry,ref=REF)."),
    Flag("call", ("--call",), default="build", metavar="check|outline|targets[,format=json]",
         help="Evaluate the build instead of running it: check (the build checks of every stage), outline "
         "(the target's build arguments, secrets and ssh sockets), targets (the stages)."),
    Flag("check", ("--check",), "flag", help='Shorthand for "--call=check".'),
    Flag("format", ("--format",), choices=CALL_FORMATS, help="How --call answers (default: text)."),
    Flag("secrets", ("--secret",), "multiple", metavar="id=ID[,src=FILE|,env=VAR][,type=file|env]",
         help="Lend a secret to RUN --mount=type=secret (read from FILE or $VAR; id=ID alone: $ID if set, "
         "else the file ID). It is mounted from memory, never stored, and not part of the cache key."),
    Flag("ssh", ("--ssh",), "multiple", metavar="default|ID[=SOCKET|KEYFILE[,KEYFILE...]]",
         help="Lend an SSH agent to RUN --mount=type=ssh: the agent at SOCKET ($SSH_AUTH_SOCK when none is "
         "given), or a private agent holding the key files, for this build only."),
    Flag("add_hosts", ("--add-host",), "multiple", metavar="HOST:IP",
         help="Add a line to the /etc/hosts of RUN steps."),
    Flag("shm_size", ("--shm-size",), metavar="SIZE",
         help="Size of /dev/shm in RUN steps (bytes, or with a unit: 128m, 1g; default 64m)."),
    Flag("ulimits", ("--ulimit",), "multiple", metavar="TYPE=SOFT[:HARD]",
         help="A resource limit of RUN steps (nofile=1024:2048, nproc=512, core=-1 ...)."),
    Flag("annotations", ("--annotation",), "multiple", metavar="[manifest:]KEY=VALUE",
         help="Add an annotation to the image manifest (of every platform's image)."),
    Flag("provenance", ("--provenance",), metavar="false",
         help="Accepted for docker buildx scripts: slipway attaches no provenance attestation (a value other "
         "than false warns that none is made)."),
    Flag("sbom", ("--sbom",), metavar="false",
         help="Accepted for docker buildx scripts: slipway attaches no SBOM attestation (a value other than "
         "false warns that none is made)."),
    Flag("load", ("--load",), "flag",
         help="For docker buildx scripts: the image goes to slipway's store, as it does by default (there is "
         "no daemon to load it into); with an --output of another type, to the store as well."),
    Flag("rm", ("--rm",), "flag",
         help="Accepted for docker build scripts: no container outlives its step in slipway, whatever is given."),
    Flag("force_rm", ("--force-rm",), "flag",
         help="Accepted for docker build scripts: no container outlives its step in slipway, failed or not."),
    Flag("build_contexts", ("--build-context",), "multiple",
         metavar="NAME=DIR|docker-image://REF|oci-layout://PATH@DIGEST|target:STAGE|URL",
         help="A named context: FROM NAME, COPY --from=NAME and RUN --mount=from=NAME use it (a stage or an "
         "image of that name included)."),
    Flag("metadata_file", ("--metadata-file",), type="file", metavar="FILE",
         help="Write the build's result as JSON (containerimage.digest, containerimage.descriptor, "
         "containerimage.config.digest, image.name: BuildKit's keys) to the file."),
)  # fmt: skip


# What `slipway build` was asked, as read from its command line: both parsers give this value, a tuple with a
# field per entry of the table, in its order. Not a dataclass: the fast path must not pay for importing
# dataclasses (and inspect). The class below is its type, for the type checker; at run time it is made from
# the table, as collections.namedtuple makes it at a third of typing.NamedTuple's cost for 21 annotated fields.
# tests/unit/cli/test_fast.py holds the two equal.
if TYPE_CHECKING:

    class BuildFlags(NamedTuple):
        context: str
        tags: tuple[str, ...]
        dockerfile: str | None
        target: str | None
        build_args: tuple[str, ...]
        labels: tuple[str, ...]
        no_cache: bool
        no_cache_filter: tuple[str, ...]
        network: NetworkMode
        platform: str | None
        progress: ProgressMode
        quiet: bool
        iidfile: Path | None
        max_parallelism: int | None
        compression: Literal["gzip", "zstd"] | None
        pull: bool
        insecure_registries: tuple[str, ...]
        output: tuple[str, ...]
        push: bool
        allow: tuple[str, ...]
        cache_to: tuple[str, ...]
        cache_from: tuple[str, ...]
        call: str
        check: bool
        format: CallFormat | None
        secrets: tuple[str, ...]
        ssh: tuple[str, ...]
        add_hosts: tuple[str, ...]
        shm_size: str | None
        ulimits: tuple[str, ...]
        annotations: tuple[str, ...]
        provenance: str | None
        sbom: str | None
        load: bool
        rm: bool
        force_rm: bool
        build_contexts: tuple[str, ...]
        metadata_file: Path | None

else:
    BuildFlags = collections.namedtuple("BuildFlags", [CONTEXT.name, *(flag.name for flag in BUILD_FLAGS)])
