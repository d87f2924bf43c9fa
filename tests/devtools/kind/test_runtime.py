"""The kind runtime's deploy plan: the --no-tilt overlay rendered by the real kubectl kustomize, a re-deploy over
a cluster that refuses immutable changes as the API server does, rollout state read from the Kubernetes API's own
model classes, and `down` at the kind/kubectl CLI boundary."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from devtools.errors import DevtoolsError, NotCreatedByDevtools
from devtools.kind.bake import COMPONENTS
from devtools.kind.cluster import ClusterController, ClusterSpec
from devtools.kind.images import BuiltImage
from devtools.kind.names import KindNames
from devtools.kind.runtime import (
    LAST_APPLIED,
    KindOptions,
    KindRuntime,
    jobs_to_replace,
    overlay_kustomization,
    tilt_args,
    workload_status,
)
from devtools.paths import REPO_ROOT
from tests.devtools.kind.test_cluster import FakeKind
from tests.k8s.immutable import key, refused_changes


def render(overlay_dir: Path) -> list[dict]:
    result = subprocess.run(["kubectl", "kustomize", str(overlay_dir)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def test_the_no_tilt_overlay_renders_with_the_pushed_tags_actors_and_game(tmp_path):
    tags = {name: f"dev-{name}-1" for name in COMPONENTS}  # every image devtools pushes
    doc = overlay_kustomization(REPO_ROOT / "k8s" / "local", tmp_path, tags, actors=3, env_id="connect4")
    assert not Path(doc["resources"][0]).is_absolute(), "kustomize refuses absolute resource paths"
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    objects = render(tmp_path)
    images = {
        c["image"]
        for o in objects
        if o["kind"] == "Deployment"
        for c in o["spec"]["template"]["spec"]["containers"]
        if "cartridge-" in c["image"]
    }
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
        yaml.safe_dump(overlay_kustomization(REPO_ROOT / "k8s" / "local", plain, tags, None, None))
    )
    assert len(render(plain)) == len(objects)


def test_tilt_gets_the_context_the_tiltfile_and_the_options_after_a_double_dash():
    assert tilt_args("up", "kind-cartridge", REPO_ROOT / "Tiltfile", None, None) == [
        "tilt",
        "up",
        "--context",
        "kind-cartridge",
        "--file",
        str(REPO_ROOT / "Tiltfile"),
    ]
    args = tilt_args("ci", "kind-cartridge", REPO_ROOT / "Tiltfile", 2, "tictactoe")
    assert args[:2] == ["tilt", "ci"] and args[args.index("--") :] == ["--", "--actors", "2", "--env-id", "tictactoe"]


def deployment(generation: int, observed: int, replicas: int, updated: int, ready: int) -> client.V1Deployment:
    spec = client.V1DeploymentSpec(
        replicas=replicas, selector=client.V1LabelSelector(), template=client.V1PodTemplateSpec()
    )
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
    job = client.V1Job(
        metadata=client.V1ObjectMeta(name="minio-create-bucket", generation=1),
        spec=client.V1JobSpec(template=client.V1PodTemplateSpec(), completions=1),
        status=client.V1JobStatus(succeeded=None),
    )
    assert not workload_status("Job", job).healthy
    job.status.succeeded = 1
    assert workload_status("Job", job).healthy


def test_down_deletes_the_namespace_and_with_all_the_cluster_and_its_containers(monkeypatch):
    # cloud-provider-kind and the registry are containers with their own Docker tests (test_addons, test_registry)
    removed: list[str] = []
    monkeypatch.setattr(KindRuntime, "delete_containers", lambda self, registry, refused: removed.append(registry))
    kind = FakeKind()
    ClusterController(kind).apply(ClusterSpec())  # devtools creates it
    KindRuntime(KindOptions(repo_root=REPO_ROOT), run=kind).down()
    assert "kubectl --context kind-cartridge delete namespace cartridge --ignore-not-found --wait" in kind.commands()
    assert kind.exists and removed == [False], "down stops cloud-provider-kind but keeps the registry"
    KindRuntime(KindOptions(repo_root=REPO_ROOT), run=kind).down(everything=True)
    assert not kind.exists and "kind delete cluster --name cartridge" in kind.commands()
    assert removed == [False, True]
    absent = FakeKind(exists=False)
    KindRuntime(KindOptions(repo_root=REPO_ROOT), run=absent).down()
    assert not [c for c in absent.commands() if "delete" in c]


class FakeCluster:
    """kubectl against a namespace that keeps what was applied and refuses, as the API server does, an update that
    changes an immutable field (tests/k8s/immutable.py); the real kubectl renders kustomizations. Jobs it creates
    have succeeded."""

    def __init__(self, context: str = "kind-cartridge") -> None:
        self.prefix = ["kubectl", "--context", context]
        self.objects: dict[tuple[str, str, str], dict] = {}
        self.deleted: list[list[str]] = []

    def __call__(self, args, *, input=None, timeout=600):
        args = list(args)
        assert args[:3] == self.prefix, args
        verb = args[3:]
        out = ""
        if verb[0] == "kustomize":
            out = render_text(Path(verb[1]))
        elif verb[:2] == ["apply", "-k"]:  # how d5ffe15 applied
            self.apply(render_text(Path(verb[2])))
        elif verb[:3] == ["apply", "-f", "-"]:
            self.apply(input)
        elif verb == ["-n", "cartridge", "get", "jobs", "-o", "json"]:
            out = json.dumps({"items": [o for (kind, _, _), o in self.objects.items() if kind == "Job"]})
        elif verb[:4] == ["-n", "cartridge", "delete", "job"]:
            names = [a for a in verb[4:] if not a.startswith("-")]
            self.deleted.append(names)
            self.objects = {k: o for k, o in self.objects.items() if not (k[0] == "Job" and k[2] in names)}
        else:
            raise AssertionError(f"unexpected kubectl call: {verb}")
        return subprocess.CompletedProcess(args, 0, out, "")

    def apply(self, manifests: str) -> None:
        refused = []
        for obj in (d for d in yaml.safe_load_all(manifests) if d):
            live = self.objects.get(key(obj))
            if live is not None and refused_changes(live, obj):
                refused.append(
                    f'The {obj["kind"]} "{obj["metadata"]["name"]}" is invalid: '
                    f"{refused_changes(live, obj)[0]}: field is immutable"
                )
                continue
            stored = json.loads(json.dumps(obj))
            stored["metadata"].setdefault("annotations", {})[LAST_APPLIED] = json.dumps(obj)
            if obj["kind"] == "Job":
                stored["status"] = {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}
            self.objects[key(obj)] = stored
        if refused:  # kubectl applies the rest, then exits 1 with the errors
            raise DevtoolsError(f"`kubectl apply` failed: {refused[-1]}", "")

    def image_of(self, job: str) -> str:
        return self.objects["Job", "cartridge", job]["spec"]["template"]["spec"]["containers"][0]["image"]


def render_text(directory: Path) -> str:
    result = subprocess.run(["kubectl", "kustomize", str(directory)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def deploy(monkeypatch):
    """deploy_once(tag) of a KindRuntime on a FakeCluster: the images "built" with ``tag``, no rollout wait."""
    cluster = FakeCluster()
    runtime = KindRuntime(KindOptions(repo_root=REPO_ROOT), run=cluster)
    monkeypatch.setattr(KindRuntime, "wait_for_rollouts", lambda self: [])
    monkeypatch.setattr(KindRuntime, "gateway_url", lambda self, wait=0: None)

    def deploy_once(tag: str) -> FakeCluster:
        built = [
            BuiltImage(name, f"localhost:5001/cartridge-{name}:{tag}", tag, "sha256:0", 1.0) for name in COMPONENTS
        ]
        monkeypatch.setattr("devtools.kind.images.build_images", lambda **kwargs: built)
        runtime.deploy_once()
        return cluster

    return deploy_once


def test_a_re_deploy_with_new_tags_replaces_the_set_up_job_whose_template_changed(deploy):
    deploy("dev-1")
    cluster = deploy("dev-2")  # d5ffe15: The Job "postgres-setup" is invalid: spec.template: field is immutable
    assert cluster.image_of("postgres-setup") == "localhost:5001/cartridge-web:dev-2"
    assert cluster.deleted == [["postgres-setup"]], "only the Job whose template changed is run again"
    deploy("dev-2")
    assert cluster.deleted == [["postgres-setup"]], "a deploy that changes nothing replaces nothing"


def test_a_no_tilt_deploy_with_another_cluster_and_registry_pushes_and_pulls_there(monkeypatch):
    """`devtools up --runtime kind --no-tilt --cluster two --registry-port 5002`: the images are built for and
    pushed to localhost:5002, and the applied workloads (in the context kind-two) pull them from there."""
    cluster = FakeCluster(context="kind-two")
    spec = ClusterSpec.named(KindNames("two", "reg-two", 5002))
    runtime = KindRuntime(KindOptions(repo_root=REPO_ROOT, cluster=spec), run=cluster)
    monkeypatch.setattr(KindRuntime, "wait_for_rollouts", lambda self: [])
    monkeypatch.setattr(KindRuntime, "gateway_url", lambda self, wait=0: None)
    asked: dict = {}

    def build_images(**kwargs):
        asked.update(kwargs)
        return [BuiltImage(c, f"{kwargs['registry']}/cartridge-{c}:t1", "t1", "sha256:0", 1.0) for c in COMPONENTS]

    monkeypatch.setattr("devtools.kind.images.build_images", build_images)
    runtime.deploy_once()
    assert asked["registry"] == "localhost:5002" and asked["push"] is True
    pods = [
        o["spec"]["template"]["spec"] for (kind, _, _), o in cluster.objects.items() if kind in ("Deployment", "Job")
    ]
    ours = {c["image"] for pod in pods for c in pod["containers"] if "/cartridge-" in c["image"]}
    assert ours == {f"localhost:5002/cartridge-{c}:t1" for c in COMPONENTS}


def live_job(name: str, spec: dict | None, failed: bool = False) -> dict:
    annotations = {LAST_APPLIED: json.dumps({"kind": "Job", "metadata": {"name": name}, "spec": spec})} if spec else {}
    conditions = [{"type": "Failed", "status": "True"}] if failed else [{"type": "Complete", "status": "True"}]
    return {"metadata": {"name": name, "annotations": annotations}, "status": {"conditions": conditions}}


def test_jobs_made_by_tilt_and_failed_jobs_are_replaced_too():
    spec = {"template": {"spec": {"containers": [{"image": "web:1"}]}}}
    rendered = [{"kind": "Job", "metadata": {"name": n}, "spec": spec} for n in ("a", "b", "c")]
    live = [
        live_job("a", spec),  # applied by devtools, unchanged, succeeded: kept
        live_job("b", None),  # made by Tilt (no record of a kubectl apply): its template is not known to match
        live_job("c", spec, failed=True),  # out of retries: run it again
        live_job("gone", None),  # not in the manifests any more: not ours to touch here
    ]
    assert jobs_to_replace(live, rendered) == ["b", "c"]


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
        KindRuntime(KindOptions(repo_root=REPO_ROOT), run=kind).down(everything=True)
    assert "did not create the kind cluster cartridge" in err.value.message and "kind delete cluster" in err.value.hint
    assert kind.exists and handled == [True]
    assert any("delete namespace cartridge" in c for c in kind.commands())


def test_up_timeout_stops_a_tilt_ci_that_is_still_deploying_and_names_the_bound(tmp_path, monkeypatch):
    """`up --timeout` bounds `tilt ci` as a process (its own --timeout loses to ci_settings): past the bound, Tilt
    gets Ctrl-C and the error names the --timeout as given, not the time that was left when Tilt started."""
    from devtools.kind.runtime import KindOptions
    from devtools.wait import WaitTimeout, deadline

    stopped = tmp_path / "tilt-stopped"
    tilt = tmp_path / "tilt"
    tilt.write_text(f"#!/bin/sh\ntrap 'touch {stopped}; exit 130' INT\nwhile :; do sleep 0.05; done\n")
    tilt.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    runtime = KindRuntime(KindOptions(repo_root=REPO_ROOT))
    with pytest.raises(WaitTimeout) as raised, deadline(0.6):
        time.sleep(0.3)  # a step before Tilt used part of the bound
        runtime.run_tilt("ci")
    assert raised.value.deadline == 0.6
    assert raised.value.message == "`tilt ci` did not become ready within 1 s (still deploying)"
    assert stopped.exists(), "Tilt was stopped as by Ctrl-C"


def test_up_monitoring_hands_tilt_the_setting_and_prints_where_grafana_and_prometheus_are(tmp_path, monkeypatch):
    """`devtools up --runtime kind --monitoring`: Tilt (a stand-in on PATH that records its arguments) gets
    --monitoring=true after `--`, the Tiltfile's bool setting (tests/test_tiltfile.py evaluates what it does with it),
    and the URLs of its port-forwards are printed before Tilt takes the terminal."""
    recorded = tmp_path / "tilt-args"
    tilt = tmp_path / "tilt"
    tilt.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {recorded}\n')
    tilt.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    heard: list = []
    KindRuntime(KindOptions(repo_root=REPO_ROOT, monitoring=True), heard.append).run_tilt("up")
    args = recorded.read_text().splitlines()
    assert args[args.index("--") :] == ["--", "--monitoring=true"]
    printed = " ".join(str(m) for m in heard)
    assert "Grafana http://localhost:3000" in printed and "Prometheus http://localhost:9090" in printed
    KindRuntime(KindOptions(repo_root=REPO_ROOT), heard.append).run_tilt("up")
    assert "--" not in recorded.read_text().splitlines(), "no setting without --monitoring"


def test_status_lists_grafana_and_prometheus_with_their_urls_and_how_to_reach_them_without_tilt(monkeypatch):
    from devtools.kind.runtime import WorkloadStatus

    running = [
        WorkloadStatus("web", "Deployment", 2, 2, "http://localhost:8080", updated=2),
        WorkloadStatus("prometheus", "Deployment", 1, 1, "http://localhost:9090", updated=1),
        WorkloadStatus("grafana", "Deployment", 1, 1, "http://localhost:3000", updated=1),
    ]
    monkeypatch.setattr(KindRuntime, "workloads", lambda self: running)
    monkeypatch.setattr(KindRuntime, "gateway_url", lambda self, wait=0: None)
    monkeypatch.setattr("devtools.http.probe_json", lambda url, timeout=2.0: None)
    view = KindRuntime(KindOptions(repo_root=REPO_ROOT)).view()
    assert ("grafana", "Deployment", "1/1", view.rows[2][3], "http://localhost:3000") == view.rows[2]
    assert "Grafana http://localhost:3000" in view.caption
    assert "kubectl --context kind-cartridge -n cartridge port-forward svc/grafana 3000" in view.caption
    monkeypatch.setattr(KindRuntime, "workloads", lambda self: running[:1])
    assert "Grafana" not in KindRuntime(KindOptions(repo_root=REPO_ROOT)).view().caption


def test_the_no_tilt_deploy_with_monitoring_applies_the_stack_overlay_with_the_pushed_tags(monkeypatch):
    cluster = FakeCluster()
    runtime = KindRuntime(KindOptions(repo_root=REPO_ROOT, monitoring=True), run=cluster)
    monkeypatch.setattr(KindRuntime, "wait_for_rollouts", lambda self: [])
    monkeypatch.setattr(KindRuntime, "gateway_url", lambda self, wait=0: None)
    built = [BuiltImage(c, f"localhost:5001/cartridge-{c}:t1", "t1", "sha256:0", 1.0) for c in COMPONENTS]
    monkeypatch.setattr("devtools.kind.images.build_images", lambda **kwargs: built)
    runtime.deploy_once()
    deployments = {name for (kind, _, name) in cluster.objects if kind == "Deployment"}
    assert {"prometheus", "grafana", "web"} <= deployments
    assert not [key for key in cluster.objects if key[0] in ("PodMonitor", "ServiceMonitor", "PrometheusRule")]
    web = cluster.objects["Deployment", "cartridge", "web"]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert web == "localhost:5001/cartridge-web:t1"
