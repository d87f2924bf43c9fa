"""The kind runtime of `devtools up`: registry + kind cluster + add-ons, then Tilt, or a one-shot deploy.

up:   registry (docker SDK) -> cluster (kind) -> registry on the kind network -> ConfigMap
      -> cloud-provider-kind (Gateway API CRDs Established, GatewayClass Accepted) -> metrics-server
      (Ready, metrics API Available) -> `tilt up` (live updates), `tilt ci` (CI), or with --no-tilt:
      build and push the images, render an overlay of k8s/local with those tags, replace the set-up Jobs
      that it changes, `kubectl apply` it, wait for rollouts and the Gateway's address. With --monitoring the
      overlay is k8s/local-monitoring (k8s/local with its own Prometheus and Grafana), on either path.
down: remove the workloads (namespace cartridge); with --all also the cluster, cloud-provider-kind
      (and the Envoy containers it made for this cluster) and the registry.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from devtools.docker_engine import docker_client
from devtools.errors import DevtoolsError, NotCreatedByDevtools
from devtools.kind import addons
from devtools.kind.bake import DEFAULT_REGISTRY, image_name
from devtools.kind.cluster import ClusterController, ClusterSpec
from devtools.kind.logs import kubectl_logs
from devtools.kind.names import CLUSTER_VARIABLE, REGISTRY_PORT_VARIABLE
from devtools.kind.registry import RegistryController
from devtools.logs import LogQuery, LogStream
from devtools.ports import KIND_FORWARDS, KIND_MONITORING_FORWARDS, KIND_URLS, TILT_UI
from devtools.process import Echo, Runner, run_command
from devtools.progress import Done, Step
from devtools.runtime import DownPlan, Phase, StackView, health_cell, stats_caption
from devtools.wait import deadline_ran_out, time_left, wait_until_ready

NAMESPACE = "cartridge"
WORKLOADS = (
    "postgres",
    "postgres-setup",
    "minio",
    "minio-create-bucket",
    "trainer",
    "actor",
    "arena",
    "web",
    "frontend",
)
JOBS = ("postgres-setup", "minio-create-bucket")
# What is applied: k8s/local, or with --monitoring k8s/local-monitoring (the Tiltfile chooses between the same two).
OVERLAY, MONITORING_OVERLAY = "k8s/local", "k8s/local-monitoring"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"  # what `kubectl apply` records it sent
# Tilt's port-forwards (Tiltfile); the Gateway's URL is read from its status (KindRuntime.gateway_url).
URLS = KIND_URLS


@dataclass(frozen=True)
class KindOptions:
    repo_root: Path
    tilt: str | None = "up"  # "up", "ci", or None for --no-tilt
    actors: int | None = None
    env_id: str | None = None
    monitoring: bool = False  # k8s/local-monitoring: Prometheus and Grafana beside the stack
    cluster: ClusterSpec = field(default_factory=ClusterSpec)
    cloud_provider: addons.CloudProviderSpec = field(default_factory=addons.CloudProviderSpec)
    addon_timeouts: addons.AddonTimeouts = field(default_factory=addons.AddonTimeouts)
    rollout_timeout: float = 600.0
    gateway_timeout: float = 120.0


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


def overlay_kustomization(
    base: Path,
    overlay_dir: Path,
    tags: dict[str, str],
    actors: int | None,
    env_id: str | None,
    registry: str = DEFAULT_REGISTRY,
) -> dict:
    """A kustomization in ``overlay_dir`` over ``base`` (k8s/local) that pins the images pushed to ``registry``
    with ``tags`` (and an optional actor count and game). kustomize refuses absolute resource paths, so ``base`` is
    given relative. k8s/local names its images in the bake file's default registry; they are renamed here."""
    doc: dict = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [os.path.relpath(base.resolve(), overlay_dir.resolve())],
        "images": [
            {"name": image_name(name, DEFAULT_REGISTRY), "newName": image_name(name, registry), "newTag": tag}
            for name, tag in sorted(tags.items())
        ],
    }
    patches = []
    if actors is not None:
        # The actor's HorizontalPodAutoscaler owns its count: pin it to exactly `actors`.
        doc["replicas"] = [{"name": "actor", "count": actors}]
        pin = [{"op": "replace", "path": f"/spec/{field}", "value": actors} for field in ("minReplicas", "maxReplicas")]
        patches.append({"target": {"kind": "HorizontalPodAutoscaler", "name": "actor"}, "patch": yaml.safe_dump(pin)})
    if env_id is not None:
        patches.append(
            {
                "target": {"kind": "ConfigMap", "name": "cartridge-config"},
                "patch": yaml.safe_dump([{"op": "replace", "path": "/data/ENV_ID", "value": env_id}]),
            }
        )
    if patches:
        doc["patches"] = patches
    return doc


