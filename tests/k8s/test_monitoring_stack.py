"""k8s/components/monitoring/stack, kind's own Prometheus and Grafana, as k8s/local-monitoring renders it (the overlay
`devtools up --runtime kind --monitoring` applies; test_manifests holds it to every rule the other overlays follow).

- One source of the alerts: the stack's rules file is the PrometheusRule's groups, and promtool accepts the rendered
  configuration and rules.
- Its Prometheus finds exactly the Python services' /metrics, once each, under the labels the operator gives: the
  rendered pods are run through prometheus.yml's relabelling as Prometheus runs it.
- Least privilege: only Prometheus holds an API token, to read pods in its own namespace; the NetworkPolicies allow
  the stack's flows and no other.
- Grafana: the data source the dashboards name, every dashboard devtools/dashboards.py writes, anonymous viewing,
  the admin's login from a Secret.
"""

from __future__ import annotations

import ipaddress
import json
import re
import subprocess

import pytest
import yaml

from devtools.alert_rules import HEADER, STACK_RULES, rule_groups, rules_file_text
from tests.k8s.render import by_kind, pod_spec, pod_template, render, unhashed, workloads
from tests.k8s.test_manifests import FLOWS, POD_SUBNET, allowed
from tests.promtool import promtool

OVERLAY = "k8s/local-monitoring"
PYTHON = ("actor", "arena", "trainer", "web")
STACK_FLOWS = {
    ("prometheus", "actor", 9100),
    ("prometheus", "arena", 9100),
    ("prometheus", "trainer", 9100),
    ("prometheus", "web", 8080),
    ("grafana", "prometheus", 9090),
}


def config_map(name: str) -> dict[str, str]:
    """The data of a generated ConfigMap, by its name without the content hash."""
    (found,) = [c for n, c in by_kind(render(OVERLAY), "ConfigMap").items() if unhashed(n) == name]
    return found["data"]


def prometheus_config() -> dict:
    return yaml.safe_load(config_map("prometheus-config")["prometheus.yml"])


# --- the alerts: one source ------------------------------------------------------------------------------------


def test_the_stack_s_rules_file_is_the_prometheus_rule_s_groups():
    """alerts.rules.yml is generated from operator/alerts.yaml; after an edit of the one, the other must be written
    again (`python -m devtools.alert_rules`), or this fails."""
    assert STACK_RULES.read_text() == rules_file_text(HEADER), "run `python -m devtools.alert_rules`"
    (rule,) = by_kind(render("k8s/staging"), "PrometheusRule").values()
    mounted = yaml.safe_load(config_map("prometheus-rules")["alerts.rules.yml"])
    assert mounted == {"groups": rule["spec"]["groups"]} == {"groups": rule_groups()}


