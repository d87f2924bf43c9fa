"""What the kind runtime installs into the cluster before anything is applied on top of it, and the waits.

- cloud-provider-kind (pinned by digest in devtools/pins.json): LoadBalancer Services, a Gateway API
  controller and the Gateway API CRDs of its release. It runs as a container on the "kind" Docker network
  with the Docker socket, as its README's "Running via Docker Image" shows, and creates one Envoy
  container per Gateway (labelled io.x-k8s.cloud-provider-kind.cluster=<cluster>, pkg/constants).
- metrics-server (pinned version, manifest sha256 and image digest; the manifest cached per version under
  $XDG_CACHE_HOME/cartridge, so a second `up` works offline) with --kubelet-insecure-tls: kind's kubelets serve
  self-signed certificates, and without metrics-server the actor's HorizontalPodAutoscaler never acts.

Nothing is applied on top of a controller before its CRDs are Established, its GatewayClass is Accepted
and its pods are Ready. Each wait has a bound; a timeout is one sentence naming what did not become
ready, with the command that shows why.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from devtools.errors import OWNER_LABEL, DevtoolsError, NotCreatedByDevtools
from devtools.pins import (
    CLOUD_PROVIDER_KIND_IMAGE,
    METRICS_SERVER_IMAGE,
    METRICS_SERVER_MANIFEST_SHA256,
    METRICS_SERVER_VERSION,
)
from devtools.process import Progress
from devtools.progress import Step
from devtools.wait import wait_until_ready

Kubectl = Callable[..., object]  # ClusterController.kubectl bound to a cluster: kubectl(*args, namespace=, input=)

GATEWAY_CLASS = "cloud-provider-kind"  # cloud-provider-kind pkg/gateway/controller.go: GWClassName
GATEWAY_CRDS = (
    "gatewayclasses.gateway.networking.k8s.io",
    "gateways.gateway.networking.k8s.io",
    "httproutes.gateway.networking.k8s.io",
)
CPK_CLUSTER_LABEL = "io.x-k8s.cloud-provider-kind.cluster"  # cloud-provider-kind pkg/constants: NodeCCMLabelKey
METRICS_SERVER_MANIFEST = (
    f"https://github.com/kubernetes-sigs/metrics-server/releases/download/v{METRICS_SERVER_VERSION}/components.yaml"
)
METRICS_API = "v1beta1.metrics.k8s.io"


# --- what the waits ask (devtools.wait: None when ready, else why not) -----------------------------------


def condition(obj: dict, kind: str) -> str | None:
    """The status of condition ``kind`` ("True", "False", "Unknown"), None when the object has none."""
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return cond.get("status")
    return None


def get_json(kubectl: Kubectl, *args: str, namespace: str | None = None) -> dict | None:
    """`kubectl get ... -o json`, None while the object does not exist (yet)."""
    try:
        return json.loads(kubectl("get", *args, "-o", "json", namespace=namespace, timeout=30).stdout)
    except DevtoolsError:
        return None


def crds_established(kubectl: Kubectl, names: tuple[str, ...] = GATEWAY_CRDS) -> str | None:
    waiting = []
    for name in names:
        crd = get_json(kubectl, "crd", name)
        if crd is None or condition(crd, "Established") != "True":
            waiting.append(name.split(".")[0] if crd is None else f"{name.split('.')[0]} not Established")
    return f"missing or not established: {', '.join(waiting)}" if waiting else None


def gateway_class_accepted(kubectl: Kubectl, name: str = GATEWAY_CLASS) -> str | None:
    gateway_class = get_json(kubectl, "gatewayclass", name)
    if gateway_class is None:
        return f"no GatewayClass {name} yet"
    return None if condition(gateway_class, "Accepted") == "True" else f"GatewayClass {name} not Accepted"


def deployment_available(kubectl: Kubectl, namespace: str, name: str) -> str | None:
    deployment = get_json(kubectl, "deployment", name, namespace=namespace)
    if deployment is None:
        return f"no deployment {namespace}/{name} yet"
    wanted = deployment["spec"].get("replicas", 1)
    ready = (deployment.get("status") or {}).get("readyReplicas", 0)
    if condition(deployment, "Available") != "True" or ready < wanted:
        return f"{ready}/{wanted} pods ready"
    return None


def api_service_available(kubectl: Kubectl, name: str = METRICS_API) -> str | None:
    service = get_json(kubectl, "apiservice", name)
    if service is None:
        return f"no APIService {name} yet"
    return None if condition(service, "Available") == "True" else f"APIService {name} not Available"


def gateway_address(kubectl: Kubectl, namespace: str, name: str = "cartridge") -> tuple[str | None, str | None]:
    """(address, why not): the Gateway's first address once it is Programmed."""
    gateway = get_json(kubectl, "gateway", name, namespace=namespace)
    if gateway is None:
        return None, f"no Gateway {namespace}/{name}"
    addresses = (gateway.get("status") or {}).get("addresses") or []
    if condition(gateway, "Programmed") != "True" or not addresses:
        return None, f"Gateway {namespace}/{name} not Programmed yet"
    return addresses[0]["value"], None


