"""Render a kustomize overlay with the real kubectl and return its objects."""

from __future__ import annotations

import functools
import re
import subprocess

import yaml

from devtools.paths import REPO_ROOT


@functools.cache
def render(overlay: str) -> tuple[dict, ...]:
    result = subprocess.run(["kubectl", "kustomize", str(REPO_ROOT / overlay)], capture_output=True, text=True)
    if result.returncode != 0:
        raise AssertionError(f"kubectl kustomize {overlay} failed: {result.stderr}")
    return tuple(d for d in yaml.safe_load_all(result.stdout) if d)


SECRET_HASH = re.compile(r"-[a-z0-9]{10}$")  # the content hash kustomize's secretGenerator appends


def unhashed(name: str) -> str:
    """A generated Secret's name without its content hash."""
    return SECRET_HASH.sub("", name)


def by_kind(objects, kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


# A CronJob is the match Jobs' template (k8s/base/match.yaml): its pods are held to the same rules as every other's.
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job", "CronJob")


def workloads(objects) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] in WORKLOAD_KINDS}


def pod_template(workload: dict) -> dict:
    """The template of a workload's pods (a CronJob's: its jobTemplate's)."""
    spec = workload["spec"]["jobTemplate"]["spec"] if workload["kind"] == "CronJob" else workload["spec"]
    return spec["template"]


def pod_spec(workload: dict) -> dict:
    return pod_template(workload)["spec"]


def selects(selector: dict, labels: dict) -> bool:
    """Does a label selector (matchLabels, matchExpressions with In) select these labels? ({} selects all.)"""
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions", []):
        if expr["operator"] != "In":
            raise NotImplementedError(f"selects() reads only In, not {expr['operator']}")
        if labels.get(expr["key"]) not in expr["values"]:
            return False
    return True
