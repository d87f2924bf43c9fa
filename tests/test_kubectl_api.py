"""Real kubectl, recorded API: every kubectl call devtools and the e2e suite make runs with the real kubectl
binary against a stand-in API server (tests/kube_api.py) that records each request, and the tests assert
the verb, resource and namespace each one reached. The argument order, the flags and the resolution of
`deployment/web` or `hpa` are kubectl's own; only the server is a stand-in.

Calls covered (grep kubectl in devtools/ and e2e/):
- devtools.kind.cluster: `get --raw /readyz`, `apply -f -` (the local-registry-hosting ConfigMap);
- devtools.kind.addons: `get crd|gatewayclass|apiservice NAME -o json`, `-n kube-system get deployment`,
  `-n cartridge get gateway`, `apply -f -` (metrics-server);
- devtools.kind.runtime: `apply -k` (k8s/local), `delete namespace`,
  and the Kubernetes client's workload lists (not kubectl, the same boundary);
- devtools.kind.logs: `-n cartridge logs -l app.kubernetes.io/name=C --prefix --all-containers --tail [-f]
  [--since] [--timestamps] [--previous]`;
- e2e.stacks: `get secrets`, `get pods -l`, `exec POD -- python -c`, `patch hpa`, `scale`, `rollout status`,
  `get hpa`, the failure artifacts (`get pods -o wide`, `get events`, `describe pods`, `get gateway,...`,
  `logs POD -c C [--previous]`) and `port-forward service/...`;
- e2e.chaos: `get pods -l`, `delete pod --force`, `logs POD`, `set env`, `rollout status`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from devtools.errors import DevtoolsError
from devtools.kind import addons
from devtools.kind.cluster import ClusterController, ClusterSpec
from devtools.kind.runtime import NAMESPACE, KindOptions, KindRuntime
from devtools.logs import LogLine, LogQuery
from devtools.paths import REPO_ROOT
from devtools.process import run_command
from devtools.progress import Done, Step
from devtools.timeflags import Since
from tests.devtools.kind.test_addons import COMPONENTS_YAML
from tests.devtools.kind.test_cluster import FakeKind
from tests.kube_api import FakeKubeAPI

KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="no kubectl binary on PATH, and this tier runs the real one")


def meta(name: str, namespace: str | None = None, **labels: str) -> dict:
    return {"name": name, **({"namespace": namespace} if namespace else {}), "labels": labels}


def pod(name: str, app: str, *containers: str, init: tuple[str, ...] = ()) -> dict:
    spec = {"containers": [{"name": c, "image": "x"} for c in containers or (app,)]}
    if init:
        spec["initContainers"] = [{"name": c, "image": "x"} for c in init]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta(name, NAMESPACE, **{"app.kubernetes.io/name": app}),
        "spec": spec,
        "status": {"phase": "Running", "containerStatuses": [{"name": app, "ready": True}]},
    }


def deployment(name: str, namespace: str = NAMESPACE, replicas: int = 1) -> dict:
    labels = {"app.kubernetes.io/name": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(name, namespace, **labels),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": name, "image": "x"}]}},
        },
        "status": {
            "observedGeneration": 1,
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
            "conditions": [{"type": "Available", "status": "True"}],
        },
    }


def established(kind: str, name: str, condition: str, namespace: str | None = None, **status) -> dict:
    api = {
        "CustomResourceDefinition": "apiextensions.k8s.io/v1",
        "GatewayClass": "gateway.networking.k8s.io/v1",
        "Gateway": "gateway.networking.k8s.io/v1",
        "APIService": "apiregistration.k8s.io/v1",
    }[kind]
    return {
        "apiVersion": api,
        "kind": kind,
        "metadata": meta(name, namespace),
        "status": {"conditions": [{"type": condition, "status": "True"}], **status},
    }


def base_configmap() -> dict:
    """The stack's own ConfigMap as k8s/base deploys it (the e2e suite reads the actors' settings from it)."""
    return yaml.safe_load((REPO_ROOT / "k8s" / "base" / "configmap.yaml").read_text())


def cluster_objects() -> list[dict]:
    """A running Cartridge stack with two actors, in namespace cartridge, and kind's system namespaces."""
    namespaces = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": meta(n)}
        for n in ("default", "kube-system", "kube-public", NAMESPACE)
    ]
    pods = [
        pod("actor-1", "actor"),
        pod("actor-2", "actor"),
        pod("trainer-1", "trainer"),
        pod("arena-1", "arena"),
        pod("web-1", "web"),
        pod("frontend-1", "frontend"),
        pod("postgres-0", "postgres", init=("init-perms",)),
        pod("minio-1", "minio", "minio", "console"),
        pod("prometheus-1", "prometheus"),  # `up --monitoring`'s
    ]
    deployed = ("actor", "trainer", "arena", "web", "frontend", "minio", "prometheus")
    workloads = [deployment(n, replicas=2 if n == "actor" else 1) for n in deployed]
    workloads.append({**deployment("postgres"), "kind": "StatefulSet"})
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta("actor", NAMESPACE),
        "spec": {"minReplicas": 2, "maxReplicas": 2, "scaleTargetRef": {"kind": "Deployment", "name": "actor"}},
        "status": {
            "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 42}}}]
        },
    }
    web = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta("web", NAMESPACE),
        "spec": {"selector": {"app.kubernetes.io/name": "web"}, "ports": [{"port": 8080, "targetPort": 8080}]},
    }
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta("postgres-credentials-abc", NAMESPACE),
        "data": {"POSTGRES_USER": "Y2FydHJpZGdl"},
    }
    provider = [established("CustomResourceDefinition", name, "Established") for name in addons.GATEWAY_CRDS]
    provider += [
        established("GatewayClass", addons.GATEWAY_CLASS, "Accepted"),
        established(
            "Gateway", "cartridge", "Programmed", NAMESPACE, addresses=[{"type": "IPAddress", "value": "172.18.0.5"}]
        ),
    ]
    config = base_configmap()
    config["metadata"]["namespace"] = NAMESPACE
    return [*namespaces, *pods, *workloads, hpa, web, secret, config, *provider]


