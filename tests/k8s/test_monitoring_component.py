"""k8s/components/monitoring/operator: the kustomize Component for a cluster with the prometheus-operator
(tests/k8s/overlays/monitoring is k8s/local with it, k8s/staging k8s/prod with it, and test_manifests holds both
renders to every rule the shipped overlays follow). Its prometheus-operator objects validate against our schemas of
v0.93.0, every Python service's /metrics port is scraped exactly once, the prometheus.io annotations (../scrape, which
the kind stack shares) name the port /metrics is on, and the scrapes get past default-deny. The kind stack
(k8s/components/monitoring/stack) has its own tests: tests/k8s/test_monitoring_stack.py."""

from __future__ import annotations

import copy
import json
from collections import Counter

import jsonschema
import pytest
import yaml

from devtools.paths import REPO_ROOT
from tests.k8s.render import by_kind, pod_spec, pod_template, render, selects, workloads
from tests.k8s.test_manifests import FLOWS, allowed

OVERLAY = "tests/k8s/overlays/monitoring"
MONITORED = (OVERLAY, "k8s/staging")  # every overlay that includes the operator component
KIND_STACK = "k8s/local-monitoring"  # k8s/local with the stack: scraped by annotations, no operator objects
ANNOTATED = (*MONITORED, KIND_STACK)  # every overlay that includes ../scrape
COMPONENTS = REPO_ROOT / "k8s" / "components" / "monitoring"
# prometheus-operator's CRDs as of v0.93.0 (jsonnet/prometheus-operator/*-crd.json, read at that release).
SCHEMAS = REPO_ROOT / "k8s" / "schemas" / "prometheus-operator-v0.93.0"
OPERATOR_API = "monitoring.coreos.com/"
PYTHON = ("actor", "arena", "trainer", "web")  # each serves /metrics on its `http` port (cartridge.telemetry, web)
MONITORING = {"kubernetes.io/metadata.name": "monitoring"}  # the namespace Prometheus runs in


def schema(kind: str) -> dict:
    return json.loads((SCHEMAS / f"{kind.lower()}.json").read_text())


def operator_objects(overlay: str) -> list[dict]:
    return [o for o in render(overlay) if o["apiVersion"].startswith(OPERATOR_API)]


def http_port(workload: dict) -> int:
    (container,) = pod_spec(workload)["containers"]
    return {p["name"]: p["containerPort"] for p in container["ports"]}["http"]


def test_it_is_a_component_and_only_an_overlay_that_includes_it_has_monitoring():
    for flavour in ("scrape", "operator", "stack"):
        assert yaml.safe_load((COMPONENTS / flavour / "kustomization.yaml").read_text())["kind"] == "Component"
    # kind has no prometheus-operator CRDs: `kubectl apply` of a PodMonitor there fails ("no matches for kind").
    assert operator_objects(KIND_STACK) == []
    for overlay in ("k8s/local", "k8s/prod"):
        assert operator_objects(overlay) == []
        annotated = [n for n, w in workloads(render(overlay)).items() if pod_template(w)["metadata"].get("annotations")]
        assert annotated == [], overlay
    for overlay in MONITORED:
        assert sorted(o["kind"] for o in operator_objects(overlay)) == [
            "PodMonitor",
            "PrometheusRule",
            "ServiceMonitor",
        ]


@pytest.mark.parametrize("overlay", MONITORED)
def test_the_operator_objects_validate_against_the_v0_93_0_schemas(overlay):
    for obj in operator_objects(overlay):
        jsonschema.validate(obj, schema(obj["kind"]))
        assert obj["metadata"]["namespace"] == "cartridge"
        assert obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == "cartridge"


