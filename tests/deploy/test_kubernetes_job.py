"""deploy/kubernetes/job.yaml: a valid Job (the Kubernetes schema, strictly), rootless and unprivileged, building
with a registry cache shared by every builder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

JOB = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes" / "job.yaml"


@pytest.fixture(scope="module")
def job() -> dict[str, Any]:
    documents = list(yaml.safe_load_all(JOB.read_text()))
    assert len(documents) == 1
    document: dict[str, Any] = documents[0]
    return document


def containers(job: dict[str, Any]) -> list[dict[str, Any]]:
    pod = job["spec"]["template"]["spec"]
    found: list[dict[str, Any]] = pod.get("initContainers", []) + pod["containers"]
    return found


def test_the_job_is_valid_against_the_kubernetes_schema(job: dict[str, Any]) -> None:
    kubernetes_validate.validate(job, kubernetes_validate.latest_version(), strict=True)


def test_nothing_runs_privileged_as_root_or_with_added_capabilities(job: dict[str, Any]) -> None:
    pod = job["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert not pod.get("hostPID") and not pod.get("hostNetwork") and not pod.get("hostIPC")
    for container in containers(job):
        context = {**pod["securityContext"], **container.get("securityContext", {})}
        assert context.get("privileged", False) is False, container["name"]
        assert context["runAsNonRoot"] is True and context["runAsUser"] != 0, container["name"]
        assert not context.get("capabilities", {}).get("add"), container["name"]
    assert all("hostPath" not in volume for volume in pod["volumes"])


def test_the_build_pushes_and_shares_its_cache_through_a_registry(job: dict[str, Any]) -> None:
    (builder,) = job["spec"]["template"]["spec"]["containers"]
    args = builder["args"]
    assert args[0] == "build" and "--push" in args
    cache_from = [arg for arg in args if arg.startswith("--cache-from=type=registry,ref=")]
    cache_to = [arg for arg in args if arg.startswith("--cache-to=type=registry,ref=")]
    assert cache_from and cache_to
    assert cache_from[0].split("ref=")[1] == cache_to[0].split("ref=")[1].split(",")[0]
    store = next(mount for mount in builder["volumeMounts"] if mount["name"] == "store")
    assert store["mountPath"].endswith("/.local/share/slipway")  # the rootless default store, on a volume