# The current logs, and one previous log: the trainer restarted once.
LOGS = {
    (p, c): f"{p}/{c} says hello\n"
    for p, c in [
        ("actor-1", "actor"),
        ("actor-2", "actor"),
        ("trainer-1", "trainer"),
        ("arena-1", "arena"),
        ("web-1", "web"),
        ("frontend-1", "frontend"),
        ("postgres-0", "postgres"),
        ("postgres-0", "init-perms"),
        ("minio-1", "minio"),
        ("minio-1", "console"),
        ("prometheus-1", "prometheus"),
    ]
} | {("trainer-1", "trainer:previous"): "trainer-1 before its restart\n"}


# What metrics-server's controllers report once its objects are created.
READY = {
    ("deployments", "metrics-server"): deployment("metrics-server", "kube-system")["status"],
    ("apiservices", addons.METRICS_API): {"conditions": [{"type": "Available", "status": "True"}]},
}


@pytest.fixture
def api(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))  # devtools' record of its clusters: not the user's
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with FakeKubeAPI(cluster_objects(), logs=LOGS, controllers=READY) as server:
        monkeypatch.setenv("KUBECONFIG", str(server.kubeconfig(tmp_path / "kubeconfig")))
        yield server


def outside(api: FakeKubeAPI, namespace: str = NAMESPACE) -> list[str]:
    """The namespaced requests that went anywhere but ``namespace``."""
    from tests.kube_api import BY_PLURAL

    return [str(r) for r in api.calls() if BY_PLURAL.get(r.resource, (0,) * 5)[4] and r.namespace != namespace]


# --- e2e ---------------------------------------------------------------------------------------------------


@pytest.fixture
def stack(api, tmp_path, monkeypatch):
    pytest.importorskip("pytest_kind")
    from e2e.stacks import KindStack

    monkeypatch.chdir(tmp_path)  # pytest-kind makes its .pytest-kind/ directory in the working directory
    workdir = tmp_path / "stack"
    workdir.mkdir()
    api.kubeconfig(workdir / "kubeconfig")
    return KindStack(workdir, kind=Path("kind-is-not-called"), kubectl=Path(KUBECTL))


def test_exec_into_an_actor_looks_the_pod_up_in_the_stacks_namespace(api, stack):
    """Fault 4: `kubectl exec POD -- python -c ... -n cartridge` looked in namespace default."""
    assert stack.actor_pods() == ["actor-1", "actor-2"]
    api.requests.clear()
    with pytest.raises(subprocess.CalledProcessError):  # the stand-in refuses the upgrade, after the lookup
        stack.actor_model_versions()
    lookups = [(r.verb, r.namespace, r.name, r.subresource) for r in api.calls(resource="pods") if r.name]
    assert lookups[0] == ("get", NAMESPACE, "actor-1", None), f"kubectl looked the pod up as {lookups[0]}"
    assert ("connect", NAMESPACE, "actor-1", "exec") in lookups
    exec_call = next(r for r in api.calls("connect"))
    assert exec_call.query["container"] == "actor" and exec_call.query["stdout"] == "true"


