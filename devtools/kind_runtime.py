"""The kind runtime of `devtools up`: registry + kind cluster, then Tilt, or a one-shot deploy.

up:   registry (docker SDK) -> cluster (kind) -> registry on the kind network -> ConfigMap
      -> `tilt up` (live updates), `tilt ci` (CI), or with --no-tilt: build and push the four
      images, `kubectl apply -k` an overlay of k8s/local with those tags, wait for rollouts.
down: remove the workloads (namespace cartridge); with --all also the cluster and the registry.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from devtools.cluster import ClusterController, ClusterSpec, run_command
from devtools.errors import DevtoolsError
from devtools.registry import RegistryController, docker_client

NAMESPACE = "cartridge"
COMPONENTS = ("actor", "trainer", "web", "frontend")
WORKLOADS = ("postgres", "minio", "trainer", "actor", "web", "frontend")
URLS = {
    "web": "http://localhost:8080",
    "frontend": "http://localhost:8081",
    "ingress": "http://localhost:8088",
    "minio-console": "http://localhost:9001",
}


@dataclass(frozen=True)
class KindOptions:
    repo_root: Path
    tilt: str | None = "up"  # "up", "ci", or None for --no-tilt
    actors: int | None = None
    env_id: str | None = None
    cluster: ClusterSpec = field(default_factory=ClusterSpec)
    rollout_timeout: float = 600.0


@dataclass(frozen=True)
class WorkloadStatus:
    name: str
    kind: str
    desired: int
    ready: int
    url: str | None = None

    @property
    def healthy(self) -> bool:
        return self.desired > 0 and self.ready >= self.desired


def overlay_kustomization(base: Path, tags: dict[str, str], actors: int | None, env_id: str | None) -> dict:
    """A kustomization over k8s/local that pins the pushed tags (and optional actor count, game)."""
    doc: dict = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [str(base.resolve())],
        "images": [{"name": f"localhost:5001/cartridge-{name}", "newTag": tag} for name, tag in sorted(tags.items())],
    }
    if actors is not None:
        doc["replicas"] = [{"name": "actor", "count": actors}]
    if env_id is not None:
        doc["patches"] = [
            {
                "target": {"kind": "ConfigMap", "name": "cartridge-config"},
                "patch": yaml.safe_dump([{"op": "replace", "path": "/data/ENV_ID", "value": env_id}]),
            }
        ]
    return doc


class KindRuntime:
    def __init__(self, opts: KindOptions, progress: Callable[[str], None] = lambda msg: None, run=run_command) -> None:
        self.opts = opts
        self.progress = progress
        self.run = run
        self.clusters = ClusterController(run, progress)

    @property
    def spec(self) -> ClusterSpec:
        return self.opts.cluster

    def up(self) -> list[WorkloadStatus] | None:
        registries = RegistryController(docker_client())
        registry_spec = self.spec.registry
        registries.apply(registry_spec, self.progress)
        config = self.opts.repo_root / self.spec.config
        spec = ClusterSpec(self.spec.name, config, self.spec.node_image, registry_spec, self.spec.ingress)
        self.clusters.apply(spec, connect_registry=lambda: registries.apply(registry_spec, self.progress))
        if self.opts.tilt is not None:
            self.run_tilt(self.opts.tilt)
            return None
        return self.deploy_once()

    def run_tilt(self, mode: str) -> None:
        args = ["tilt", mode, "--context", self.spec.context, "--file", str(self.opts.repo_root / "Tiltfile")]
        self.progress(f"Handing over to `{' '.join(args[:2])}` (Ctrl-C stops Tilt; the cluster stays up)")
        try:
            code = subprocess.call(args, cwd=self.opts.repo_root)
        except FileNotFoundError:
            raise DevtoolsError("tilt is not installed", "run `devtools doctor`, or use `--no-tilt`") from None
        if code != 0:
            raise DevtoolsError(f"`tilt {mode}` exited with code {code}", "see Tilt's output above")

    def deploy_once(self) -> list[WorkloadStatus]:
        from devtools.images import build_images

        self.progress("Building and pushing the four images to localhost:5001")
        built = build_images(push=True)
        tags = {image.component: image.tag for image in built}
        with tempfile.TemporaryDirectory(prefix="cartridge-deploy-") as tmp:
            base = self.opts.repo_root / "k8s" / "local"
            overlay = overlay_kustomization(base, tags, self.opts.actors, self.opts.env_id)
            Path(tmp, "kustomization.yaml").write_text(yaml.safe_dump(overlay, sort_keys=False))
            self.progress("Applying k8s/local")
            self.clusters.kubectl(self.spec, "apply", "-k", tmp, timeout=300)
        return self.wait_for_rollouts()

    def workloads(self) -> list[WorkloadStatus]:
        from kubernetes import client, config

        try:
            config.load_kube_config(context=self.spec.context)
        except Exception as exc:  # the kubeconfig library raises several unrelated types
            raise DevtoolsError(
                f"no kubeconfig context {self.spec.context} ({exc})", "run `devtools up --runtime kind` first"
            ) from None
        apps = client.AppsV1Api()
        found = []
        for kind, items in (
            ("Deployment", apps.list_namespaced_deployment(NAMESPACE).items),
            ("StatefulSet", apps.list_namespaced_stateful_set(NAMESPACE).items),
        ):
            for item in items:
                name = item.metadata.name
                found.append(
                    WorkloadStatus(name, kind, item.spec.replicas or 0, item.status.ready_replicas or 0, URLS.get(name))
                )
        return sorted(found, key=lambda w: WORKLOADS.index(w.name) if w.name in WORKLOADS else len(WORKLOADS))

    def wait_for_rollouts(self) -> list[WorkloadStatus]:
        deadline = time.monotonic() + self.opts.rollout_timeout
        while True:
            workloads = self.workloads()
            pending = [w for w in workloads if not w.healthy]
            if workloads and not pending:
                return workloads
            if time.monotonic() > deadline:
                names = ", ".join(f"{w.name} ({w.ready}/{w.desired})" for w in pending) or "no workloads found"
                raise DevtoolsError(
                    f"rollout not finished after {self.opts.rollout_timeout:.0f} s: {names}",
                    f"see `kubectl --context {self.spec.context} -n {NAMESPACE} describe pods` and `get events`",
                )
            self.progress("Waiting for " + ", ".join(f"{w.name} {w.ready}/{w.desired}" for w in pending))
            time.sleep(3)

    def down(self, everything: bool = False) -> None:
        if self.clusters.exists(self.spec):
            if everything:
                self.clusters.delete(self.spec)
            else:
                self.progress(f"Deleting namespace {NAMESPACE}")
                self.clusters.kubectl(self.spec, "delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait")
        if everything and RegistryController(docker_client()).delete(self.spec.registry.name):
            self.progress(f"Deleted registry {self.spec.registry.name}")


def kind_usable_reasons() -> list[str]:
    """Why the kind runtime cannot be used here (empty when it can)."""
    from devtools.tools import probe

    statuses = [probe(name) for name in ("docker", "kind", "kubectl", "tilt")]
    reasons = [status.problem or status.name for status in statuses if not status.usable]
    if not reasons:
        try:
            docker_client()
        except DevtoolsError as exc:
            reasons.append(exc.message)
    return reasons
