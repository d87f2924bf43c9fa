"""A re-apply with new image tags (every `devtools up --no-tilt`, every release) changes no field the API server
refuses to change, unless the apply path replaces that object.

Each overlay is rendered twice, as a deploy renders it, with two different tags (and, for k8s/local, another actor
count and game): every object present in both must keep its immutable fields (tests/k8s/immutable.py), or be one
that devtools' apply path replaces (devtools.kind.runtime.jobs_to_replace: the Jobs it changes). Tilt replaces
any object whose apply is refused as immutable by deleting and re-creating it (tilt-dev/tilt
internal/k8s/client.go, escalatingUpdate); for a Job that is what we want, for a StatefulSet, a Service or a PVC it
is not, so the same rule holds for both paths: only Jobs may change what cannot change in place.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from devtools.kind.bake import COMPONENTS
from devtools.kind.runtime import LAST_APPLIED, jobs_to_replace, overlay_kustomization
from devtools.paths import REPO_ROOT
from tests.k8s.immutable import key, refused_changes

OVERLAYS = ("k8s/local", "k8s/prod", "k8s/staging", "k8s/local-monitoring")
KIND_OVERLAYS = ("k8s/local", "k8s/local-monitoring")
PROD_REGISTRY = "ghcr.io/cartridge-dev"


def render_with_tag(
    overlay: str, directory: Path, tag: str, actors: int | None = None, env_id: str | None = None
) -> list[dict]:
    """``overlay`` with every app image at ``tag``: for k8s/local (and k8s/local-monitoring, with --monitoring) the
    overlay `devtools up --no-tilt` applies (overlay_kustomization), for k8s/prod a kustomize `images:` override, as a
    release sets its tag."""
    directory.mkdir()
    if overlay in KIND_OVERLAYS:
        doc = overlay_kustomization(REPO_ROOT / overlay, directory, dict.fromkeys(COMPONENTS, tag), actors, env_id)
    else:
        doc = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": [os.path.relpath(REPO_ROOT / overlay, directory)],
            "images": [{"name": f"{PROD_REGISTRY}/cartridge-{name}", "newTag": tag} for name in COMPONENTS],
        }
    (directory / "kustomization.yaml").write_text(yaml.safe_dump(doc))
    result = subprocess.run(["kubectl", "kustomize", str(directory)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def as_applied(obj: dict) -> dict:
    """``obj`` as the cluster holds it after `kubectl apply`: with the annotation that records what was sent."""
    live = copy.deepcopy(obj)
    live["metadata"].setdefault("annotations", {})[LAST_APPLIED] = json.dumps(obj)
    return live


def replaced_by_the_apply_path(before: list[dict], after: list[dict]) -> set[tuple[str, str, str]]:
    """What devtools' deploy deletes before applying ``after`` over a stack that ``before`` made."""
    live_jobs = [as_applied(o) for o in before if o["kind"] == "Job"]
    namespace = {o["metadata"]["name"]: o["metadata"].get("namespace", "") for o in live_jobs}
    return {("Job", namespace[name], name) for name in jobs_to_replace(live_jobs, after)}


def refused_in_place(before: list[dict], after: list[dict], replaced: set[tuple[str, str, str]]) -> list[str]:
    """`Kind/name: field` for each immutable field that ``after`` changes on an object applied in place."""
    old = {key(o): o for o in before}
    refused = []
    for obj in after:
        if key(obj) in old and key(obj) not in replaced:
            refused += [
                f"{obj['kind']}/{obj['metadata']['name']}: {path}" for path in refused_changes(old[key(obj)], obj)
            ]
    return refused


@pytest.fixture(scope="module")
def renders(tmp_path_factory) -> dict[str, tuple[list[dict], list[dict]]]:
    found = {}
    for overlay in OVERLAYS:
        base = tmp_path_factory.mktemp(overlay.replace("/", "-"))
        before = render_with_tag(overlay, base / "before", "release-1")
        options = {"actors": 2, "env_id": "tictactoe"} if overlay in KIND_OVERLAYS else {}
        found[overlay] = before, render_with_tag(overlay, base / "after", "release-2", **options)
    return found


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_a_re_apply_with_new_tags_changes_no_immutable_field_of_an_object_applied_in_place(overlay, renders):
    before, after = renders[overlay]
    # The two renders differ where a re-apply would be refused: postgres-setup runs the web image.
    assert "Job/postgres-setup: spec.template" in refused_in_place(before, after, replaced=set())
    assert refused_in_place(before, after, replaced_by_the_apply_path(before, after)) == []


def test_the_apply_path_replaces_exactly_the_jobs_whose_spec_changes(renders):
    before, after = renders["k8s/local"]
    assert {name for _, _, name in replaced_by_the_apply_path(before, after)} == {"postgres-setup"}
    assert replaced_by_the_apply_path(after, after) == set(), "an unchanged Job is kept (not run again)"


def mutate(objects: list[dict], kind: str, name: str, change) -> list[dict]:
    objects = copy.deepcopy(objects)
    change(next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name))
    return objects


@pytest.mark.parametrize(
    ("kind", "name", "change", "refused"),
    [
        # a version label in a selector: the commonest way a tag reaches an immutable field
        (
            "Deployment",
            "web",
            lambda o: o["spec"]["selector"]["matchLabels"].update({"app.kubernetes.io/version": "2"}),
            "Deployment/web: spec.selector",
        ),
        ("StatefulSet", "postgres", lambda o: o["spec"].update(serviceName="v2"), "StatefulSet/postgres: spec"),
        (
            "StatefulSet",
            "postgres",
            lambda o: o["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"].update(storage="8Gi"),
            "StatefulSet/postgres: spec",
        ),
        ("Service", "postgres", lambda o: o["spec"].pop("clusterIP"), "Service/postgres: spec.clusterIP"),
        (
            "PersistentVolumeClaim",
            "minio-data",
            lambda o: o["spec"].update(storageClassName="fast"),
            "PersistentVolumeClaim/minio-data: spec",
        ),
    ],
)
def test_the_check_refuses_an_immutable_change_to_an_object_applied_in_place(renders, kind, name, change, refused):
    before, after = renders["k8s/local"]
    broken = mutate(after, kind, name, change)
    assert refused_in_place(before, broken, replaced_by_the_apply_path(before, broken)) == [refused]


def test_the_check_refuses_a_job_the_apply_path_does_not_replace(renders):
    """What d5ffe15 did: `kubectl apply -k` over the live Jobs, replacing none."""
    before, after = renders["k8s/local"]
    assert refused_in_place(before, after, replaced=set()) == ["Job/postgres-setup: spec.template"]


def test_a_resized_pvc_and_a_new_replica_count_are_changes_in_place(renders):
    before, after = renders["k8s/local"]
    grown = mutate(
        after, "PersistentVolumeClaim", "minio-data", lambda o: o["spec"]["resources"]["requests"].update(storage="4Gi")
    )
    grown = mutate(grown, "StatefulSet", "postgres", lambda o: o["spec"].update(replicas=2))
    assert refused_in_place(before, grown, replaced_by_the_apply_path(before, grown)) == []