@pytest.mark.parametrize(
    ("kind", "break_it"),
    [
        ("PodMonitor", lambda spec: spec["podMetricsEndpoints"][0].update(interval="30 seconds")),
        ("PodMonitor", lambda spec: spec["selector"]["matchExpressions"][0].update(operator="in")),
        ("PodMonitor", lambda spec: spec.pop("selector")),
        ("ServiceMonitor", lambda spec: spec.pop("endpoints")),
        ("ServiceMonitor", lambda spec: spec["endpoints"][0].update(targetPort=8080)),  # a field we do not use
        ("PrometheusRule", lambda spec: spec["groups"][0]["rules"][0].update(record="cartridge:episodes:rate")),
        ("PrometheusRule", lambda spec: spec["groups"][0]["rules"][0].update(fore="15m")),  # a typo of `for`
        ("PrometheusRule", lambda spec: spec["groups"][0]["rules"][0].update({"for": "15 min"})),
    ],
)
def test_the_schemas_refuse_a_broken_monitor_or_rule(kind, break_it):
    (obj,) = copy.deepcopy([o for o in operator_objects(OVERLAY) if o["kind"] == kind])
    jsonschema.validate(obj, schema(kind))
    break_it(obj["spec"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(obj, schema(kind))


def scrape_targets(objects) -> Counter:
    """(workload, port) -> how many monitors scrape it, read as the operator does: a PodMonitor's selector on the
    pods and its port by the container's port name; a ServiceMonitor's on Services, then the Service's pods and the
    port its named Service port targets."""
    work = workloads(objects)
    found: Counter = Counter()
    for monitor in by_kind(objects, "PodMonitor").values():
        for name, workload in work.items():
            if selects(monitor["spec"]["selector"], pod_template(workload)["metadata"]["labels"]):
                for endpoint in monitor["spec"]["podMetricsEndpoints"]:
                    assert endpoint["port"] == "http" and endpoint["path"] == "/metrics", name
                    found[(name, http_port(workload))] += 1
    for monitor in by_kind(objects, "ServiceMonitor").values():
        for service in by_kind(objects, "Service").values():
            if not selects(monitor["spec"]["selector"], service["metadata"]["labels"]):
                continue
            ports = {p["name"]: p for p in service["spec"]["ports"]}
            for name, workload in work.items():
                if selects({"matchLabels": service["spec"]["selector"]}, pod_template(workload)["metadata"]["labels"]):
                    for endpoint in monitor["spec"]["endpoints"]:
                        assert ports[endpoint["port"]]["targetPort"] == "http" and endpoint["path"] == "/metrics"
                        found[(name, http_port(workload))] += 1
    return found


@pytest.mark.parametrize("overlay", MONITORED)
def test_every_python_service_s_metrics_port_is_scraped_exactly_once(overlay):
    objects = render(overlay)
    work = workloads(objects)
    assert scrape_targets(objects) == {(name, http_port(work[name])): 1 for name in PYTHON}


def test_the_scrape_check_sees_a_service_scraped_twice():
    objects = copy.deepcopy(render(OVERLAY))
    (pods,) = by_kind(objects, "PodMonitor").values()
    pods["spec"]["selector"]["matchExpressions"][0]["values"].append("web")  # web: already its ServiceMonitor's
    assert scrape_targets(objects)[("web", 8080)] == 2


@pytest.mark.parametrize("overlay", MONITORED)
def test_each_monitor_names_its_job_after_a_label_its_targets_carry(overlay):
    objects = render(overlay)
    (pods,) = by_kind(objects, "PodMonitor").values()
    (web,) = by_kind(objects, "ServiceMonitor").values()
    for name in ("actor", "arena", "trainer"):
        assert pod_template(workloads(objects)[name])["metadata"]["labels"][pods["spec"]["jobLabel"]] == name
    assert by_kind(objects, "Service")["web"]["metadata"]["labels"][web["spec"]["jobLabel"]] == "web"


@pytest.mark.parametrize("overlay", ANNOTATED)
def test_the_scrape_annotations_name_the_port_and_path_of_metrics_on_exactly_the_python_services(overlay):
    work = workloads(render(overlay))
    for name, workload in work.items():
        annotations = pod_template(workload)["metadata"].get("annotations", {})
        if name in PYTHON:
            assert annotations["prometheus.io/scrape"] == "true", name
            assert annotations["prometheus.io/port"] == str(http_port(workload)), name
            assert annotations["prometheus.io/path"] == "/metrics", name
        else:
            assert "prometheus.io/scrape" not in annotations, name


@pytest.mark.parametrize("overlay", ANNOTATED)
def test_prometheus_in_the_monitoring_namespace_reaches_each_metrics_port_and_nothing_else(overlay):
    objects = render(overlay)
    work = workloads(objects)
    ingress = [
        (policy["spec"]["podSelector"], rule)
        for policy in by_kind(objects, "NetworkPolicy").values()
        for rule in policy["spec"].get("ingress", [])
    ]

    def from_monitoring(name: str, port: int) -> bool:
        """Kubernetes' reading: no `from` admits every peer, no `ports` every port; a peer without a
        namespaceSelector is in the policy's own namespace, not Prometheus'."""
        labels = pod_template(work[name])["metadata"]["labels"]
        return any(
            selects(pods, labels)
            and (
                not rule.get("from")
                or any("namespaceSelector" in p and selects(p["namespaceSelector"], MONITORING) for p in rule["from"])
            )
            and (not rule.get("ports") or any(p["port"] == port for p in rule["ports"]))
            for pods, rule in ingress
        )

    ports = {p["containerPort"] for w in work.values() for c in pod_spec(w)["containers"] for p in c.get("ports", [])}
    for name in work:
        for port in ports:
            expected = name in PYTHON and port == http_port(work[name])
            assert from_monitoring(name, port) == expected, (name, port)
    if overlay == KIND_STACK:
        return  # its own Prometheus and Grafana open flows inside the namespace: test_monitoring_stack.py
    # Inside the namespace the component opens nothing: the data flow is k8s/local's.
    for source in work:
        for target in work:
            for port in ports:
                assert allowed(objects, source, target, port) == ((source, target, port) in FLOWS), (source, target)