def test_every_e2e_kubectl_call_reaches_the_stacks_namespace(api, stack):
    from e2e.chaos import KindChaos

    assert stack._secret("postgres-credentials", "POSTGRES_USER") == "cartridge"
    assert stack.actor_setting("VALUE_TARGET_MIX") == base_configmap()["data"]["VALUE_TARGET_MIX"]
    assert stack.actor_setting("NO_SUCH_SETTING") is None
    stack.scale_actors(2)
    assert stack.actor_cpu_utilization() == 42
    chaos = KindChaos(stack)
    assert chaos.unhealthy() == []
    assert chaos.committed() == set()  # the actors' logs hold no committed episodes here
    chaos.apply_bound()
    assert chaos.disrupt("trainer") == "kubectl delete pod trainer-1 --force"
    assert outside(api) == []
    seen = {(r.verb, r.resource, r.subresource) for r in api.calls()}
    assert {
        ("list", "secrets", None),
        ("get", "configmaps", None),
        ("patch", "horizontalpodautoscalers", None),
        ("patch", "deployments", "scale"),
        ("watch", "deployments", None),
        ("get", "pods", "log"),
        ("patch", "deployments", None),
        ("delete", "pods", None),
    } <= seen
    (deleted,) = api.calls("delete", "pods")
    assert deleted.name == "trainer-1"


def test_the_failure_artifacts_hold_every_containers_current_and_previous_log(api, stack, tmp_path):
    """Fault 11: the artifacts held the web, trainer and one actor pod's log, nothing of the arena or the
    frontend, and no previous log."""
    stack.collect(tmp_path / "artifacts")
    logs = tmp_path / "artifacts" / "logs"
    for (name, container), text in LOGS.items():
        container, previous, _ = container.partition(":previous")
        path = logs / f"{name}.{container}.{'previous.' if previous else ''}log"
        assert path.read_text() == text, f"{path.name} is missing or wrong"
    # A container without a previous one leaves no file (kubectl's "previous terminated container ... not found").
    assert not (logs / "web-1.web.previous.log").exists()
    assert sorted(p.name for p in logs.iterdir() if p.name.endswith(".previous.log")) == [
        "trainer-1.trainer.previous.log"
    ]
    for name in ("pods.txt", "events.txt", "describe-pods.txt", "routing-hpa.yaml"):
        assert not (tmp_path / "artifacts" / name).read_text().startswith("could not collect"), name
    assert outside(api) == []
    previous = [r for r in api.calls("get", "pods") if r.subresource == "log" and r.query.get("previous") == "true"]
    assert {r.name for r in previous} == {p for p, _ in LOGS}


