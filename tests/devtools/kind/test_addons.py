"""The kind add-ons: cloud-provider-kind and metrics-server, and the waits before anything goes on top.

kubectl is the boundary (no cluster runs here): FakeCluster answers `kubectl get ... -o json` with the
objects a cluster would hold as its controllers come up, and records every command, so the tests see
the order of the plan and what a timeout says. The cloud-provider-kind container runs for real in the
Docker tier, with a stand-in image (the provider's own cannot be pulled here).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import uuid

import pytest
import yaml

from devtools.errors import DevtoolsError
from devtools.kind import addons
from devtools.pins import CLOUD_PROVIDER_KIND_IMAGE, METRICS_SERVER_IMAGE

FAST = addons.AddonTimeouts(crds=3, gateway_class=3, metrics_server=3)


def ready(kind: str, *conditions: str, **status) -> dict:
    return {
        "kind": kind,
        "spec": {"replicas": 1},
        "status": {"conditions": [{"type": c, "status": "True"} for c in conditions], **status},
    }


class FakeCluster:
    """What a kind cluster answers while cloud-provider-kind and metrics-server start: each object appears
    (and turns ready) only after a number of polls, and nothing before the provider has started."""

    def __init__(self, polls_until_ready: int = 2, never: tuple[str, ...] = ()) -> None:
        self.polls_until_ready, self.never = polls_until_ready, never
        self.commands: list[list[str]] = []
        self.applied: list[str] = []
        self.polls: dict[str, int] = {}
        self.provider_started = False

    def start_provider(self) -> None:
        self.commands.append(["docker", "run", "cloud-provider-kind"])
        self.provider_started = True

    def _object(self, key: str) -> dict | None:
        installed_by_provider = key.startswith(("crd", "gatewayclass"))
        if (installed_by_provider and not self.provider_started) or (
            not installed_by_provider and not self.applied
        ):  # metrics-server's objects exist once its manifest is applied
            return None
        self.polls[key] = self.polls.get(key, 0) + 1
        if key in self.never or self.polls[key] < self.polls_until_ready:
            return {"kind": key, "spec": {"replicas": 1}, "status": {}}
        if key.startswith("crd"):
            return ready("CustomResourceDefinition", "Established")
        if key.startswith("gatewayclass"):
            return ready("GatewayClass", "Accepted")
        if key.startswith("deployment"):
            return ready("Deployment", "Available", readyReplicas=1)
        return ready("APIService", "Available")

    def __call__(self, *args: str, namespace: str | None = None, input: str | None = None, timeout: float = 300):
        self.commands.append(["kubectl", *(["-n", namespace] if namespace else []), *args])
        if args[0] == "apply":
            self.applied.append(input or "")
            return subprocess.CompletedProcess(args, 0, "applied", "")
        words = [a for a in args[1:] if a not in ("-o", "json")]
        found = self._object(" ".join(words))
        if found is None:
            raise DevtoolsError(f"`kubectl get {' '.join(words)}` failed: NotFound", "")
        return subprocess.CompletedProcess(args, 0, json.dumps(found), "")


COMPONENTS_YAML = """\
apiVersion: v1
kind: ServiceAccount
metadata: {name: metrics-server, namespace: kube-system}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: metrics-server, namespace: kube-system}
spec:
  template:
    spec:
      containers:
        - name: metrics-server
          image: registry.k8s.io/metrics-server/metrics-server:v0.8.0
          args: [--cert-dir=/tmp, --secure-port=10250, --kubelet-use-node-status-port, --metric-resolution=15s]
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1beta1.metrics.k8s.io}
"""


def install(cluster: FakeCluster, timeouts: addons.AddonTimeouts = FAST, manifest=lambda: COMPONENTS_YAML) -> None:
    """install_addons on ``cluster``; ``manifest=None``: the release's, through the network boundary."""
    given = {"manifest": manifest} if manifest else {}
    addons.install_addons(cluster, "kind-cartridge", cluster.start_provider, timeouts=timeouts, interval=0.01, **given)


def test_nothing_is_applied_before_the_crds_are_established_and_the_gateway_class_is_accepted():
    cluster = FakeCluster(polls_until_ready=3)
    install(cluster)
    commands = [" ".join(c) for c in cluster.commands]
    started = commands.index("docker run cloud-provider-kind")
    first_apply = next(i for i, c in enumerate(commands) if c.startswith("kubectl apply"))
    crds_ready = max(i for i, c in enumerate(commands) if "crd" in c)
    accepted = max(i for i, c in enumerate(commands) if "gatewayclass" in c)
    assert started < crds_ready < accepted < first_apply
    # Every Gateway API CRD the routes need was polled until Established.
    assert {name for c in cluster.commands for name in c if name in addons.GATEWAY_CRDS} == set(addons.GATEWAY_CRDS)
    # metrics-server is awaited (pods Ready, then the metrics API) after its manifest is applied.
    tail = commands[first_apply:]
    assert any("deployment metrics-server" in c for c in tail) and any(addons.METRICS_API in c for c in tail)
    assert tail.index(next(c for c in tail if addons.METRICS_API in c)) > 0