def test_promtool_accepts_the_rendered_configuration_and_loads_every_alert(tmp_path):
    config = prometheus_config()
    (pattern,) = config["rule_files"]
    mounted_at = next(
        m["mountPath"]
        for m in pod_spec(workloads(render(OVERLAY))["prometheus"])["containers"][0]["volumeMounts"]
        if m["name"] == "rules"
    )
    assert pattern == f"{mounted_at}/*.yml"  # the rules ConfigMap's files are where the configuration looks
    (tmp_path / "rules").mkdir()
    for name, text in config_map("prometheus-rules").items():
        assert re.fullmatch(r".+\.yml", name), name
        (tmp_path / "rules" / name).write_text(text)
    config["rule_files"] = ["rules/*.yml"]  # the same files, where promtool runs
    # Debian's promtool (2.42, our machines') is built without Kubernetes discovery ("field kubernetes_sd_configs not
    # found"): the job is checked with a static target in its place, its relabelling and everything else as written.
    # What the discovery finds is the next test's.
    for job in config["scrape_configs"]:
        job.pop("kubernetes_sd_configs")
        job["static_configs"] = [{"targets": ["10.244.0.10:9100"]}]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [promtool(), "check", "config", "prometheus.yml"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    alerts = sum(1 for group in rule_groups() for rule in group["rules"] if "alert" in rule)
    assert f"SUCCESS: {alerts} rules found" in result.stdout


# --- discovery: prometheus.yml's relabelling over the rendered pods ---------------------------------------------


def sanitized(name: str) -> str:
    """Prometheus' label name for an annotation or label key (discovery/kubernetes: non-word characters to _)."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


def discovered(objects, namespace: str) -> list[dict[str, str]]:
    """What kubernetes_sd_configs (role: pod) finds: one target per declared container port of every running pod,
    with the meta labels Prometheus sets (discovery/kubernetes/pod.go), pods of ``namespace`` only."""
    found = []
    for index, (name, workload) in enumerate(workloads(objects).items()):
        if workload["kind"] == "CronJob" or workload["metadata"]["namespace"] != namespace:
            continue  # the match template has no pod of its own
        meta = pod_template(workload)["metadata"]
        for container in pod_spec(workload)["containers"]:
            for port in container.get("ports", []):
                labels = {
                    "__address__": f"10.244.0.{index + 10}:{port['containerPort']}",
                    "__metrics_path__": "/metrics",
                    "__meta_kubernetes_namespace": namespace,
                    "__meta_kubernetes_pod_name": f"{name}-0",
                    "__meta_kubernetes_pod_phase": "Running",
                }
                for key, value in meta.get("labels", {}).items():
                    labels[f"__meta_kubernetes_pod_label_{sanitized(key)}"] = value
                for key, value in meta.get("annotations", {}).items():
                    labels[f"__meta_kubernetes_pod_annotation_{sanitized(key)}"] = value
                found.append(labels)
    return found


def relabel(labels: dict[str, str], rules: list[dict]) -> dict[str, str] | None:
    """Prometheus' relabelling (model/relabel): the source labels joined by `;`, the regex anchored at both ends,
    keep/drop/replace; None when the target is dropped. Labels starting with __ go after relabelling, except
    __address__ and __metrics_path__, which say where to scrape."""
    labels = dict(labels)
    for rule in rules:
        value = ";".join(labels.get(s, "") for s in rule.get("source_labels", []))
        match = re.fullmatch(rule.get("regex", "(.*)"), value)
        action = rule.get("action", "replace")
        if action == "keep" and not match:
            return None
        if action == "drop" and match:
            return None
        if action == "replace" and match:
            replacement = re.sub(r"\$(\d)", r"\\\1", rule.get("replacement", "$1"))
            labels[rule["target_label"]] = match.expand(replacement)
    return {k: v for k, v in labels.items() if not k.startswith("__") or k in ("__address__", "__metrics_path__")}


def scrape_targets(objects, config: dict) -> list[dict[str, str]]:
    """The targets a Prometheus with ``config`` scrapes: discovered in the namespaces it names, relabelled, and those
    with identical labels merged (Prometheus keeps one target per label set)."""
    (job,) = config["scrape_configs"]
    (sd,) = job["kubernetes_sd_configs"]
    assert sd["role"] == "pod"
    targets = []
    for namespace in sd["namespaces"]["names"]:
        for labels in discovered(objects, namespace):
            kept = relabel(labels, job["relabel_configs"])
            if kept is not None and kept not in targets:
                targets.append(kept)
    return targets


def test_prometheus_scrapes_each_python_service_s_metrics_once_under_the_operator_s_labels():
    objects = render(OVERLAY)
    work = workloads(objects)
    expected = []
    for name in PYTHON:
        (container,) = pod_spec(work[name])["containers"]
        port = {p["name"]: p["containerPort"] for p in container["ports"]}["http"]
        expected.append((name, port, "/metrics", "cartridge", f"{name}-0"))
    found = []
    for target in scrape_targets(objects, prometheus_config()):
        address = re.fullmatch(r"10\.244\.0\.\d+:(\d+)", target["__address__"])  # the pod's IP, one port
        assert address, target["__address__"]
        found.append((target["job"], int(address[1]), target["__metrics_path__"], target["namespace"], target["pod"]))
    assert sorted(found) == sorted(expected)


def test_the_real_prometheus_relabels_the_discovered_pods_into_the_same_targets(tmp_path):
    """The relabelling above is a model; here the real Prometheus (Debian's, our machines') runs prometheus.yml's
    job over the same discovered pods, handed to it as file discovery with the Kubernetes meta labels (Debian's build
    has no Kubernetes discovery), and its targets API says what it would scrape. The pods' address is loopback and
    the interval an hour: the targets are listed at once, and nothing is scraped meanwhile."""
    from devtools.http import probe_json
    from testkit.support import free_port, wait_until
    from tests.promtool import prometheus_tool

    objects = render(OVERLAY)
    pods = [
        dict(labels, __address__="127.0.0.1:" + labels["__address__"].rsplit(":", 1)[1])
        for labels in discovered(objects, "cartridge")
    ]
    (tmp_path / "pods.json").write_text(
        json.dumps(
            [
                {"targets": [p["__address__"]], "labels": {k: v for k, v in p.items() if k != "__address__"}}
                for p in pods
            ]
        )
    )
    config = prometheus_config()
    config["global"]["scrape_interval"] = "1h"
    (job,) = config["scrape_configs"]
    job.pop("kubernetes_sd_configs")
    job["file_sd_configs"] = [{"files": [str(tmp_path / "pods.json")]}]
    config["rule_files"] = []
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    process = subprocess.Popen(
        [
            prometheus_tool("prometheus"),
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:

        def listed() -> dict | None:
            answer = probe_json(f"http://127.0.0.1:{port}/api/v1/targets?state=any")
            data = answer and answer["data"]
            return data if data and len(data["activeTargets"]) + len(data["droppedTargets"]) == len(pods) else None

        targets = wait_until(listed, 60, "Prometheus to list the discovered pods")
    finally:
        process.terminate()
        assert process.wait(timeout=30) == 0, process.stderr.read().decode()[-2000:]
    real = sorted(
        (t["labels"]["job"], t["scrapeUrl"], t["labels"]["namespace"], t["labels"]["pod"])
        for t in targets["activeTargets"]
    )
    modelled = sorted(
        (t["job"], f"http://{t['__address__']}{t['__metrics_path__']}", t["namespace"], t["pod"])
        for t in (relabel(p, job["relabel_configs"]) for p in pods)
        if t is not None
    )
    assert real == modelled and {r[0] for r in real} == set(PYTHON)


def test_the_discovery_check_sees_a_configuration_that_scrapes_every_pod():
    """It bites: without the keep rule on prometheus.io/scrape, postgres, MinIO and the rest are scraped too."""
    broken = prometheus_config()
    (job,) = broken["scrape_configs"]
    job["relabel_configs"] = [r for r in job["relabel_configs"] if r.get("action") != "keep"]
    assert {"postgres", "minio"} <= {t["job"] for t in scrape_targets(render(OVERLAY), broken)}


# --- least privilege ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", ("k8s/local", "k8s/prod", "k8s/staging", OVERLAY))
def test_only_prometheus_may_read_the_api_and_only_pods_in_its_own_namespace(overlay):
    """(k8s/base's match-launcher Role is bound by no manifest: it is for whoever launches matches.)"""
    objects = render(overlay)
    assert not by_kind(objects, "ClusterRole") and not by_kind(objects, "ClusterRoleBinding")
    bindings = by_kind(objects, "RoleBinding")
    if overlay != OVERLAY:
        assert bindings == {}
        return
    (binding,) = bindings.values()
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "prometheus", "namespace": "cartridge"}]
    role = by_kind(objects, "Role")[binding["roleRef"]["name"]]
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]
    assert role["metadata"]["namespace"] == binding["metadata"]["namespace"] == "cartridge"
    # Prometheus looks only where its Role lets it: the pods of its own namespace.
    (job,) = prometheus_config()["scrape_configs"]
    assert job["kubernetes_sd_configs"] == [{"role": "pod", "namespaces": {"names": ["cartridge"]}}]
    tokens = [n for n, w in workloads(objects).items() if pod_spec(w)["automountServiceAccountToken"]]
    assert tokens == ["prometheus"]