def test_a_port_forward_finds_the_services_pod_in_the_stacks_namespace(api, stack):
    from e2e.stacks import PortForward

    forward = PortForward(Path(KUBECTL), stack.cluster.kubeconfig_path, NAMESPACE, "service/web", 8080)
    result = subprocess.run(forward.args, env=forward.env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "upgrad" in result.stderr  # it got as far as the stand-in lets it
    assert [(r.verb, r.resource, r.namespace, r.name) for r in api.calls()][:1] == [
        ("get", "services", NAMESPACE, "web")
    ]
    assert ("connect", NAMESPACE, "web-1") in {(r.verb, r.namespace, r.name) for r in api.calls("connect")}
    assert outside(api) == []


# --- devtools ----------------------------------------------------------------------------------------------


class KindWithRealKubectl(FakeKind):
    """kind and docker answered as by FakeKind (they cannot run here); kubectl is the real binary."""

    def __call__(self, args, *, input=None, timeout=600):
        if args[0] == "kubectl":
            self.calls.append((list(args), input))
            return run_command(args, input=input, timeout=timeout)
        return super().__call__(args, input=input, timeout=timeout)


def test_the_cluster_step_applies_the_registry_configmap_to_kube_public(api):
    kind = KindWithRealKubectl(exists=True)
    ClusterController(kind).apply(ClusterSpec())
    assert [str(r) for r in api.calls()] == [
        "get configmaps kube-public/local-registry-hosting",
        "get namespaces kube-public",
        "create configmaps kube-public/",
    ]
    assert any(r.resource == "/readyz" for r in api.requests)
    created = api.objects[("configmaps", "kube-public", "local-registry-hosting")]
    assert "localhost:5001" in created["data"]["localRegistryHosting.v1"]


def test_the_addons_are_read_where_they_live_and_metrics_server_goes_to_kube_system(api):
    kind = KindWithRealKubectl(exists=True)
    runtime = KindRuntime(KindOptions(repo_root=REPO_ROOT), run=kind)
    addons.install_addons(
        runtime.kubectl,
        "kind-cartridge",
        lambda: None,
        manifest=lambda: COMPONENTS_YAML,
        timeouts=addons.AddonTimeouts(crds=30, gateway_class=30, metrics_server=1),
        interval=0.05,
    )
    gets = {(r.resource, r.namespace, r.name) for r in api.calls("get")}
    assert {("customresourcedefinitions", None, name) for name in addons.GATEWAY_CRDS} <= gets
    assert ("gatewayclasses", None, addons.GATEWAY_CLASS) in gets
    assert ("deployments", "kube-system", "metrics-server") in gets
    assert ("apiservices", None, addons.METRICS_API) in gets
    created = {(r.resource, r.namespace) for r in api.calls("create")}
    assert created == {("serviceaccounts", "kube-system"), ("deployments", "kube-system"), ("apiservices", None)}
    assert runtime.gateway_url() == "http://172.18.0.5"
    assert api.calls("get", "gateways")[-1].namespace == NAMESPACE


def test_each_addon_is_a_step_and_each_workload_a_line_of_its_own_once_rolled_out(api):
    heard: list[str] = []
    runtime = KindRuntime(KindOptions(repo_root=REPO_ROOT), heard.append, run=KindWithRealKubectl(exists=True))
    addons.install_addons(
        runtime.kubectl,
        "kind-cartridge",
        lambda: None,
        heard.append,
        manifest=lambda: COMPONENTS_YAML,
        timeouts=addons.AddonTimeouts(crds=30, gateway_class=30, metrics_server=30),
        interval=0.05,
    )
    runtime.wait_for_rollouts()
    assert [m for m in heard if isinstance(m, Step)] == [
        "cloud-provider-kind: the Gateway API CRDs and the GatewayClass",
        f"metrics-server v{addons.METRICS_SERVER_VERSION} and the metrics API",
    ]
    assert sorted(m for m in heard if isinstance(m, Done)) == [
        "actor rolled out (2/2)",
        "arena rolled out (1/1)",
        "frontend rolled out (1/1)",
        "minio rolled out (1/1)",
        "postgres rolled out (1/1)",
        "prometheus rolled out (1/1)",
        "trainer rolled out (1/1)",
        "web rolled out (1/1)",
    ]


def test_the_no_tilt_apply_puts_every_namespaced_object_in_the_stacks_namespace(api):
    kind = KindWithRealKubectl(exists=True)
    KindRuntime(KindOptions(repo_root=REPO_ROOT, actors=2), run=kind).apply_overlay({"web": "t1", "actor": "t1"})
    created = api.calls("create")
    assert len(created) > 20 and outside(api) == []
    kinds = {r.resource for r in created + api.calls("patch")}  # the HPA and the Gateway were there already
    assert {"deployments", "statefulsets", "jobs", "horizontalpodautoscalers", "gateways", "httproutes"} <= kinds


def test_the_no_tilt_apply_with_monitoring_brings_prometheus_and_grafana_to_a_cluster_without_the_operator(api):
    """`devtools up --runtime kind --no-tilt --monitoring`: k8s/local-monitoring, applied by the real kubectl to an API
    server that, like kind's, serves no monitoring.coreos.com kinds. The operator's flavour would be refused there;
    the stack is applied whole, its Role and RoleBinding in the stack's namespace."""
    kind = KindWithRealKubectl(exists=True)
    runtime = KindRuntime(KindOptions(repo_root=REPO_ROOT, monitoring=True), run=kind)
    runtime.apply_overlay({"web": "t1", "actor": "t1"})
    assert outside(api) == []
    stored = set(api.objects)  # (resource, namespace, name)
    assert {("deployments", NAMESPACE, "prometheus"), ("deployments", NAMESPACE, "grafana")} <= stored
    assert {("roles", NAMESPACE, "prometheus"), ("rolebindings", NAMESPACE, "prometheus")} <= stored
    operator = subprocess.run(
        [KUBECTL, "kustomize", str(REPO_ROOT / "tests/k8s/overlays/monitoring")], capture_output=True, text=True
    ).stdout
    # kubectl finds no schema and no resource for monitoring.coreos.com/v1 (a real kind cluster: `no matches for kind
    # "PodMonitor"`; the stand-in's discovery lacks the group alike, and kubectl's validation stops first).
    with pytest.raises(DevtoolsError, match="apply` failed"):
        runtime.apply(operator)
    assert not [key for key in api.objects if key[0] in ("podmonitors", "servicemonitors", "prometheusrules")]


def test_logs_status_and_down_reach_the_stacks_namespace(api, monkeypatch):
    # down's containers are Docker's (test_ownership): this machine's engine is left alone here.
    monkeypatch.setattr(KindRuntime, "delete_containers", lambda self, registry, refused: None)
    kind = KindWithRealKubectl(exists=True)
    runtime = KindRuntime(KindOptions(repo_root=REPO_ROOT), run=kind)
    lines = list(runtime.logs(LogQuery(("web",), lines=5)).lines)
    assert lines == [LogLine("web", "web-1", "web-1/web says hello")]
    log = next(r for r in api.calls("get", "pods") if r.subresource == "log")
    assert (log.namespace, log.name, log.query["tailLines"]) == (NAMESPACE, "web-1", "5")
    assert {w.name for w in runtime.workloads()} == {"postgres", "minio", "trainer", "actor", "arena", "web"} | {
        "frontend",
        "prometheus",
    }
    assert outside(api) == []
    runtime.down()
    deleted = api.calls("delete")
    assert [(r.resource, r.name) for r in deleted] == [("namespaces", NAMESPACE)]


def log_requests(api: FakeKubeAPI) -> list:
    return [r for r in api.calls("get", "pods") if r.subresource == "log"]


def test_logs_show_every_pod_and_container_of_a_component_each_behind_its_name(api):
    runtime = KindRuntime(KindOptions(repo_root=REPO_ROOT), run=KindWithRealKubectl(exists=True))
    lines = list(runtime.logs(LogQuery(("actor", "minio"), lines=7)).lines)
    # Component after component; within one, kubectl reads its pods' and containers' logs in no fixed order.
    assert sorted((line.component, line.source, line.text) for line in lines) == [
        ("actor", "actor-1", "actor-1/actor says hello"),
        ("actor", "actor-2", "actor-2/actor says hello"),
        ("minio", "minio-1", "minio-1/minio says hello"),
        ("minio", "minio-1/console", "minio-1/console says hello"),
    ]
    pods = api.calls("list", "pods")
    assert [r.query["labelSelector"] for r in pods] == ["app.kubernetes.io/name=actor", "app.kubernetes.io/name=minio"]
    assert {(r.namespace, r.query["tailLines"]) for r in log_requests(api)} == {(NAMESPACE, "7")}
    assert outside(api) == []


def test_previous_shows_the_restarted_containers_log_and_the_others_say_they_have_none(api):
    runtime = KindRuntime(KindOptions(repo_root=REPO_ROOT), run=KindWithRealKubectl(exists=True))
    lines = list(runtime.logs(LogQuery(("trainer", "actor"), previous=True)).lines)
    assert lines[0] == LogLine("trainer", "trainer-1", "trainer-1 before its restart")
    # The actors never restarted: kubectl says so for each, and goes on (--ignore-errors), no exit 1 midway.
    assert [(line.source, "previous terminated container" in line.text) for line in lines[1:]] == [
        ("actor", True),
        ("actor", True),
    ]
    assert all(r.query["previous"] == "true" for r in log_requests(api))


def test_following_the_whole_stack_streams_every_component_at_once_since_a_time(api):
    runtime = KindRuntime(KindOptions(repo_root=REPO_ROOT), run=KindWithRealKubectl(exists=True))
    query = LogQuery(follow=True, since=Since.parse("5m"), timestamps=True)
    stream = runtime.logs(query)
    # The stand-in ends each stream after its text, so every kubectl exits and the follow ends by itself.
    sources = {line.source for line in stream.lines}
    assert sources == {
        "actor-1",
        "actor-2",
        "trainer-1",
        "arena-1",
        "web-1",
        "frontend-1",
        "postgres-0",
        "postgres-0/init-perms",
        "minio-1",
        "minio-1/console",
        "prometheus-1",
    }
    # Every workload the cluster runs, in WORKLOADS' order, then the others (here `up --monitoring`'s Prometheus).
    components = ["postgres", "minio", "trainer", "actor", "arena", "web", "frontend", "prometheus"]
    assert stream.components == components
    queries = [r.query for r in log_requests(api)]
    assert len(queries) == 11
    assert all((q["follow"], q["sinceSeconds"], q["timestamps"]) == ("true", "300", "true") for q in queries)
    assert outside(api) == []


def test_the_kubeconfig_in_the_environment_is_the_one_kubectl_reads(api):
    # The premise of the tier: nothing above reached a real cluster.
    out = subprocess.run(
        [KUBECTL, "config", "view", "--minify", "-o", "json"],
        capture_output=True,
        text=True,
        env={**os.environ},
        check=True,
    ).stdout
    assert json.loads(out)["clusters"][0]["cluster"]["server"] == api.url
