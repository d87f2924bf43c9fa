"""The kind runtime of `devtools up`: registry + kind cluster, then Tilt, or a one-shot deploy.

up:   registry (docker SDK) -> cluster (kind) -> registry on the kind network -> ConfigMap
      -> `tilt up` (live updates), `tilt ci` (CI), or with --no-tilt: build and push the four
      images, `kubectl apply -k` an overlay of k8s/local with those tags, wait for rollouts.
down: remove the workloads (namespace cartridge); with --all also the cluster and the registry.
"""

from __future__ import annotations

import os
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
WORKLOADS = ("postgres", "minio", "minio-create-bucket", "trainer", "actor", "web", "frontend")
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
    updated: int | None = None  # pods of the current template; None where the kind has no such count
    observed: bool = True  # the controller has seen the newest spec (status.observedGeneration)

    @property
    def healthy(self) -> bool:
        """Rolled out: the controller saw the newest spec and every wanted pod is of it and ready (a Job:
        succeeded). Ready old pods alone do not count, so a re-apply waits for the new ones."""
        current = self.updated is None or self.updated >= self.desired
        return self.observed and current and self.desired > 0 and self.ready >= self.desired


def overlay_kustomization(base: Path, overlay_dir: Path, tags: dict[str, str], actors: int | None,
                          env_id: str | None) -> dict:  # fmt: skip
    """A kustomization in ``overlay_dir`` over ``base`` (k8s/local) that pins the pushed tags (and an optional
    actor count and game). kustomize refuses absolute resource paths, so ``base`` is given relative."""
    doc: dict = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [os.path.relpath(base.resolve(), overlay_dir.resolve())],
        "images": [{"name": f"localhost:5001/cartridge-{name}", "newTag": tag} for name, tag in sorted(tags.items())],
    }
    patches = []
    if actors is not None:
        # The actor's HorizontalPodAutoscaler owns its count: pin it to exactly `actors`.
        doc["replicas"] = [{"name": "actor", "count": actors}]
        pin = [{"op": "replace", "path": f"/spec/{field}", "value": actors} for field in ("minReplicas", "maxReplicas")]
        patches.append({"target": {"kind": "HorizontalPodAutoscaler", "name": "actor"}, "patch": yaml.safe_dump(pin)})
    if env_id is not None:
        patches.append({
            "target": {"kind": "ConfigMap", "name": "cartridge-config"},
            "patch": yaml.safe_dump([{"op": "replace", "path": "/data/ENV_ID", "value": env_id}]),
        })  # fmt: skip
    if patches:
        doc["patches"] = patches
    return doc


def tilt_args(mode: str, context: str, tiltfile: Path, actors: int | None, env_id: str | None) -> list[str]:
    """`tilt up|ci` for the cluster; --actors and --env-id go to the Tiltfile's config (after `--`)."""
    args = ["tilt", mode, "--context", context, "--file", str(tiltfile)]
    extra = [*(["--actors", str(actors)] if actors is not None else []),
             *(["--env-id", env_id] if env_id is not None else [])]  # fmt: skip
    return [*args, "--", *extra] if extra else args


def workload_status(kind: str, item) -> WorkloadStatus:
    """A Deployment, StatefulSet or Job from the Kubernetes API as a WorkloadStatus."""
    name, spec, status = item.metadata.name, item.spec, item.status
    if kind == "Job":
        return WorkloadStatus(name, kind, spec.completions or 1, status.succeeded or 0, URLS.get(name))
    observed = (status.observed_generation or 0) >= (item.metadata.generation or 0)
    return WorkloadStatus(name, kind, spec.replicas or 0, status.ready_replicas or 0, URLS.get(name),
                          updated=status.updated_replicas or 0, observed=observed)  # fmt: skip


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
        self.prepare()
        if self.opts.tilt is not None:
            self.run_tilt(self.opts.tilt)
            return None
        return self.deploy_once()

    def prepare(self) -> None:
        """Registry, cluster, the registry on the kind network and its ConfigMap: each only if missing."""
        registries = RegistryController(docker_client())
        registry_spec = self.spec.registry
        registries.apply(registry_spec, self.progress)
        config = self.opts.repo_root / self.spec.config
        spec = ClusterSpec(self.spec.name, config, self.spec.node_image, registry_spec, self.spec.ingress)
        self.clusters.apply(spec, connect_registry=lambda: registries.apply(registry_spec, self.progress))

    def run_tilt(self, mode: str) -> None:
        """Hand the terminal to Tilt (no spinner may draw over its screen while this runs)."""
        args = tilt_args(mode, self.spec.context, self.opts.repo_root / "Tiltfile", self.opts.actors, self.opts.env_id)
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
        built = build_images(push=True, progress=self.progress)
        tags = {image.component: image.tag for image in built}
        with tempfile.TemporaryDirectory(prefix="cartridge-deploy-") as tmp:
            base = self.opts.repo_root / "k8s" / "local"
            overlay = overlay_kustomization(base, Path(tmp), tags, self.opts.actors, self.opts.env_id)
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
        apps, batch = client.AppsV1Api(), client.BatchV1Api()
        try:
            deployments = apps.list_namespaced_deployment(NAMESPACE, _request_timeout=20).items
            stateful_sets = apps.list_namespaced_stateful_set(NAMESPACE, _request_timeout=20).items
            jobs = batch.list_namespaced_job(NAMESPACE, _request_timeout=20).items
        except Exception as exc:  # ApiException, urllib3's MaxRetryError, timeouts: the cluster does not answer
            reason = getattr(exc, "reason", None) or type(exc).__name__
            raise DevtoolsError(
                f"the cluster {self.spec.context} does not answer ({reason})",
                "is Docker running? `devtools up --runtime kind` starts stopped nodes again",
            ) from None
        found = [workload_status(kind, item) for kind, items in (("Deployment", deployments),
                 ("StatefulSet", stateful_sets), ("Job", jobs)) for item in items]  # fmt: skip
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
        """The workloads (namespace cartridge); with ``everything`` the cluster and the registry too."""
        if self.clusters.exists(self.spec):
            if everything:
                self.clusters.delete(self.spec)
            else:
                self.progress(f"Deleting namespace {NAMESPACE}")
                self.clusters.kubectl(self.spec, "delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait")
        if everything:
            self.delete_registry()

    def delete_registry(self) -> None:
        try:
            registries = RegistryController(docker_client())
        except DevtoolsError:
            return  # no Docker engine: no registry container either
        if registries.delete(self.spec.registry.name):
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
