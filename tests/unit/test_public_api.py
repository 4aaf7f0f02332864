"""What `import slipway` and each room offer callers, pinned: a name added, renamed or dropped fails here, so a
change of the public surface is a decision (update the list below with it), never an accident."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import slipway
from slipway.cli._build_flags import BUILD_FLAGS

README = Path(__file__).resolve().parents[2] / "README.md"

PUBLIC = {
    "slipway": [
        "Advice", "BuildResult", "ContainerConfig", "History", "Image", "ImageAnalysis", "ImageConfig", "ImageDiff",
        "Layer", "RunResult", "SlipwayError", "Store", "advise", "analyze", "build", "diff", "errors", "pull", "push",
        "run",
    ],
    "slipway.errors": [
        "ArchiveError", "AuthenticationError", "BlobNotFound", "BuildCancelled", "ContextError",
        "DigestMismatch", "DiskFull", "DockerfileError", "DockerfileSyntaxError", "ExpansionError",
        "ExportError", "FileTooLarge", "ImageInUse", "ImageNotFound", "InvalidReference", "MountError",
        "NotRegularFile", "RegistryError", "RunFailed", "RuntimeNotFound", "SlipwayError", "SourceLocation",
        "SourceNotFound", "StageNotFound", "StoreDamaged", "StoreError", "UnreadableFile", "UsageError",
    ],
    "slipway.choices": [
        "CALLS", "CALL_FORMATS", "COMPRESSIONS", "ENTITLEMENTS", "EXPORT_STEP_NAMES", "NETWORK_HOST",
        "SECURITY_INSECURE", "CONTAINER_NETWORKS", "DEFAULT_PLATFORM", "NETWORK_MODES", "PROGRESS_MODES",
        "PULL_POLICIES", "CallFormat", "CallName", "ROOTLESS_VARIABLE", "is_rootless", "OVERLAY_DRIVERS",
        "OVERLAY_VARIABLE", "OverlayDriver", "overlay_driver", "PROCESS_SANDBOX_VARIABLE",
        "PROCESS_SANDBOXES", "ProcessSandbox", "Compression",
        "ContainerNetwork", "NetworkMode", "OUTPUT_TYPES", "OutputType", "ProgressMode", "PullPolicy",
    ],
    "slipway.analysis": [
        "ContentShare", "ImageAnalysis", "LayerSummary", "PathSize", "analyze",
    ],
    "slipway.progress": [
        "BuildMessage", "Discard", "Event", "EventSink", "PlainRenderer", "ProgressMode", "QuietRenderer",
        "RawJsonRenderer", "StepCached", "StepDone", "StepFailed", "StepLog", "StepReporter", "StepStarted",
        "TtyRenderer", "decode_event", "encode_event", "format_run_failure", "open_renderer", "step",
    ],
    "slipway.registry": [
        "REGISTRIES_FILE", "Credentials", "DockerConfig", "RegistryClient", "RegistryOptions", "RetryPolicy",
        "StoreResolver", "fetch_image_config", "format_platform", "host_platform", "login", "logout",
        "parse_platform", "pull_image", "push_image", "push_index", "read_insecure_registries", "select_manifest",
    ],
    "slipway.runner": [
        "RunRequest", "VolumeBind", "merge_env", "parse_volume", "plan_process", "run_container",
    ],
    "slipway.store": [
        "META_DB", "META_RESERVE", "REGISTRIES_FILE", "ROOT_VARIABLE", "BlobBatch", "BlobIngester", "BlobSources",
        "BlobWriter",
        "CacheEntry", "CacheRecords", "ChunkSink", "ContentStore", "DirectFile", "Hold", "ImageRecord", "ImageStore", "Lease", "Leases",
        "Memos", "NewTree", "PrepareMode", "SnapshotRecord", "Snapshotter", "Store", "as_disk_full",
        "default_root", "is_full", "is_no_space", "naming_disk_full", "no_space", "reporting_no_space",
    ],
}  # fmt: skip

# The flags of `slipway build` that slipway.build leaves out: what only a terminal needs (the result holds the
# image ID), and --call/--check/--format, which evaluate the build instead of running it (slipway/calls.py).
# What only a command line means: output it prints, and buildx flags accepted without effect in a daemonless store.
NOT_BUILD_KEYWORDS = {
    "quiet",
    "iidfile",
    "metadata_file",
    "call",
    "check",
    "format",
    "load",
    "rm",
    "force_rm",
    "provenance",
    "sbom",
}
# Keywords of slipway.build beyond the flag table: what the command line reads from the environment or --root.
API_ONLY_KEYWORDS = {"source_date_epoch", "store"}
# Defaults of its own: a library draws nothing unless asked; `pull` takes the policy --pull and
# SLIPWAY_PULL_POLICY set on the command line ("always" for --pull).
OWN_DEFAULTS = {"progress": "quiet", "pull": "missing"}


@pytest.mark.parametrize("module_name", sorted(PUBLIC))
def test_each_public_module_offers_exactly_its_pinned_names(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert module.__all__ == PUBLIC[module_name]
    for name in module.__all__:
        assert getattr(module, name) is not None, f"{module_name}.{name} is listed but does not resolve"


def test_import_slipway_loads_nothing_but_itself() -> None:
    """The command line's fast path imports slipway: every public name loads on first use, not before."""
    probe = "import sys, slipway; print(sorted(name for name in sys.modules if name.startswith(('slipway', 'msgspec'))))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "['slipway', 'slipway._lazy']"


def test_no_submodule_shadows_a_public_name() -> None:
    """Importing a submodule sets it as an attribute of its package: a module slipway/build.py would replace
    the function slipway.build as soon as anything imported it. Only `errors` is meant to be a module."""
    submodules = {module.name for module in pkgutil.iter_modules(slipway.__path__)}
    assert submodules & set(slipway.__all__) == {"errors"}
    importlib.import_module("slipway.pipeline")
    assert inspect.isfunction(slipway.build) and inspect.isfunction(slipway.run)
    assert inspect.ismodule(slipway.errors)


def test_the_error_tree_is_one_tree_under_slipway_error() -> None:
    for name in slipway.errors.__all__:
        value = getattr(slipway.errors, name)
        if name != "SourceLocation":
            assert issubclass(value, slipway.SlipwayError), name
    assert slipway.SlipwayError is slipway.errors.SlipwayError


def test_build_takes_the_flag_tables_names_as_keywords() -> None:
    parameters = inspect.signature(slipway.build).parameters
    flags = {flag.name: flag for flag in BUILD_FLAGS}
    assert set(parameters) == {"context"} | (set(flags) - NOT_BUILD_KEYWORDS) | API_ONLY_KEYWORDS
    for name, parameter in parameters.items():
        assert name == "context" or parameter.kind is inspect.Parameter.KEYWORD_ONLY, name
        flag = flags.get(name)
        if flag is None:
            continue
        if name in OWN_DEFAULTS:
            assert parameter.default == OWN_DEFAULTS[name], name
        elif flag.kind == "flag":
            assert parameter.default is False, name
        elif flag.kind == "multiple":
            assert parameter.default in ((), None), name
        else:
            assert parameter.default == flag.default, name


def test_the_readme_imports_no_private_module() -> None:
    """What a user copies from the README works without reaching into a module whose name starts with _."""
    code = "\n".join(re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL))
    assert "import slipway" in code
    assert not re.findall(r"(?:from|import) slipway(?:\.\w+)*\._", code)