def jobs_to_replace(live: list[dict], rendered: list[dict]) -> list[str]:
    """The names of the live Jobs (``kubectl get jobs -o json`` items) that an apply of ``rendered`` must replace.

    A Job's spec.template, selector and completions are immutable (kubernetes pkg/apis/batch/validation,
    ValidateJobSpecUpdate), and each --no-tilt deploy pushes new image tags, so postgres-setup's template changes
    every time: `kubectl apply` over it is refused. Such a Job is deleted before the apply, which creates it anew
    (it is idempotent: it runs again). Replaced are the Jobs whose spec differs from the one kubectl last applied
    (none recorded: Tilt or someone else made it) and the Jobs that failed; a succeeded Job the apply would not
    change is kept, as Tilt keeps it. Tilt replaces Jobs itself: an apply refused with "field is immutable" is
    retried as delete-and-create (tilt-dev/tilt internal/k8s/client.go, escalatingUpdate, v0.36.0 to v0.37.6), so
    both paths keep the Jobs' names, which the Tiltfile (APP_DEPS), WORKLOADS and the NetworkPolicies use. Naming
    each Job by a hash of its template would leave a finished Job behind per change and make every one of those
    names follow the hash.
    """
    wanted = {o["metadata"]["name"]: o["spec"] for o in rendered if o["kind"] == "Job"}
    replace = []
    for job in live:
        name = job["metadata"]["name"]
        if name not in wanted:
            continue
        recorded = (job["metadata"].get("annotations") or {}).get(LAST_APPLIED)
        applied_spec = json.loads(recorded).get("spec") if recorded else None
        failed = any(
            c.get("type") == "Failed" and c.get("status") == "True"
            for c in (job.get("status") or {}).get("conditions") or []
        )
        if failed or applied_spec != wanted[name]:
            replace.append(name)
    return sorted(replace)


def tilt_args(
    mode: str, context: str, tiltfile: Path, actors: int | None, env_id: str | None, monitoring: bool = False
) -> list[str]:
    """`tilt up|ci` for the cluster; --actors, --env-id and --monitoring go to the Tiltfile's config (after `--`).
    The Tiltfile's monitoring setting is a bool, which Tilt's flag parsing takes only with its value after `=`."""
    args = ["tilt", mode, "--context", context, "--file", str(tiltfile)]
    extra = [
        *(["--actors", str(actors)] if actors is not None else []),
        *(["--env-id", env_id] if env_id is not None else []),
        *(["--monitoring=true"] if monitoring else []),
    ]
    return [*args, "--", *extra] if extra else args


def workload_status(kind: str, item) -> WorkloadStatus:
    """A Deployment, StatefulSet or Job from the Kubernetes API as a WorkloadStatus."""
    name, spec, status = item.metadata.name, item.spec, item.status
    if kind == "Job":
        return WorkloadStatus(name, kind, spec.completions or 1, status.succeeded or 0, URLS.get(name))
    observed = (status.observed_generation or 0) >= (item.metadata.generation or 0)
    return WorkloadStatus(
        name,
        kind,
        spec.replicas or 0,
        status.ready_replicas or 0,
        URLS.get(name),
        updated=status.updated_replicas or 0,
        observed=observed,
    )