def test_network_policies_allow_exactly_the_data_flow_and_the_stack_s():
    objects = render(OVERLAY)
    work = workloads(objects)
    ports = {p["containerPort"] for w in work.values() for c in pod_spec(w)["containers"] for p in c.get("ports", [])}
    assert {9090, 3000} <= ports
    for source in work:
        for target in work:
            for port in ports:
                expected = (source, target, port) in FLOWS | STACK_FLOWS
                assert allowed(objects, source, target, port) == expected, (source, target, port)


def test_prometheus_reaches_the_api_server_and_no_pod_through_its_address_rules():
    (policy,) = [
        p
        for p in by_kind(render(OVERLAY), "NetworkPolicy").values()
        if p["spec"]["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}
        and "Egress" in p["spec"]["policyTypes"]
    ]
    by_port: dict[int, list] = {}
    for rule in policy["spec"]["egress"]:
        for peer in rule["to"]:
            if "ipBlock" in peer:
                for port in rule["ports"]:
                    by_port.setdefault(port["port"], []).append(ipaddress.ip_network(peer["ipBlock"]["cidr"]))
    assert set(by_port) == {443, 6443}
    assert ipaddress.ip_address("10.96.0.1") in by_port[443][0]  # the `kubernetes` Service on kind's serviceSubnet
    assert any(ipaddress.ip_address("172.18.0.2") in block for block in by_port[6443])  # kind's control plane
    assert not any(block.overlaps(POD_SUBNET) for blocks in by_port.values() for block in blocks)


# --- Grafana and the images ------------------------------------------------------------------------------------


def test_grafana_reads_the_stack_s_prometheus_as_the_datasource_the_dashboards_name():
    objects = render(OVERLAY)
    (source,) = yaml.safe_load(config_map("grafana-datasources")["datasources.yaml"])["datasources"]
    assert (source["uid"], source["type"], source["access"]) == ("prometheus", "prometheus", "proxy")
    service = by_kind(objects, "Service")["prometheus"]
    (port,) = service["spec"]["ports"]
    assert source["url"] == f"http://{service['metadata']['name']}:{port['port']}"
    grafana = pod_spec(workloads(objects)["grafana"])
    (container,) = grafana["containers"]
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in grafana["volumes"]}
    provisioned = volumes[mounts["/etc/grafana/provisioning/datasources"]]["configMap"]["name"]
    assert unhashed(provisioned) == "grafana-datasources"