def gateway_url(address: str, port: int = 80) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"http://{host}" if port == 80 else f"http://{host}:{port}"


# --- metrics-server ------------------------------------------------------------------------------------


def metrics_server_manifest(components_yaml: str, image: str = METRICS_SERVER_IMAGE) -> str:
    """The release's components.yaml with its image pinned by digest and --kubelet-insecure-tls added."""
    documents = [d for d in yaml.safe_load_all(components_yaml) if d]
    found = False
    for doc in documents:
        if doc.get("kind") == "Deployment" and doc["metadata"]["name"] == "metrics-server":
            container = next(c for c in doc["spec"]["template"]["spec"]["containers"] if c["name"] == "metrics-server")
            container["image"] = image
            if "--kubelet-insecure-tls" not in container.setdefault("args", []):
                container["args"].append("--kubelet-insecure-tls")
            found = True
    if not found:
        raise DevtoolsError(
            f"metrics-server v{METRICS_SERVER_VERSION}'s manifest has no metrics-server Deployment",
            f"look at {METRICS_SERVER_MANIFEST}",
        )
    return yaml.safe_dump_all(documents, sort_keys=False)


def cache_dir() -> Path:
    """Where downloads are kept between runs: $XDG_CACHE_HOME/cartridge (~/.cache/cartridge)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cartridge"


def metrics_server_components(url: str = METRICS_SERVER_MANIFEST, sha256: str | None = None) -> str:
    """The pinned release's components.yaml: from the cache when it is there (a second `up` needs no network),
    else downloaded and cached. Either way its sha256 must be the one devtools/pins.json pins; a file that
    differs is refused, and a cached one is left where it is for the user to look at."""
    from devtools.http import get_bytes

    wanted = sha256 or METRICS_SERVER_MANIFEST_SHA256
    path = cache_dir() / f"metrics-server-v{METRICS_SERVER_VERSION}-components.yaml"
    pin = "the sha256 pinned in devtools/pins.json (METRICS_SERVER_MANIFEST_SHA256)"
    if path.exists():
        data = path.read_bytes()
        if (found := hashlib.sha256(data).hexdigest()) != wanted:
            hint = f"look at it, then remove it (`rm {path}`): the next `up` downloads it again"
            raise DevtoolsError(
                f"the cached metrics-server v{METRICS_SERVER_VERSION} manifest {path} has sha256 "
                f"{found}, not {pin}, {wanted}",
                hint,
            )
        return data.decode()
    data = get_bytes(url, what=f"metrics-server v{METRICS_SERVER_VERSION}'s manifest")
    if (found := hashlib.sha256(data).hexdigest()) != wanted:
        raise DevtoolsError(
            f"metrics-server v{METRICS_SERVER_VERSION}'s manifest from {url} has sha256 {found}, not {pin}, {wanted}",
            "the release asset changed or the download was altered (a proxy?): nothing was cached "
            "or applied; compare it with the release before changing the pin",
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_bytes(data)
    partial.replace(path)  # atomic: a cache file is whole or absent
    return data.decode()


# --- cloud-provider-kind --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CloudProviderSpec:
    name: str = "cartridge-cloud-provider-kind"
    image: str = CLOUD_PROVIDER_KIND_IMAGE
    network: str = "kind"
    # The image's own entrypoint runs the provider; tests give a stand-in image a command instead.
    command: tuple[str, ...] | None = None
    labels: dict[str, str] = field(default_factory=lambda: {OWNER_LABEL: "cloud-provider-kind"})


class CloudProviderController:
    """The cloud-provider-kind container: get, apply (create or recreate only what differs), delete."""

    def __init__(self, client) -> None:
        self.client = client

    def get(self, spec: CloudProviderSpec):
        from docker.errors import NotFound

        try:
            return self.client.containers.get(spec.name)
        except NotFound:
            return None

    def apply(self, spec: CloudProviderSpec, progress: Progress = lambda msg: None):
        from docker.errors import APIError, DockerException

        container = self.get(spec)
        if container is not None and not _made_by_devtools(container, spec):
            if container.attrs["Config"]["Image"] != spec.image:
                raise NotCreatedByDevtools(
                    f"a container {spec.name} that devtools did not create runs {container.attrs['Config']['Image']}, "
                    "not the pinned cloud-provider-kind, and devtools does not recreate it",
                    f"remove it yourself (`docker rm -f {spec.name}`), then run `devtools up` again",
                )
            progress(f"Using {spec.name} as it is: devtools did not create it, and it runs the pinned image")
        elif container is not None and container.attrs["Config"]["Image"] != spec.image:
            progress(f"Recreating {spec.name} (was {container.attrs['Config']['Image']})")
            container.remove(force=True)
            container = None
        try:
            if container is None:
                progress(f"Starting cloud-provider-kind ({spec.image.split('@')[0]})")
                container = self.client.containers.run(
                    spec.image,
                    list(spec.command) if spec.command else None,
                    name=spec.name,
                    detach=True,
                    network=spec.network,
                    restart_policy={"Name": "unless-stopped"},
                    labels=spec.labels,
                    volumes={"/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "rw"}},
                )
            elif container.status != "running":
                progress(f"Starting the stopped {spec.name}")
                container.start()
        except (APIError, DockerException) as exc:
            raise DevtoolsError(
                f"cloud-provider-kind could not start: {getattr(exc, 'explanation', None) or exc}",
                f"look at `docker logs {spec.name}`; is the {spec.network!r} network there?",
            ) from None
        container.reload()
        return container

    def deletable(self, spec: CloudProviderSpec, cluster: str, keep_provider: bool = False) -> tuple[list, bool]:
        """The containers delete() removes (our provider unless ``keep_provider``, and the proxies it made for
        ``cluster``), and whether a container of the provider's name is there that devtools did not create."""
        provider = self.get(spec)
        foreign = provider is not None and not _made_by_devtools(provider, spec)
        found = [] if provider is None or foreign or keep_provider else [provider]
        found += self.client.containers.list(all=True, filters={"label": f"{CPK_CLUSTER_LABEL}={cluster}"})
        return found, foreign

    def delete(self, spec: CloudProviderSpec, cluster: str, keep_provider: bool = False) -> list[str]:
        """Our container (unless ``keep_provider``: one provider serves every kind cluster, and another still
        runs) and the proxies it created for ``cluster``; the names removed. A container of that name that
        devtools did not create stays, and is refused once the proxies are gone."""
        found, foreign = self.deletable(spec, cluster, keep_provider)
        removed = []
        for container in found:
            container.remove(force=True)
            removed.append(container.name)
        if foreign:
            raise NotCreatedByDevtools(
                f"devtools did not create the container {spec.name}, so it does not delete it",
                f"remove it yourself if you no longer need it: `docker rm -f {spec.name}`",
            )
        return removed


