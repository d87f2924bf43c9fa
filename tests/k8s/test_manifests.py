"""k8s/: every overlay renders and validates strictly against the Kubernetes 1.32 schemas, follows
the hardening rules, and agrees with the code (environment, probes, ports, images)."""

from __future__ import annotations

import copy
import dataclasses
import ipaddress
import json
import re
import subprocess

import jsonschema
import kubernetes_validate
import pytest

from cartridge.settings import Settings
from devtools.paths import REPO_ROOT
from devtools.pins import GATEWAY_API_VERSION
from tests.k8s.render import SECRET_HASH, by_kind, pod_spec, pod_template, render, selects, unhashed, workloads

# k8s/staging is k8s/prod with the operator's monitoring; tests/k8s/overlays/monitoring is k8s/local with it (a
# test-only render); k8s/local-monitoring is k8s/local with kind's own Prometheus and Grafana.
OVERLAYS = ("k8s/local", "k8s/prod", "k8s/staging", "tests/k8s/overlays/monitoring", "k8s/local-monitoring")
PROD_SHAPED = ("k8s/prod", "k8s/staging")
# kubernetes-validate knows no CRDs: the Gateway API's are checked below, prometheus-operator's in
# tests/k8s/test_monitoring_component.py, each against our schemas of the pinned version.
CUSTOM_RESOURCE_GROUPS = ("gateway.networking.k8s.io/", "monitoring.coreos.com/")
POD_SUBNET = ipaddress.ip_network("10.244.0.0/16")  # kind's default podSubnet (v1alpha4 defaults)
APP = ("actor", "arena", "trainer", "web", "frontend")
PYTHON = ("actor", "arena", "trainer", "web")
MIGRATION_PLAN_RESOURCES = {  # the Cartridge2 migration plan's table (requests, limits)
    "web": ({"cpu": "100m", "memory": "128Mi"}, {"cpu": "500m", "memory": "256Mi"}),
    "frontend": ({"cpu": "50m", "memory": "64Mi"}, {"cpu": "100m", "memory": "128Mi"}),
    "actor": ({"cpu": "500m", "memory": "512Mi"}, {"cpu": "2000m", "memory": "1Gi"}),
    "trainer": ({"cpu": "1000m", "memory": "1Gi"}, {"cpu": "4000m", "memory": "4Gi"}),
}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_validates_strictly_against_kubernetes_1_32(overlay):
    objects = render(overlay)
    assert len(objects) > 30
    for obj in objects:
        if obj["apiVersion"].startswith(CUSTOM_RESOURCE_GROUPS):
            continue  # a CRD's kinds: checked against their own schemas
        try:
            kubernetes_validate.validate(obj, "1.32.0", strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{overlay}: {obj['kind']}/{obj['metadata']['name']}: {exc}")


def test_validation_really_rejects_a_broken_object():
    deployment = dict(workloads(render("k8s/local"))["web"])
    broken = {**deployment, "spec": {**deployment["spec"], "replicas": "two", "surprise": True}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, "1.32.0", strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_named_resources_exist(overlay):
    objects = render(overlay)
    names = {(o["kind"], o["metadata"]["name"]) for o in objects}
    expected = {
        ("Namespace", "cartridge"),
        ("ConfigMap", "cartridge-config"),
        ("StatefulSet", "postgres"),
        ("Service", "postgres"),
        ("Deployment", "minio"),
        ("PersistentVolumeClaim", "minio-data"),
        ("Service", "minio"),
        ("Job", "minio-create-bucket"),
        ("Job", "postgres-setup"),
        ("Deployment", "actor"),
        ("HorizontalPodAutoscaler", "actor"),
        ("Deployment", "arena"),
        ("Deployment", "trainer"),
        ("PersistentVolumeClaim", "trainer-checkpoints"),
        ("Deployment", "web"),
        ("Service", "web"),
        ("PodDisruptionBudget", "web"),
        ("Deployment", "frontend"),
        ("Service", "frontend"),
        ("Gateway", "cartridge"),
        ("HTTPRoute", "web"),
        ("HTTPRoute", "frontend"),
        ("NetworkPolicy", "default-deny"),
        ("NetworkPolicy", "gateway-ingress"),
    }
    assert expected <= names
    assert all(o["metadata"].get("namespace") == "cartridge" for o in objects if o["kind"] != "Namespace")


def test_local_secrets_come_from_a_generator_and_prod_ships_none():
    local = render("k8s/local")
    secrets = by_kind(local, "Secret")
    assert {unhashed(n) for n in secrets} == {"postgres-credentials", "minio-credentials", "match-credentials"} | {
        f"{w}-credentials" for w in PYTHON
    }
    assert all(SECRET_HASH.search(n) for n in secrets), "secretGenerator adds a content hash"
    assert by_kind(render("k8s/prod"), "Secret") == {}
    config = by_kind(local, "ConfigMap")["cartridge-config"]["data"]
    assert not any("PASSWORD" in k or "SECRET" in k for k in config), "credentials in a ConfigMap"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_workload_is_hardened(overlay):
    # A pod holds a Kubernetes API token only when a RoleBinding gives its ServiceAccount something to do there (the
    # kind stack's Prometheus; tests/k8s/test_monitoring_stack.py says what).
    bound = {s["name"] for b in by_kind(render(overlay), "RoleBinding").values() for s in b["subjects"]}
    for name, workload in workloads(render(overlay)).items():
        spec = pod_spec(workload)
        pod_sc = spec["securityContext"]
        assert pod_sc["runAsNonRoot"] is True and pod_sc["seccompProfile"]["type"] == "RuntimeDefault", name
        assert spec["automountServiceAccountToken"] is (spec["serviceAccountName"] in bound), name
        assert spec["serviceAccountName"] == name, f"{name} must run under its own ServiceAccount"
        for container in spec["containers"]:
            sc = container["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            assert set(container["resources"]) == {"requests", "limits"}, name
        labels = pod_template(workload)["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == name and "app.kubernetes.io/component" in labels, name
        assert workload["metadata"]["labels"]["app.kubernetes.io/part-of"] == "cartridge", name
        assert labels["app.kubernetes.io/part-of"] == "cartridge", f"{name}: pods lack the part-of label"
    accounts = by_kind(render(overlay), "ServiceAccount")
    assert set(workloads(render(overlay))) <= set(accounts)
    assert all(sa["automountServiceAccountToken"] is False for sa in accounts.values())


def test_python_services_run_as_uid_10001():
    for name in (*PYTHON, "frontend"):
        assert pod_spec(workloads(render("k8s/local"))[name])["securityContext"]["runAsUser"] == 10001


def test_resources_follow_the_migration_plan_table():
    base = workloads(render("k8s/prod"))
    for name, (requests, limits) in MIGRATION_PLAN_RESOURCES.items():
        resources = pod_spec(base[name])["containers"][0]["resources"]
        assert resources["requests"]["cpu"] == requests["cpu"], name
        assert resources["limits"]["cpu"] == limits["cpu"], name
        if name != "web":  # web's memory is raised on purpose (see web.yaml)
            assert resources["requests"]["memory"] == requests["memory"], name
            assert resources["limits"]["memory"] == limits["memory"], name


def test_shape_of_the_stateful_and_scaled_parts():
    objects = render("k8s/local")
    work = workloads(objects)
    postgres = work["postgres"]
    assert (
        postgres["spec"]["volumeClaimTemplates"]
        and by_kind(objects, "Service")["postgres"]["spec"]["clusterIP"] == "None"
    )
    assert "pg_isready" in " ".join(pod_spec(postgres)["containers"][0]["readinessProbe"]["exec"]["command"])
    trainer = work["trainer"]
    assert trainer["spec"]["replicas"] == 1 and trainer["spec"]["strategy"]["type"] == "Recreate"
    trainer_c = pod_spec(trainer)["containers"][0]
    assert trainer_c["startupProbe"]["httpGet"]["path"] == "/health"
    checkpoint_dir = {e["name"]: e.get("value") for e in trainer_c["env"]}["CHECKPOINT_DIR"]
    mounts = {m["mountPath"]: m["name"] for m in trainer_c["volumeMounts"]}
    volumes = {v["name"]: v for v in pod_spec(trainer)["volumes"]}
    mount = next(p for p in mounts if checkpoint_dir.startswith(p + "/"))
    assert volumes[mounts[mount]]["persistentVolumeClaim"]["claimName"] == "trainer-checkpoints"
    hpa = by_kind(objects, "HorizontalPodAutoscaler")["actor"]["spec"]
    assert hpa["scaleTargetRef"]["name"] == "actor"
    assert hpa["metrics"][0]["resource"]["target"]["averageUtilization"] == 70
    assert work["web"]["spec"]["replicas"] == 2
    budgets = by_kind(objects, "PodDisruptionBudget")
    for name in ("web", "frontend"):  # what serves people keeps a pod through voluntary disruptions
        assert budgets[name]["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": name}
    # One frontend replica on a laptop: a budget that forbade every eviction would block node drains.
    assert budgets["frontend"]["spec"]["maxUnavailable"] == 1 and "minAvailable" not in budgets["frontend"]["spec"]
    minio = pod_spec(work["minio"])["containers"][0]
    assert {p["containerPort"] for p in minio["ports"]} == {9000, 9001}


GATEWAY_SCHEMAS = REPO_ROOT / "k8s" / "schemas" / f"gateway-api-{GATEWAY_API_VERSION}"


def gateway_schema(kind: str) -> dict:
    return json.loads((GATEWAY_SCHEMAS / f"{kind.lower()}.json").read_text())


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_gateway_and_routes_validate_against_the_pinned_gateway_api_schemas(overlay):
    """The Gateway API version cloud-provider-kind installs (devtools/pins.json) is the one checked here;
    kubernetes-validate knows no CRDs, so these objects are validated against our JSON Schemas of it."""
    routing = [o for o in render(overlay) if o["apiVersion"].startswith("gateway.networking.k8s.io/")]
    routes = 3 if overlay in PROD_SHAPED else 2  # prod adds the HTTPS redirect
    assert sorted(o["kind"] for o in routing) == ["Gateway"] + ["HTTPRoute"] * routes
    for obj in routing:
        jsonschema.validate(obj, gateway_schema(obj["kind"]))


@pytest.mark.parametrize(
    ("kind", "name", "break_it"),
    [
        ("HTTPRoute", "web", lambda spec: spec["rules"][0]["matches"][0]["path"].update(value="api")),  # not absolute
        ("HTTPRoute", "web", lambda spec: spec["rules"][0]["backendRefs"][0].pop("port")),  # a Service needs a port
        ("HTTPRoute", "frontend", lambda spec: spec["rules"][0]["matches"][0]["path"].update(type="Prefix")),
        ("Gateway", "cartridge", lambda spec: spec["listeners"][0].update(port=0)),
        ("Gateway", "cartridge", lambda spec: spec.update(gatewayClassName="")),
        ("Gateway", "cartridge", lambda spec: spec["listeners"][0].update(allowedRoute={})),  # a typo
        ("HTTPRoute", "web", lambda spec: spec["rules"][0].update(filters=[{"type": "RequestRedirect"}])),
    ],
)
def test_the_gateway_schemas_refuse_a_broken_route_or_gateway(kind, name, break_it):
    obj = copy.deepcopy(by_kind(render("k8s/local"), kind)[name])
    jsonschema.validate(obj, gateway_schema(kind))
    break_it(obj["spec"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(obj, gateway_schema(kind))


def routes(objects) -> dict[tuple[str, str], str]:
    """(path type, path) -> backend Service, over every HTTPRoute attached to the Gateway `cartridge`."""
    table = {}
    for route in by_kind(objects, "HTTPRoute").values():
        assert [ref["name"] for ref in route["spec"]["parentRefs"]] == ["cartridge"]
        for rule in route["spec"]["rules"]:
            if "backendRefs" not in rule:
                continue  # a redirect
            (backend,) = rule["backendRefs"]
            for match in rule["matches"]:
                table[match["path"]["type"], match["path"]["value"]] = backend["name"]
    return table


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_routes_send_api_and_stats_to_web_and_the_rest_to_the_frontend(overlay):
    objects = render(overlay)
    assert routes(objects) == {
        ("PathPrefix", "/api"): "web",
        ("Exact", "/stats"): "web",
        ("PathPrefix", "/"): "frontend",
    }
    services = by_kind(objects, "Service")
    for route in by_kind(objects, "HTTPRoute").values():
        for ref in route["spec"]["rules"][0].get("backendRefs", []):
            assert ref["port"] in {p["port"] for p in services[ref["name"]]["spec"]["ports"]}, ref
    gateway = by_kind(objects, "Gateway")["cartridge"]["spec"]
    listener = gateway["listeners"][0]
    assert (listener["name"], listener["protocol"], listener["port"]) == ("http", "HTTP", 80)
    assert not by_kind(objects, "Ingress"), "routing is the Gateway's: no Ingress"


def test_prod_serves_https_for_one_host_with_a_managed_certificate_and_redirects_http():
    objects = render("k8s/prod")
    gateway = by_kind(objects, "Gateway")["cartridge"]
    listeners = {lst["name"]: lst for lst in gateway["spec"]["listeners"]}
    https = listeners["https"]
    assert (https["protocol"], https["port"], https["tls"]["mode"]) == ("HTTPS", 443, "Terminate")
    assert https["tls"]["certificateRefs"] == [{"name": "cartridge-tls"}]
    assert https["hostname"] == listeners["http"]["hostname"] != ""
    assert gateway["metadata"]["annotations"]["cert-manager.io/cluster-issuer"]
    routes = by_kind(objects, "HTTPRoute")
    for name in ("web", "frontend"):  # the application only over HTTPS
        assert [ref.get("sectionName") for ref in routes[name]["spec"]["parentRefs"]] == ["https"]
    (redirect,) = [r for r in routes.values() if r["spec"]["parentRefs"][0].get("sectionName") == "http"]
    (rule,) = redirect["spec"]["rules"]
    assert rule["filters"] == [{"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 301}}]
    assert "backendRefs" not in rule


def test_each_overlay_names_its_gateway_class():
    assert by_kind(render("k8s/local"), "Gateway")["cartridge"]["spec"]["gatewayClassName"] == "cloud-provider-kind"
    assert by_kind(render("k8s/prod"), "Gateway")["cartridge"]["spec"]["gatewayClassName"] == "eg"


def test_ingress_nginx_appears_nowhere():
    """ingress-nginx is retired (no releases or fixes since March 2026): not in manifests, code or workflows."""
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    hits = [
        path
        for path in tracked
        if path.endswith((".py", ".yaml", ".yml", ".json", ".md", ".sh", "Tiltfile"))
        and path != "tests/k8s/test_manifests.py"
        and (REPO_ROOT / path).is_file()  # a file deleted in the working tree but not yet in the index
        and "ingress-nginx" in (REPO_ROOT / path).read_text(errors="ignore")
    ]
    assert hits == []


# --- network policies ------------------------------------------------------------------------


def allowed(objects, source: str, target: str, port: int) -> bool:
    """Does the policy set allow pod `source` to open `target`:`port` (both directions checked)?"""
    policies = by_kind(objects, "NetworkPolicy").values()
    labels = {
        name: pod_spec(w)["containers"] and pod_template(w)["metadata"]["labels"]
        for name, w in workloads(objects).items()
    }

    own_namespace = {"kubernetes.io/metadata.name": "cartridge"}

    def peer_selects(peer, name):
        """Kubernetes' reading of one peer: an ipBlock holds pods' IPs if it overlaps the pod network; a
        namespaceSelector must select
        our namespace ({} selects all); a podSelector ({} selects all) must select the pod."""
        if "ipBlock" in peer:  # it may hold a pod's IP when it overlaps kind's pod network
            return ipaddress.ip_network(peer["ipBlock"]["cidr"]).overlaps(POD_SUBNET)
        if "namespaceSelector" in peer and not selects(peer["namespaceSelector"], own_namespace):
            return False
        return selects(peer.get("podSelector", {}), labels[name])

    def peer_ok(peers, name):
        return not peers or any(peer_selects(p, name) for p in peers)  # no from/to at all: every peer

    def ports_ok(rule):
        return any(p["port"] == port for p in rule.get("ports", [])) if rule.get("ports") else True

    egress = any(
        selects(p["spec"]["podSelector"], labels[source])
        and any(peer_ok(rule.get("to", []), target) and ports_ok(rule) for rule in p["spec"].get("egress", []))
        for p in policies
        if "Egress" in p["spec"]["policyTypes"]
    )
    ingress = any(
        selects(p["spec"]["podSelector"], labels[target])
        and any(peer_ok(rule.get("from", []), source) and ports_ok(rule) for rule in p["spec"].get("ingress", []))
        for p in policies
        if "Ingress" in p["spec"]["policyTypes"]
    )
    return egress and ingress


FLOWS = {
    ("actor", "postgres", 5432),
    ("trainer", "postgres", 5432),
    ("web", "postgres", 5432),
    ("actor", "minio", 9000),
    ("trainer", "minio", 9000),
    ("web", "minio", 9000),
    ("arena", "postgres", 5432),
    ("arena", "minio", 9000),
    ("minio-create-bucket", "minio", 9000),
    ("match", "minio", 9000),  # an on-demand match reads models, and reaches nothing else
    ("postgres-setup", "postgres", 5432),
    ("frontend", "web", 8080),
}


def test_network_policies_allow_exactly_the_data_flow():
    objects = render("k8s/local")
    default = by_kind(objects, "NetworkPolicy")["default-deny"]["spec"]
    assert default == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    names = list(workloads(objects))
    # Every port a container listens on, read from the manifests, and each allowed flow's port among them.
    ports = {
        p["containerPort"]
        for w in workloads(objects).values()
        for c in pod_spec(w)["containers"]
        for p in c.get("ports", [])
    }
    for _, target, port in FLOWS:
        assert port in {
            p["containerPort"] for c in pod_spec(workloads(objects)[target])["containers"] for p in c.get("ports", [])
        }, (target, port)
    for source in names:
        for target in names:
            for port in ports:
                expected = (source, target, port) in FLOWS
                assert allowed(objects, source, target, port) == expected, (source, target, port)


@pytest.mark.parametrize(
    "too_broad",
    [{}, {"from": []}, {"from": [{"namespaceSelector": {}}]}, {"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}],
)
def test_the_flow_check_really_catches_a_policy_that_allows_too_much(too_broad):
    import copy

    objects = copy.deepcopy(render("k8s/local"))
    assert not allowed(objects, "frontend", "postgres", 5432)
    policies = {o["metadata"]["name"]: o for o in objects if o["kind"] == "NetworkPolicy"}
    policies["postgres-ingress"]["spec"]["ingress"].append(too_broad)  # Kubernetes: "from anywhere"
    policies["frontend-egress"]["spec"]["egress"].append({})  # and the frontend may send anywhere
    assert allowed(objects, "frontend", "postgres", 5432), too_broad


def test_only_the_gateway_proxies_reach_web_and_frontend_from_outside_and_everyone_reaches_dns():
    local = by_kind(render("k8s/local"), "NetworkPolicy")
    prod = by_kind(render("k8s/prod"), "NetworkPolicy")
    for policies in (local, prod):
        spec = policies["gateway-ingress"]["spec"]
        assert selects(spec["podSelector"], {"app.kubernetes.io/name": "web"})
        assert selects(spec["podSelector"], {"app.kubernetes.io/name": "frontend"})
        assert not selects(spec["podSelector"], {"app.kubernetes.io/name": "postgres"})
        assert [p["port"] for rule in spec["ingress"] for p in rule["ports"]] == [8080]
    # kind: cloud-provider-kind's Envoy and the nodes are on the kind Docker network, never in the pod network.
    blocks = [
        ipaddress.ip_network(p["ipBlock"]["cidr"])
        for r in local["gateway-ingress"]["spec"]["ingress"]
        for p in r["from"]
    ]
    assert blocks and not any(block.overlaps(POD_SUBNET) for block in blocks)
    assert any(ipaddress.ip_network("172.18.0.0/16").subnet_of(block) for block in blocks)  # kind's usual network
    # prod: Envoy Gateway's proxies, by namespace.
    peers = [p for r in prod["gateway-ingress"]["spec"]["ingress"] for p in r["from"]]
    assert peers == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "envoy-gateway-system"}}}]
    dns = local["allow-dns-egress"]["spec"]
    assert dns["podSelector"] == {} and {p["port"] for p in dns["egress"][0]["ports"]} == {53}


# --- cross-checks against the code -----------------------------------------------------------


def env_from(container: dict, objects) -> set[str]:
    """The variables a container's envFrom defines: the keys of its ConfigMaps and (local, generated) Secrets."""
    secrets = {unhashed(n): s for n, s in by_kind(objects, "Secret").items()}
    names = set()
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            names |= set(by_kind(objects, "ConfigMap")[source["configMapRef"]["name"]]["data"])
        else:
            names |= set(secrets[unhashed(source["secretRef"]["name"])]["data"])
    return names


def container_env(workload: dict, objects) -> set[str]:
    container = pod_spec(workload)["containers"][0]
    return {e["name"] for e in container.get("env", [])} | env_from(container, objects)


def test_every_variable_the_services_read_is_set_from_the_configmap_or_a_secret():
    objects = render("k8s/local")
    read = {f.name.upper() for f in dataclasses.fields(Settings)}
    documented = {
        "ENV_ID",
        "TRAINING_ITERATIONS",
        "EPISODES_PER_ITERATION",
        "MCTS_MAX_SIMS",
        "BATCH_SIZE",
        "REPLAY_URL",
        "MODEL_STORE_URL",
        "S3_ENDPOINT_URL",
        "ACTOR_MAX_EPISODES",
        "HTTP_PORT",
        "LOG_FORMAT",
        "LOG_LEVEL",
    }
    assert documented <= read
    # Read but deliberately left to the code default in the cluster: the bind address and the
    # per-pod actor id (set from the pod name), and the checkpoint dir (trainer only).
    per_workload = {"HTTP_HOST"}
    for name in PYTHON:
        env = container_env(workloads(objects)[name], objects)
        missing = read - env - per_workload - {"ACTOR_ID", "CHECKPOINT_DIR"}
        assert not missing, f"{name} does not set {sorted(missing)}"
        assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"} <= env, name
        unknown = (
            env
            - read
            - {
                "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY",
                "AWS_DEFAULT_REGION",
                "PGUSER",  # read by libpq under psycopg (REPLAY_URL names it too)
                "PGPASSWORD",
                "POSTGRES_HOST",
                "POSTGRES_PORT",
                "POSTGRES_DB",
                "MODELS_BUCKET",
            }
        )
        assert not unknown, f"{name} sets variables no code reads: {sorted(unknown)}"
    config = by_kind(objects, "ConfigMap")["cartridge-config"]["data"]
    assert Settings.from_env(config)  # every value in the ConfigMap parses (a bad one stops start-up)
    assert config["ENV_ID"] == "connect4" and config["LOG_FORMAT"] == "json"


def test_replay_url_expands_from_variables_defined_before_it_and_carries_no_password():
    objects = render("k8s/local")
    config = by_kind(objects, "ConfigMap")["cartridge-config"]["data"]
    for name in PYTHON:
        container = pod_spec(workloads(objects)[name])["containers"][0]
        env = container["env"]
        position = next(i for i, e in enumerate(env) if e["name"] == "REPLAY_URL")
        defined = env_from(container, objects) | {e["name"] for e in env[:position]}  # only earlier ones expand
        url = env[position]["value"]
        references = set(re.findall(r"\$\((\w+)\)", url))
        assert references and references <= defined, (name, references - defined)
        assert "PASSWORD" not in url, "the password belongs in PGPASSWORD, not in the URL"
        values = {**config, "PGUSER": "cartridge"}
        expanded = re.sub(r"\$\((\w+)\)", lambda m, values=values: values[m.group(1)], url)
        assert Settings.from_env({"REPLAY_URL": expanded}).replay_url == "postgresql://cartridge@postgres:5432/replay"
        assert "PGPASSWORD" in env_from(container, objects)


def test_secret_references_name_keys_the_local_secrets_have():
    objects = render("k8s/local")
    secrets = {unhashed(n): set(s["data"]) for n, s in by_kind(objects, "Secret").items()}
    for name, workload in workloads(objects).items():
        for container in pod_spec(workload)["containers"]:
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["key"] in secrets[unhashed(ref["name"])], (name, ref)


def served_by_serve_health() -> set[str]:
    """The paths the actor's and trainer's health server (cartridge.telemetry.serve_health) really answers 200."""
    import urllib.request

    from prometheus_client import CollectorRegistry

    from cartridge.telemetry import serve_health
    from testkit.support import free_port

    port = free_port()
    server = serve_health("127.0.0.1", port, CollectorRegistry())
    served = set()
    try:
        for path in ("/health", "/metrics", "/ready", "/healthz", "/"):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
                    if response.status == 200:
                        served.add(path)
            except OSError:
                pass
    finally:
        server.shutdown()
    assert {"/health", "/metrics"} <= served
    return served


def test_probes_hit_routes_the_services_really_serve():
    from cartridge_web.app import create_app

    routes = set(create_app(Settings.from_env({}, http_port=8080)).openapi()["paths"])  # routers are included lazily
    objects = render("k8s/local")
    health_paths = served_by_serve_health()
    for name, workload in workloads(objects).items():
        if workload["kind"] not in ("Job", "CronJob"):  # every long-running container says when it is ready and alive
            for container in pod_spec(workload)["containers"]:
                assert "readinessProbe" in container and "livenessProbe" in container, (name, container["name"])
    for name in PYTHON:
        container = pod_spec(workloads(objects)[name])["containers"][0]
        port = {p["name"]: p["containerPort"] for p in container["ports"]}["http"]
        assert {e["name"]: e.get("value") for e in container["env"]}["HTTP_PORT"] == str(port)
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            if probe in container:
                path = container[probe]["httpGet"]["path"]
                served = routes if name == "web" else health_paths
                assert path in served, (name, probe, path)
    frontend = pod_spec(workloads(objects)["frontend"])["containers"][0]
    nginx_conf = (REPO_ROOT / "services/frontend/nginx/default.conf.template").read_text()
    assert "location = /healthz" in nginx_conf and frontend["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert "listen 8080" in nginx_conf


def test_service_ports_match_container_ports():
    objects = render("k8s/local")
    work = workloads(objects)
    for name, service in by_kind(objects, "Service").items():
        target = work[service["spec"]["selector"]["app.kubernetes.io/name"]]
        container_ports = {p["name"]: p["containerPort"] for c in pod_spec(target)["containers"] for p in c["ports"]}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in container_ports, (name, port)
            assert container_ports[port["targetPort"]] == port["port"], (name, port)


def test_images_are_the_ones_tilt_and_devtools_build():
    """k8s/local names the repositories docker-bake.json defines (what Tilt and devtools build and push)."""
    from devtools.kind.bake import image_definitions

    built = {c: d.repository for c, d in image_definitions(environ={}).items()}
    for overlay, registry in (("k8s/local", "localhost:5001"), ("k8s/prod", "ghcr.io/cartridge-dev")):
        for name in APP:
            image = pod_spec(workloads(render(overlay))[name])["containers"][0]["image"]
            assert image.rsplit(":", 1)[0] == f"{registry}/cartridge-{name}"
            if overlay == "k8s/local":
                assert image.rsplit(":", 1)[0] == built[name]