def datasource_uids(node) -> set[str]:
    """Every datasource uid a dashboard's panels and targets name."""
    if isinstance(node, dict):
        found = {node["datasource"]["uid"]} if isinstance(node.get("datasource"), dict) else set()
        return found.union(*(datasource_uids(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(datasource_uids(v) for v in node))
    return set()


def test_grafana_provisions_every_dashboard_devtools_writes_reading_the_provisioned_datasource():
    from devtools.dashboards import DIRECTORY

    objects = render(OVERLAY)
    grafana = pod_spec(workloads(objects)["grafana"])
    (container,) = grafana["containers"]
    mounted = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v["configMap"]["name"] for v in grafana["volumes"] if "configMap" in v}
    providers = config_map(unhashed(volumes[mounted["/etc/grafana/provisioning/dashboards"]]))
    ((_, text),) = providers.items()
    (provider,) = yaml.safe_load(text)["providers"]
    assert provider["type"] == "file" and provider["allowUiUpdates"] is False
    boards = config_map(unhashed(volumes[mounted[provider["options"]["path"]]]))
    committed = {path.name: path.read_text() for path in DIRECTORY.glob("*.json")}
    assert committed and boards == committed  # every dashboard, as devtools/dashboards.py wrote it
    (source,) = yaml.safe_load(config_map("grafana-datasources")["datasources.yaml"])["datasources"]
    for name, board in boards.items():
        assert datasource_uids(json.loads(board)) == {source["uid"]}, name


def test_grafana_lets_people_look_without_a_login_and_takes_the_admin_s_from_a_secret():
    objects = render(OVERLAY)
    (container,) = pod_spec(workloads(objects)["grafana"])["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["GF_AUTH_ANONYMOUS_ENABLED"]["value"] == "true"
    assert env["GF_AUTH_ANONYMOUS_ORG_ROLE"]["value"] == "Viewer"  # looking, not editing
    secrets = {unhashed(n): s for n, s in by_kind(objects, "Secret").items()}
    for key in ("GF_SECURITY_ADMIN_USER", "GF_SECURITY_ADMIN_PASSWORD"):
        assert "value" not in env[key], f"{key} inline"
        ref = env[key]["valueFrom"]["secretKeyRef"]
        assert unhashed(ref["name"]) == "grafana-credentials" and ref["key"] in secrets["grafana-credentials"]["data"]


def test_the_stack_s_images_are_pinned_to_a_release():
    images = {n: pod_spec(w)["containers"][0]["image"] for n, w in workloads(render(OVERLAY)).items()}
    assert re.fullmatch(r"prom/prometheus:v\d+\.\d+\.\d+", images["prometheus"]), images["prometheus"]
    assert re.fullmatch(r"grafana/grafana:\d+\.\d+\.\d+", images["grafana"]), images["grafana"]