def _made_by_devtools(container, spec: CloudProviderSpec) -> bool:
    labels = container.attrs.get("Config", {}).get("Labels") or {}
    return all(labels.get(key) == value for key, value in spec.labels.items())


# --- the whole set, in order ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AddonTimeouts:
    crds: float = 180.0
    gateway_class: float = 120.0
    metrics_server: float = 240.0


def install_addons(
    kubectl: Kubectl,
    context: str,
    start_cloud_provider: Callable[[], object],
    progress: Progress = lambda msg: None,
    timeouts: AddonTimeouts = AddonTimeouts(),
    manifest: Callable[[], str] = metrics_server_components,
    interval: float = 2.0,
) -> None:
    """cloud-provider-kind, its CRDs and GatewayClass, then metrics-server: each awaited before the next."""
    k = f"kubectl --context {context}"

    def wait(what: str, why_not: Callable[[], str | None], timeout: float, inspect: str) -> None:
        wait_until_ready(
            what, why_not, timeout, hint=f"inspect it with `{inspect}`", progress=progress, interval=interval
        )

    progress(Step("cloud-provider-kind: the Gateway API CRDs and the GatewayClass"))
    start_cloud_provider()
    wait(
        "the Gateway API CRDs from cloud-provider-kind",
        lambda: crds_established(kubectl),
        timeouts.crds,
        f"{k} get crd | grep gateway; docker logs cartridge-cloud-provider-kind",
    )
    wait(
        f"GatewayClass {GATEWAY_CLASS}",
        lambda: gateway_class_accepted(kubectl),
        timeouts.gateway_class,
        f"{k} describe gatewayclass {GATEWAY_CLASS}",
    )
    progress(Step(f"metrics-server v{METRICS_SERVER_VERSION} and the metrics API"))
    kubectl("apply", "-f", "-", input=metrics_server_manifest(manifest()))
    wait(
        "metrics-server",
        lambda: deployment_available(kubectl, "kube-system", "metrics-server"),
        timeouts.metrics_server,
        f"{k} -n kube-system describe deployment metrics-server",
    )
    wait(
        f"the metrics API ({METRICS_API})",
        lambda: api_service_available(kubectl),
        timeouts.metrics_server,
        f"{k} describe apiservice {METRICS_API}",
    )