class KindRuntime:
    """The Runtime (devtools.runtime) of a kind cluster with its registry, add-ons and Tilt."""

    name = "kind"

    def __init__(
        self,
        opts: KindOptions,
        progress: Callable[[str], None] = lambda msg: None,
        run: Runner | None = None,
        echo: Echo | None = None,
    ) -> None:
        """``run`` drives kind, kubectl and docker (run_command, or a stand-in); ``echo`` receives what they and
        BuildKit print, line by line (`devtools -v`)."""
        self.opts = opts
        self.progress = progress
        self.echo = echo
        self.run = run or (functools.partial(run_command, echo=echo) if echo else run_command)
        self.clusters = ClusterController(self.run, progress)

    def up_phases(self) -> list[Phase]:
        prepare = Phase("bringing up the registry, the kind cluster and its add-ons", self.prepare)
        if self.opts.tilt is None:
            return [prepare, Phase("building, pushing and rolling out", self.deploy)]
        # Tilt owns the terminal: no spinner over its screen.
        mode = self.opts.tilt
        return [
            prepare,
            Phase(
                f"`tilt {mode}` (Ctrl-C stops Tilt; the cluster stays up)", lambda: self.run_tilt(mode), spinner=False
            ),
        ]

    def host_ports(self) -> dict[int, str]:
        """The ports of the host `up` binds: the registry's, and with Tilt its port-forwards and its UI (Tilt's
        default --port, which tilt_args leaves alone). The Gateway and the API server need none of fixed number."""
        registry = self.spec.registry
        bound = {registry.port: f"registry {registry.name}"}
        if self.opts.tilt is not None:
            forwards = KIND_FORWARDS | (KIND_MONITORING_FORWARDS if self.opts.monitoring else {})
            bound |= {port: f"{name} port-forward" for name, port in forwards.items()}
            bound[TILT_UI] = "Tilt UI"
        return bound

    def deploy(self) -> StackView:
        self.deploy_once()
        return self.view()

    def running(self) -> bool:
        try:
            return self.clusters.exists(self.spec) and self.clusters.api_answers(self.spec)
        except DevtoolsError:  # no kind binary: no cluster of ours either
            return False

    def view(self) -> StackView:
        from devtools.http import probe_json

        workloads = self.workloads()
        stats = probe_json(f"{URLS['web']}/stats")  # through Tilt's port-forward, when it runs
        gateway = self.gateway_url()
        rows = [
            (w.name, w.kind, f"{w.ready}/{w.desired}", health_cell(w.healthy, "ready", "not ready"), w.url or "")
            for w in workloads
        ]
        caption = (stats_caption(stats) or f"(no /stats at {URLS['web']}: is Tilt forwarding the web?)") + (
            f"\ngateway {gateway or 'without an address yet (is cloud-provider-kind running? `devtools up`)'}"
            "  ·  / frontend, /api and /stats web"
        )
        if any(w.name in KIND_MONITORING_FORWARDS for w in workloads):
            caption += "\n" + monitoring_note(self.spec.context)
        data = {
            "runtime": self.name,
            "gateway": gateway,
            "stats": stats,
            "workloads": [w.__dict__ | {"healthy": w.healthy} for w in workloads],
        }
        return StackView(
            f"Cartridge (kind runtime, namespace {NAMESPACE})",
            ("workload", "kind", "ready", "health", "url"),
            rows,
            caption,
            data,
            # A cluster without workloads (after `devtools down`, before a deploy) runs no stack.
            running=bool(workloads),
            healthy=bool(workloads) and all(w.healthy for w in workloads),
        )

    def logs(self, query: LogQuery) -> LogStream:
        """Every pod's log of the named components (of every workload but the set-up Jobs without one), through
        `kubectl logs -l` (devtools.kind.logs); with ``query.follow`` all of them at once."""
        components = list(query.components) or [w for w in WORKLOADS if w not in JOBS]
        return LogStream(components, kubectl_logs(components, query, self.spec.context, NAMESPACE))

    @property
    def spec(self) -> ClusterSpec:
        return self.opts.cluster

    def kubectl(self, *args: str, namespace: str | None = None, input: str | None = None, timeout: float = 300):
        return self.clusters.kubectl(self.spec, *args, namespace=namespace, input=input, timeout=timeout)

    def prepare(self) -> None:
        """Registry, cluster, the registry on the kind network and its ConfigMap, then the add-ons, each
        awaited: only what is missing is created, so a second `up` changes nothing."""
        registries = RegistryController(docker_client())
        registry_spec = self.spec.registry
        self.progress(Step(f"Registry {registry_spec.name} on {registry_spec.host}:{registry_spec.port}"))
        registries.apply(registry_spec, self.progress)
        config = self.opts.repo_root / self.spec.config
        spec = ClusterSpec(self.spec.name, config, self.spec.node_image, registry_spec)
        self.progress(Step(f"Cluster {spec.name} ({spec.node_image.split('@')[0]}), the registry wired in"))
        self.clusters.apply(spec, connect_registry=lambda: registries.apply(registry_spec, self.progress))
        cloud_provider = addons.CloudProviderController(registries.client)
        addons.install_addons(
            self.kubectl,
            self.spec.context,
            lambda: cloud_provider.apply(self.opts.cloud_provider, self.progress),
            self.progress,
            self.opts.addon_timeouts,
        )

    def gateway_url(self, wait: float = 0) -> str | None:
        """http://<address> of the Gateway once cloud-provider-kind has programmed it; with ``wait`` > 0 wait
        that long for it (a timeout raises), else None while it has no address."""
        if wait <= 0:
            address, _ = addons.gateway_address(self.kubectl, NAMESPACE)
            return addons.gateway_url(address) if address else None

        def programmed() -> str | None:
            return addons.gateway_address(self.kubectl, NAMESPACE)[1]

        hint = f"inspect it with `kubectl --context {self.spec.context} -n {NAMESPACE} describe gateway cartridge`"
        what = f"the Gateway {NAMESPACE}/cartridge"
        wait_until_ready(what, programmed, wait, hint=hint, progress=self.progress, interval=2)
        return self.gateway_url()

    def tilt_environment(self) -> dict[str, str]:
        """The environment Tilt runs in: the Tiltfile names the cluster's context and the registry's images from
        the same variables devtools reads, so a cluster or registry chosen by flag reaches it too."""
        return {
            **os.environ,
            CLUSTER_VARIABLE: self.spec.name,
            REGISTRY_PORT_VARIABLE: str(self.spec.registry.port),
        }

    def run_tilt(self, mode: str) -> None:
        """Hand the terminal to Tilt (no spinner may draw over its screen while this runs)."""
        args = tilt_args(
            mode,
            self.spec.context,
            self.opts.repo_root / "Tiltfile",
            self.opts.actors,
            self.opts.env_id,
            self.opts.monitoring,
        )
        if self.opts.monitoring:
            self.progress(monitoring_urls())
        self.progress(f"Handing over to `{' '.join(args[:2])}` (Ctrl-C stops Tilt; the cluster stays up)")
        # `up --timeout` bounds `tilt ci` here: its own --timeout flag loses to the Tiltfile's ci_settings(timeout=)
        # (tilt-dev/tilt internal/tiltfile/cisettings/ci_settings.go). `tilt up` runs until Ctrl-C: no bound.
        left = time_left() if mode == "ci" else None
        try:
            tilt = subprocess.Popen(args, cwd=self.opts.repo_root, env=self.tilt_environment())
        except FileNotFoundError:
            raise DevtoolsError("tilt is not installed", "run `devtools doctor`, or use `--no-tilt`") from None
        try:
            code = tilt.wait(left)
        except subprocess.TimeoutExpired:
            tilt.send_signal(signal.SIGINT)  # as Ctrl-C: Tilt stops its own children
            try:
                tilt.wait(30)
            except subprocess.TimeoutExpired:
                tilt.kill()
                tilt.wait()
            raise deadline_ran_out(f"`tilt {mode}`", "still deploying", "see Tilt's output above") from None
        except BaseException:
            if tilt.poll() is None:  # Ctrl-C reached Tilt too (same process group): let it finish stopping
                tilt.wait()
            raise
        if code != 0:
            raise DevtoolsError(f"`tilt {mode}` exited with code {code}", "see Tilt's output above")

    def deploy_once(self) -> list[WorkloadStatus]:
        from devtools.kind.images import build_images

        registry = self.spec.registry.images
        # a step per image (or one for bake), to the registry these names chose
        built = build_images(push=True, progress=self.progress, registry=registry, echo=self.echo)
        self.progress(Step(f"Applying {self.overlay} with the pushed tags"))
        self.apply_overlay({image.component: image.tag for image in built})
        self.progress(Step(f"Rolling out namespace {NAMESPACE}"))
        workloads = self.wait_for_rollouts()
        self.progress(Step(f"Gateway {NAMESPACE}/cartridge getting its address"))
        self.gateway_url(wait=self.opts.gateway_timeout)
        if self.opts.monitoring:
            self.progress(monitoring_note(self.spec.context))
        return workloads

    @property
    def overlay(self) -> str:
        """The overlay this runtime applies (the Tiltfile's choice too): k8s/local, or with monitoring
        k8s/local-monitoring."""
        return MONITORING_OVERLAY if self.opts.monitoring else OVERLAY

    def apply_overlay(self, tags: dict[str, str]) -> None:
        """k8s/local (or k8s/local-monitoring) with the pushed ``tags`` (and the actor count and game), rendered and
        applied (``apply``)."""
        with tempfile.TemporaryDirectory(prefix="cartridge-deploy-") as tmp:
            base = self.opts.repo_root / self.overlay
            overlay = overlay_kustomization(
                base, Path(tmp), tags, self.opts.actors, self.opts.env_id, self.spec.registry.images
            )
            Path(tmp, "kustomization.yaml").write_text(yaml.safe_dump(overlay, sort_keys=False))
            manifests = self.kubectl("kustomize", tmp).stdout
        self.apply(manifests)

    def apply(self, manifests: str) -> None:
        """`kubectl apply` the rendered ``manifests``, first deleting the Jobs it could not patch (jobs_to_replace).
        The deletion is in the foreground, so the old Job's pod is gone before the new one runs the set-up."""
        rendered = [doc for doc in yaml.safe_load_all(manifests) if doc]
        live = json.loads(self.kubectl("get", "jobs", "-o", "json", namespace=NAMESPACE).stdout)["items"]
        replace = jobs_to_replace(live, rendered)
        if replace:
            self.progress(f"Replacing the Jobs {', '.join(replace)} (a Job's template cannot change in place)")
            self.kubectl(
                "delete",
                "job",
                *replace,
                "--cascade=foreground",
                "--ignore-not-found",
                "--wait",
                "--timeout=120s",
                namespace=NAMESPACE,
                timeout=180,
            )
        self.progress(f"Applying {self.overlay}")
        self.kubectl("apply", "-f", "-", input=manifests)

    def workloads(self) -> list[WorkloadStatus]:
        """The stack's Deployments, StatefulSets and set-up Jobs (not the match Jobs, which come and go)."""
        from kubernetes import client

        load_kubeconfig(self.spec.context)
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
        found = [
            workload_status(kind, item)
            for kind, items in (("Deployment", deployments), ("StatefulSet", stateful_sets), ("Job", jobs))
            for item in items
            if (item.metadata.labels or {}).get("app.kubernetes.io/name") != "match"  # `devtools match`'s Jobs
        ]
        return sorted(found, key=lambda w: WORKLOADS.index(w.name) if w.name in WORKLOADS else len(WORKLOADS))

    def wait_for_rollouts(self) -> list[WorkloadStatus]:
        workloads: list[WorkloadStatus] = []
        rolled_out: set[str] = set()

        def why_not() -> str | None:
            workloads[:] = self.workloads()
            for w in workloads:  # each workload's own line, as it is rolled out
                if w.healthy and w.name not in rolled_out:
                    rolled_out.add(w.name)
                    self.progress(Done(f"{w.name} rolled out ({w.ready}/{w.desired})"))
            pending = [w for w in workloads if not w.healthy]
            if workloads and not pending:
                return None
            return ", ".join(f"{w.name} ({w.ready}/{w.desired})" for w in pending) or "no workloads found"

        hint = f"see `kubectl --context {self.spec.context} -n {NAMESPACE} describe pods` and `get events`"
        wait_until_ready(
            f"the rollout of {NAMESPACE}",
            why_not,
            self.opts.rollout_timeout,
            hint=hint,
            progress=self.progress,
            interval=3,
        )
        return workloads

    def cluster_exists(self) -> bool:
        """kind lists the cluster; without a kind binary there is no cluster of ours either."""
        try:
            return self.clusters.exists(self.spec)
        except DevtoolsError:
            return False

    def other_clusters(self) -> list[str]:
        """The other kind clusters here (another checkout's, say): cloud-provider-kind serves them too."""
        try:
            return [name for name in self.clusters.names() if name != self.spec.name]
        except DevtoolsError:
            return []

    def namespace_exists(self) -> bool:
        """The stack's namespace is in the cluster; when the cluster does not answer, assume it is (so `down`
        asks before it tries to delete it)."""
        try:
            found = self.kubectl("get", "namespace", NAMESPACE, "--ignore-not-found", "-o", "name", timeout=30)
        except DevtoolsError:
            return True
        return bool(found.stdout.strip())

    def down_plan(self, everything: bool = False) -> DownPlan:
        """What down(everything) would stop and delete: only what is there, and of the cluster and the registry
        only what devtools created (the rest is refused, not deleted)."""
        name, stops, deletes = self.spec.name, [], []
        cluster = self.cluster_exists()
        if cluster and everything and self.clusters.created_by_devtools(self.spec):
            deletes.append(
                f"the kind cluster {name} with everything in it (namespace {NAMESPACE}'s replay database, "
                "models and checkpoints)"
            )
        elif cluster and self.namespace_exists():
            deletes.append(
                f"namespace {NAMESPACE} in the kind cluster {name}, with its volumes: the replay "
                "database, the models and the trainer's checkpoints"
            )
        client = self._docker()
        if client is not None:
            keep = bool(self.other_clusters())
            provider, _ = addons.CloudProviderController(client).deletable(self.opts.cloud_provider, name, keep)
            if provider:
                what = "the Envoy proxies" if keep else "cloud-provider-kind and its Envoy proxies"
                stops.append(f"{what} for {name} (`devtools up` starts them again)")
            registry = RegistryController(client).get(self.spec.registry) if everything else None
            if registry is not None and registry.owned:
                deletes.append(f"the registry {registry.name} on {self.spec.registry.images} with the images in it")
        return DownPlan(self.name, tuple(stops), tuple(deletes))

    @staticmethod
    def _docker():
        try:
            return docker_client()
        except DevtoolsError:
            return None  # no Docker engine: no containers either

    def down(self, everything: bool = False) -> bool:
        """The workloads (namespace cartridge) and cloud-provider-kind with the Gateway's Envoy: nothing of
        the stack keeps running, and the next `up` starts them again. With ``everything`` the cluster and the
        registry go too, but only what devtools created: anything else is kept and refused, in one error at
        the end. True when a cluster was there."""
        refused: list[NotCreatedByDevtools] = []
        exists = self.cluster_exists()
        deleted = False
        if exists and everything:
            try:
                deleted = self.clusters.delete(self.spec)
            except NotCreatedByDevtools as exc:
                refused.append(exc)
        if exists and not deleted:
            self.progress(f"Deleting namespace {NAMESPACE}")
            self.kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait")
        self.delete_containers(registry=everything, refused=refused)
        return exists

    def delete_containers(self, registry: bool = True, refused: list[NotCreatedByDevtools] | None = None) -> None:
        """cloud-provider-kind and the proxies it made for this cluster, and (``registry``) the registry: those
        devtools created. What it did not create is refused, after the rest is gone, with ``refused``."""
        refused = [] if refused is None else refused
        client = self._docker()
        if client is not None:
            for delete in (
                lambda: self._delete_cloud_provider(client),
                lambda: registry and self._delete_registry(client),
            ):
                try:
                    delete()
                except NotCreatedByDevtools as exc:
                    refused.append(exc)
        if refused:
            raise NotCreatedByDevtools.combine(refused)

    def _delete_cloud_provider(self, client) -> None:
        keep = bool(self.other_clusters())  # one provider serves every kind cluster: keep it while another runs
        for name in addons.CloudProviderController(client).delete(self.opts.cloud_provider, self.spec.name, keep):
            self.progress(f"Deleted {name}")

    def _delete_registry(self, client) -> None:
        if RegistryController(client).delete(self.spec.registry):
            self.progress(f"Deleted registry {self.spec.registry.name}")