@pytest.mark.parametrize(
    ("never", "what", "inspect"),
    [
        (
            "crd gatewayclasses.gateway.networking.k8s.io",
            "the Gateway API CRDs",
            "kubectl --context kind-cartridge get crd",
        ),
        (
            "gatewayclass cloud-provider-kind",
            "GatewayClass cloud-provider-kind",
            "kubectl --context kind-cartridge describe gatewayclass cloud-provider-kind",
        ),
        (
            "deployment metrics-server",
            "metrics-server",
            "kubectl --context kind-cartridge -n kube-system describe deployment metrics-server",
        ),
        (
            "apiservice v1beta1.metrics.k8s.io",
            "the metrics API",
            "kubectl --context kind-cartridge describe apiservice v1beta1.metrics.k8s.io",
        ),
    ],
)
def test_a_wait_that_runs_out_names_what_did_not_become_ready_and_how_to_look(never, what, inspect):
    cluster = FakeCluster(polls_until_ready=1, never=(never,))
    with pytest.raises(DevtoolsError) as raised:
        install(cluster, addons.AddonTimeouts(crds=0.3, gateway_class=0.3, metrics_server=0.3))
    error = raised.value
    assert error.message.startswith(what) and "did not become ready within 0 s" in error.message
    assert "\n" not in error.message and inspect in error.hint
    if "crd" in never or "gatewayclass" in never:
        assert not cluster.applied, "metrics-server was applied on top of a controller that is not ready"


