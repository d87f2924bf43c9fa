"""The kind runtime's deploy plan: the --no-tilt overlay rendered by the real kubectl kustomize, rollout
state read from the Kubernetes API's own model classes, and `down` at the kind/kubectl CLI boundary."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from devtools.bake import COMPONENTS
from devtools.cluster import ClusterController, ClusterSpec
from devtools.errors import NotCreatedByDevtools
from devtools.kind_runtime import KindOptions, KindRuntime, overlay_kustomization, tilt_args, workload_status
from tests.devtools.test_cluster import FakeKind

REPO = Path(__file__).resolve().parents[2]


def render(overlay_dir: Path) -> list[dict]:
    result = subprocess.run(["kubectl", "kustomize", str(overlay_dir)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def test_the_no_tilt_overlay_renders_with_the_pushed_tags_actors_and_game(tmp_path):
    tags = {name: f"dev-{name}-1" for name in COMPONENTS}  # every image devtools pushes
    doc = overlay_kustomization(REPO / "k8s" / "local", tmp_path, tags, actors=3, env_id="connect4")
    assert not Path(doc["resources"][0]).is_absolute(), "kustomize refuses absolute resource paths"
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    objects = render(tmp_path)
    images = {c["image"] for o in objects if o["kind"] == "Deployment"
              for c in o["spec"]["template"]["spec"]["containers"] if "cartridge-" in c["image"]}  # fmt: skip
    assert images == {f"localhost:5001/cartridge-{name}:{tag}" for name, tag in tags.items()}
    actor = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "actor")
    assert actor["spec"]["replicas"] == 3
    hpa = next(o for o in objects if o["kind"] == "HorizontalPodAutoscaler" and o["metadata"]["name"] == "actor")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 3), "the autoscaler would undo --actors"
    config = next(o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "cartridge-config")
    assert config["data"]["ENV_ID"] == "connect4"
    # Without options, the overlay changes nothing but the tags.
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "kustomization.yaml").write_text(
        yaml.safe_dump(overlay_kustomization(REPO / "k8s" / "local", plain, tags, None, None))
    )
    assert len(render(plain)) == len(objects)


def test_tilt_gets_the_context_the_tiltfile_and_the_options_after_a_double_dash():
    assert tilt_args("up", "kind-cartridge", REPO / "Tiltfile", None, None) == [
        "tilt", "up", "--context", "kind-cartridge", "--file", str(REPO / "Tiltfile")]  # fmt: skip
    args = tilt_args("ci", "kind-cartridge", REPO / "Tiltfile", 2, "tictactoe")
    assert args[:2] == ["tilt", "ci"] and args[args.index("--") :] == ["--", "--actors", "2", "--env-id", "tictactoe"]


def deployment(generation: int, observed: int, replicas: int, updated: int, ready: int) -> client.V1Deployment:
    spec = client.V1DeploymentSpec(replicas=replicas, selector=client.V1LabelSelector(),
                                   template=client.V1PodTemplateSpec())  # fmt: skip
    status = client.V1DeploymentStatus(observed_generation=observed, updated_replicas=updated, ready_replicas=ready)
    metadata = client.V1ObjectMeta(name="web", generation=generation)
    return client.V1Deployment(metadata=metadata, spec=spec, status=status)


@pytest.mark.parametrize(
    ("generation", "observed", "updated", "ready", "healthy"),
    [
        (2, 2, 2, 2, True),
        (2, 1, 2, 2, False),  # the controller has not seen the re-applied spec yet
        (2, 2, 0, 2, False),  # the old pods are ready, the new ones are not there yet
        (2, 2, 2, 1, False),
    ],
)
def test_a_deployment_counts_as_rolled_out_only_with_new_pods_ready(generation, observed, updated, ready, healthy):
    status = workload_status("Deployment", deployment(generation, observed, 2, updated, ready))
    assert status.healthy is healthy and status.url == "http://localhost:8080"


def test_the_bucket_job_counts_once_it_succeeded():
    job = client.V1Job(metadata=client.V1ObjectMeta(name="minio-create-bucket", generation=1),
                       spec=client.V1JobSpec(template=client.V1PodTemplateSpec(), completions=1),
                       status=client.V1JobStatus(succeeded=None))  # fmt: skip
    assert not workload_status("Job", job).healthy
    job.status.succeeded = 1
    assert workload_status("Job", job).healthy


def test_down_deletes_the_namespace_and_with_all_the_cluster_and_its_containers(monkeypatch):
    # cloud-provider-kind and the registry are containers with their own Docker tests (test_addons, test_registry)
    removed: list[str] = []
    monkeypatch.setattr(KindRuntime, "delete_containers", lambda self, registry, refused: removed.append(registry))
    kind = FakeKind()
    ClusterController(kind).apply(ClusterSpec())  # devtools creates it
    KindRuntime(KindOptions(repo_root=REPO), run=kind).down()
    assert "kubectl --context kind-cartridge delete namespace cartridge --ignore-not-found --wait" in kind.commands()
    assert kind.exists and removed == [False], "down stops cloud-provider-kind but keeps the registry"
    KindRuntime(KindOptions(repo_root=REPO), run=kind).down(everything=True)
    assert not kind.exists and "kind delete cluster --name cartridge" in kind.commands()
    assert removed == [False, True]
    absent = FakeKind(exists=False)
    KindRuntime(KindOptions(repo_root=REPO), run=absent).down()
    assert not [c for c in absent.commands() if "delete" in c]


def test_down_all_keeps_a_cluster_devtools_did_not_create_and_says_so_at_the_end(monkeypatch):
    """Fault 9: the cluster is kept (its namespace cartridge is removed, as by `down`), the containers are
    still handled, and the refusal is one error with a hint once the rest is done."""
    handled: list[bool] = []

    def delete_containers(self, registry, refused):
        handled.append(registry)
        raise NotCreatedByDevtools.combine(refused)

    monkeypatch.setattr(KindRuntime, "delete_containers", delete_containers)
    kind = FakeKind(exists=True)  # made by someone else
    with pytest.raises(NotCreatedByDevtools) as err:
        KindRuntime(KindOptions(repo_root=REPO), run=kind).down(everything=True)
    assert "did not create the kind cluster cartridge" in err.value.message and "kind delete cluster" in err.value.hint
    assert kind.exists and handled == [True]
    assert any("delete namespace cartridge" in c for c in kind.commands())