def monitoring_urls() -> str:
    """Where Tilt's port-forwards put Grafana and Prometheus (the Tiltfile's, devtools.ports)."""
    return f"Grafana {URLS['grafana']} (open to look without a login), Prometheus {URLS['prometheus']}"


def monitoring_note(context: str) -> str:
    """Grafana's and Prometheus' URLs, and how to reach them without Tilt: a port-forward goes through the API
    server and the kubelet into the pod, past the NetworkPolicies (k8s/components/monitoring/stack)."""
    forwards = " and ".join(
        f"`kubectl --context {context} -n {NAMESPACE} port-forward svc/{name} {port}`"
        for name, port in KIND_MONITORING_FORWARDS.items()
    )
    return f"{monitoring_urls()}: Tilt forwards them; without Tilt, {forwards}"


def load_kubeconfig(context: str) -> None:
    """Point the Kubernetes client at ``context`` of the kubeconfig kubectl reads now."""
    from kubernetes import config

    try:
        # KUBECONFIG as it is now, as kubectl reads it: the client's own default is read at import time.
        config.load_kube_config(os.environ.get("KUBECONFIG"), context=context)
    except Exception as exc:  # the kubeconfig library raises several unrelated types
        hint = "run `devtools up --runtime kind` first"
        raise DevtoolsError(f"no kubeconfig context {context} ({exc})", hint) from None


def kind_usable_reasons() -> list[str]:
    """Why the kind runtime cannot be used here (empty when it can)."""
    from devtools.tool_versions import probe

    statuses = [probe(name) for name in ("docker", "kind", "kubectl", "tilt")]
    reasons = [status.problem or status.name for status in statuses if not status.usable]
    if not reasons:
        try:
            docker_client()
        except DevtoolsError as exc:
            reasons.append(exc.message)
    return reasons