def test_metrics_server_is_pinned_by_digest_and_trusts_kinds_self_signed_kubelets():
    documents = list(yaml.safe_load_all(addons.metrics_server_manifest(COMPONENTS_YAML)))
    (deployment,) = [d for d in documents if d["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == METRICS_SERVER_IMAGE and "@sha256:" in METRICS_SERVER_IMAGE
    assert container["args"].count("--kubelet-insecure-tls") == 1
    assert "--metric-resolution=15s" in container["args"]  # the release's own arguments are kept
    assert [d["kind"] for d in documents] == ["ServiceAccount", "Deployment", "APIService"]
    # Idempotent: a manifest that already has the flag does not get it twice.
    again = addons.metrics_server_manifest(addons.metrics_server_manifest(COMPONENTS_YAML))
    assert again.count("--kubelet-insecure-tls") == 1
    with pytest.raises(DevtoolsError, match="no metrics-server Deployment"):
        addons.metrics_server_manifest("apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: x}\n")


def test_the_gateway_url_comes_from_a_programmed_gateways_status():
    def kubectl_answering(gateway):
        def kubectl(*args, namespace=None, input=None, timeout=300):
            return subprocess.CompletedProcess(args, 0, json.dumps(gateway), "")

        return kubectl

    pending = {"status": {"conditions": [{"type": "Programmed", "status": "False"}]}}
    assert addons.gateway_address(kubectl_answering(pending), "cartridge") == (
        None,
        "Gateway cartridge/cartridge not Programmed yet",
    )
    programmed = ready("Gateway", "Accepted", "Programmed", addresses=[{"type": "IPAddress", "value": "172.18.0.5"}])
    assert addons.gateway_address(kubectl_answering(programmed), "cartridge") == ("172.18.0.5", None)
    assert addons.gateway_url("172.18.0.5") == "http://172.18.0.5"
    assert addons.gateway_url("fc00:f853:ccd:e793::5", 8080) == "http://[fc00:f853:ccd:e793::5]:8080"


def test_cloud_provider_kind_is_pinned_by_digest():
    assert addons.CloudProviderSpec().image == CLOUD_PROVIDER_KIND_IMAGE
    assert CLOUD_PROVIDER_KIND_IMAGE.startswith("registry.k8s.io/cloud-provider-kind/cloud-controller-manager:v")
    assert "@sha256:" in CLOUD_PROVIDER_KIND_IMAGE


# --- the cloud-provider-kind container, on a real Docker engine ------------------------------------------


@pytest.fixture
def provider(docker_engine):
    image = os.environ.get("DEBIAN_IMAGE", "debian:bookworm-slim")
    try:
        docker_engine.images.get(image)
    except Exception:
        try:
            docker_engine.images.pull(image)
        except Exception as exc:
            pytest.skip(f"no stand-in image {image} here and it cannot be pulled ({exc.__class__.__name__})")
    name = f"cartridge-test-cpk-{uuid.uuid4().hex[:8]}"
    network = docker_engine.networks.create(f"{name}-kind")
    spec = addons.CloudProviderSpec(name=name, image=image, network=network.name, command=("sleep", "infinity"))
    yield addons.CloudProviderController(docker_engine), spec, image
    for container in docker_engine.containers.list(all=True, filters={"name": name}):
        container.remove(force=True)
    network.remove()


@pytest.mark.docker
def test_apply_starts_the_provider_once_on_the_kind_network_with_the_docker_socket(provider, docker_engine):
    controller, spec, _ = provider
    first = controller.apply(spec)
    assert first.status == "running" and spec.network in first.attrs["NetworkSettings"]["Networks"]
    mounts = {m["Destination"]: m["Source"] for m in first.attrs["Mounts"]}
    assert mounts["/var/run/docker.sock"] == "/var/run/docker.sock"
    assert first.attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    assert controller.apply(spec).id == first.id, "a second apply must change nothing"
    first.stop(timeout=1)
    assert controller.apply(spec).id == first.id and controller.get(spec).status == "running"


@pytest.mark.docker
def test_delete_removes_the_provider_and_the_proxies_it_made_for_this_cluster_only(provider, docker_engine):
    controller, spec, image = provider
    controller.apply(spec)
    ours = docker_engine.containers.run(
        image,
        ["sleep", "infinity"],
        detach=True,
        name=f"{spec.name}-gw-ours",
        labels={addons.CPK_CLUSTER_LABEL: spec.name},
    )
    theirs = docker_engine.containers.run(
        image,
        ["sleep", "infinity"],
        detach=True,
        name=f"{spec.name}-gw-theirs",
        labels={addons.CPK_CLUSTER_LABEL: f"{spec.name}-other"},
    )
    removed = controller.delete(spec, cluster=spec.name)
    assert sorted(removed) == sorted([spec.name, ours.name])
    assert controller.get(spec) is None
    theirs.reload()
    assert theirs.status == "running", "another cluster's proxy was removed"
    assert controller.delete(spec, cluster=spec.name) == []


@pytest.mark.docker
def test_a_changed_image_recreates_the_provider(provider, docker_engine):
    controller, spec, image = provider
    first = controller.apply(spec)
    retag = f"{image.split(':')[0]}:cartridge-test-retag"
    docker_engine.images.get(image).tag(retag)
    try:
        moved = controller.apply(addons.CloudProviderSpec(spec.name, retag, spec.network, spec.command))
        assert moved.id != first.id and moved.attrs["Config"]["Image"] == retag
    finally:
        controller.delete(spec, cluster=spec.name)
        docker_engine.images.remove(retag)


# --- the metrics-server manifest: cached by version, checked against its pinned sha256 ---------------------


class ReleaseServer:
    """requests.get at the network boundary: the release asset, or no network at all."""

    def __init__(self, body: bytes) -> None:
        self.body, self.online, self.downloads = body, True, 0

    def get(self, url, timeout=None):
        import requests

        if not self.online:
            raise requests.ConnectionError(f"no network to {url}")
        self.downloads += 1
        response = requests.Response()
        response.status_code, response._content, response.url = 200, self.body, url
        return response


@pytest.fixture
def release(monkeypatch) -> ReleaseServer:
    server = ReleaseServer(COMPONENTS_YAML.encode())
    monkeypatch.setattr("requests.get", server.get)
    # The pin of the release stands for the pin of this stand-in asset.
    monkeypatch.setattr(
        addons, "METRICS_SERVER_MANIFEST_SHA256", hashlib.sha256(server.body).hexdigest(), raising=False
    )
    return server


def test_a_second_up_installs_metrics_server_without_the_network(release):
    install(FakeCluster(polls_until_ready=1), manifest=None)
    release.online = False
    cluster = FakeCluster(polls_until_ready=1)
    install(cluster, manifest=None)
    assert release.downloads == 1
    assert "metrics-server" in cluster.applied[0] and "--kubelet-insecure-tls" in cluster.applied[0]


def test_a_changed_cached_manifest_is_refused_and_kept(release):
    addons.metrics_server_components()
    (cached,) = (addons.cache_dir()).glob("metrics-server-v*-components.yaml")
    cached.write_text(COMPONENTS_YAML.replace("15s", "1s"))
    cluster = FakeCluster(polls_until_ready=1)
    with pytest.raises(DevtoolsError) as raised:
        install(cluster, manifest=None)
    assert str(cached) in raised.value.message and "sha256" in raised.value.message and "\n" not in raised.value.message
    assert f"rm {cached}" in raised.value.hint
    assert cached.read_text() == COMPONENTS_YAML.replace("15s", "1s"), "the user's file is kept as it is"
    assert not cluster.applied and release.downloads == 1


def test_a_download_that_does_not_match_the_pin_is_refused_and_not_cached(release):
    release.body = COMPONENTS_YAML.replace("15s", "1s").encode()
    with pytest.raises(DevtoolsError, match=r"has sha256 \w+, not the sha256 pinned in devtools/pins.json"):
        addons.metrics_server_components()
    assert list(addons.cache_dir().glob("*components.yaml*")) == []


def test_the_manifest_pin_is_a_sha256():
    assert re.fullmatch(r"[0-9a-f]{64}", addons.METRICS_SERVER_MANIFEST_SHA256)
