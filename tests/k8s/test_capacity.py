"""Capacity: what the kind path asks the scheduler for fits one node of a 2-vCPU, 7-GB runner, with headroom.

The stack is rendered as Tilt applies it (k8s/local with the Tiltfile's dev patches, through the Starlark
stand-in) with e2e's actor count, and as `devtools up --no-tilt` applies it; kind's own pods are added from the
pinned upstream sources. A pod that does not fit stays Pending, and `tilt ci` or the e2e suite waits for it until
its timeout: this is where that is caught instead.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass

import pytest
import yaml

from tests.k8s.render import render
from tests.test_tiltfile import evaluate_tiltfile

# kind's system pods on its one node, (name, pods, CPU millicores, memory MiB) as the pinned sources request them
# (kind v0.32.0, its node image kindest/node:v1.36.1; kubeadm as read at kubernetes/kubernetes master, whose
# figures these versions share; metrics-server v0.8.0). kube-proxy and local-path-provisioner request nothing.
SYSTEM_PODS = (
    ("kube-apiserver", 1, 250, 0),  # kubeadm cmd/kubeadm/app/phases/controlplane/manifests.go: "250m"
    ("kube-controller-manager", 1, 200, 0),  # the same file: ComponentResources("200m")
    ("kube-scheduler", 1, 100, 0),  # the same file: ComponentResources("100m")
    ("etcd", 1, 100, 100),  # kubeadm cmd/kubeadm/app/phases/etcd/local.go: GetEtcdPodSpec, 100m and 100Mi
    ("coredns", 2, 100, 70),  # kubeadm cmd/kubeadm/app/phases/addons/dns/manifests.go (2 replicas: dns.go)
    ("kindnet", 1, 100, 50),  # kind v0.32.0 pkg/build/nodeimage/const_cni.go: requests 100m, 50Mi
    ("metrics-server", 1, 100, 200),  # metrics-server v0.8.0 manifests/base/deployment.yaml: 100m, 200Mi
)
E2E_ACTORS = 2  # e2e.yml's `devtools up --actors 2`, which the kind suite reuses


@dataclass(frozen=True)
class Node:
    """One kind node: kind reserves nothing for the system (no systemReserved or kubeReserved in its kubeadm
    config, kind v0.32.0 pkg/cluster/internal/kubeadm/config.go), so allocatable is the machine, less the
    kubelet's default memory.available eviction threshold of 100Mi."""

    name: str
    cpu_m: int
    memory_mib: int


# GitHub's standard runner for private repositories: 2 vCPU, 7 GB (public ones get 4 vCPU, 16 GB). The same node
# is the laptop profile: a laptop's Docker VM is at least this, and the README promises the kind path runs there.
RUNNER = Node("a 2-vCPU, 7-GB runner", 2000, int(7e9 / 2**20) - 100)
# 20 % of the node stays free. It holds what the rendering does not: Tilt updates two resources at once
# (max_parallel_updates=2), and a Deployment's rolling update runs one extra pod meanwhile (test below); the
# helper pods of local-path-provisioner; and the node's share of what runs beside the pods on the same two CPUs
# and 7 GB (containerd, the kubelet, Docker's builds, Tilt, cloud-provider-kind's Envoy, pytest).
HEADROOM = 0.20

CPU = re.compile(r"^(\d+(?:\.\d+)?)(m?)$")
MEMORY = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|k|M|G)?$")
MEMORY_MIB = {None: 2**-20, "Ki": 2**-10, "Mi": 1, "Gi": 2**10, "k": 1e3 / 2**20, "M": 1e6 / 2**20, "G": 1e9 / 2**20}


def millicores(quantity) -> float:
    number, milli = CPU.match(str(quantity)).groups()
    return float(number) * (1 if milli else 1000)


def mebibytes(quantity) -> float:
    number, unit = MEMORY.match(str(quantity)).groups()
    return float(number) * MEMORY_MIB[unit]


@dataclass(frozen=True)
class Pods:
    """One workload's pods as the scheduler counts them: how many, and each pod's requests."""

    name: str
    count: int
    cpu_m: float
    memory_mib: float
    surges: bool  # a rolling update runs one more pod while it lasts


def pod_requests(spec: dict) -> tuple[float, float]:
    """A pod's effective requests: its containers' sum, or its largest init container if that is more."""

    def requests(container: dict) -> tuple[float, float]:
        wanted = container.get("resources", {}).get("requests", {})
        return millicores(wanted.get("cpu", 0)), mebibytes(wanted.get("memory", 0))

    running = [requests(c) for c in spec["containers"]]
    init = [requests(c) for c in spec.get("initContainers", [])] or [(0.0, 0.0)]
    return (
        max(sum(c for c, _ in running), max(c for c, _ in init)),
        max(sum(m for _, m in running), max(m for _, m in init)),
    )


def scheduled_pods(objects: list[dict]) -> list[Pods]:
    """Every pod the rendered stack asks for. An autoscaled Deployment counts at its autoscaler's maximum (the
    actors are CPU-bound, so their autoscaler goes there); a Job counts while it runs, beside everything else."""
    autoscaled = {
        o["spec"]["scaleTargetRef"]["name"]: o["spec"]["maxReplicas"]
        for o in objects
        if o["kind"] == "HorizontalPodAutoscaler"
    }
    found = []
    for obj in objects:
        kind, name = obj["kind"], obj["metadata"]["name"]
        if kind not in ("Deployment", "StatefulSet", "Job"):
            continue
        count = (
            autoscaled.get(name, obj["spec"].get("replicas", 1)) if kind != "Job" else obj["spec"].get("parallelism", 1)
        )
        rolling = (
            kind == "Deployment" and obj["spec"].get("strategy", {}).get("type", "RollingUpdate") == "RollingUpdate"
        )
        found.append(Pods(name, count, *pod_requests(obj["spec"]["template"]["spec"]), surges=rolling))
    return found


@dataclass(frozen=True)
class Fit:
    cpu_m: float
    memory_mib: float
    node: Node

    def problems(self) -> list[str]:
        found = []
        for what, used, size, unit in (
            ("CPU", self.cpu_m, self.node.cpu_m, "m"),
            ("memory", self.memory_mib, self.node.memory_mib, "Mi"),
        ):
            if used > (1 - HEADROOM) * size:
                found.append(
                    f"{what} requests {used:,.0f}{unit} of {size:,}{unit} on {self.node.name}: over the "
                    f"{1 - HEADROOM:.0%} that leaves {HEADROOM:.0%} headroom"
                )
        return found


def fit(objects: list[dict], node: Node = RUNNER) -> Fit:
    """kind's system pods plus the stack's, against one node."""
    system_cpu = sum(n * cpu for _, n, cpu, _ in SYSTEM_PODS)
    system_memory = sum(n * memory for _, n, _, memory in SYSTEM_PODS)
    pods = scheduled_pods(objects)
    return Fit(
        system_cpu + sum(p.count * p.cpu_m for p in pods),
        system_memory + sum(p.count * p.memory_mib for p in pods),
        node,
    )


def under_tilt(*tilt_args: str) -> list[dict]:
    """k8s/local as the Tiltfile applies it (its dev patches and flags), through the Starlark stand-in."""
    result = evaluate_tiltfile(*tilt_args)
    assert result.returncode == 0, result.stderr[-2000:]
    ((stream,), _) = json.loads(result.stdout)["k8s_yaml"][0]
    return [d for d in yaml.safe_load_all(stream) if d]


# Each way kind runs the stack, and each again with `devtools up --monitoring` (k8s/local-monitoring: Prometheus and
# Grafana too), which must fit the same node.
PROFILES = {
    "e2e: tilt ci --actors 2": lambda: under_tilt("--actors", str(E2E_ACTORS)),
    "laptop: tilt up, the autoscaler at its maximum": lambda: under_tilt(),
    "devtools up --no-tilt (and e2e's fallback)": lambda: list(render("k8s/local")),
    "--monitoring: tilt ci --actors 2": lambda: under_tilt("--actors", str(E2E_ACTORS), "--monitoring=true"),
    "--monitoring: tilt up, the autoscaler at its maximum": lambda: under_tilt("--monitoring=true"),
    "--monitoring: devtools up --no-tilt": lambda: list(render("k8s/local-monitoring")),
}


def test_kinds_system_pods_request_what_their_sources_say():
    assert sum(n * cpu for _, n, cpu, _ in SYSTEM_PODS) == 1050
    assert sum(n * memory for _, n, _, memory in SYSTEM_PODS) == 490


@pytest.mark.parametrize("profile", PROFILES)
def test_the_stack_fits_one_runner_sized_node_with_headroom(profile):
    objects = PROFILES[profile]()
    result = fit(objects)
    print(
        f"\n{profile}: CPU {result.cpu_m:,.0f}m of {RUNNER.cpu_m:,}m, memory {result.memory_mib:,.0f}Mi of "
        f"{RUNNER.memory_mib:,}Mi"
    )
    assert not result.problems(), result.problems()


@pytest.mark.parametrize("profile", PROFILES)
def test_the_headroom_holds_two_rolling_updates_at_once(profile):
    """Tilt updates two resources at a time (update_settings(max_parallel_updates=2)); each Deployment that rolls
    runs one more pod until the old one goes. The two largest such pods must fit in the headroom."""
    surging = sorted((p.cpu_m for p in scheduled_pods(PROFILES[profile]()) if p.surges), reverse=True)
    assert sum(surging[:2]) <= HEADROOM * RUNNER.cpu_m, surging[:2]


def test_e2e_runs_the_actor_count_the_capacity_check_assumes():
    from devtools.paths import REPO_ROOT
    from tests.test_tiltfile import load_workflow

    steps = load_workflow(REPO_ROOT / ".github/workflows/e2e.yml")["jobs"]["kind"]["steps"]
    assert any(f"--actors {E2E_ACTORS}" in s.get("run", "") and "devtools up" in s.get("run", "") for s in steps)


def test_the_check_refuses_a_stack_that_does_not_fit():
    """k8s/base's requests (sized for a production node) with two actors: near the 2,950m of issue 22, against a
    2,000m node."""
    objects = copy.deepcopy(list(render("k8s/base")))  # render() is cached: leave its objects as they are
    for obj in objects:
        if obj["kind"] == "HorizontalPodAutoscaler":
            obj["spec"]["maxReplicas"] = E2E_ACTORS
    result = fit(objects)
    assert result.cpu_m >= 2800 and any(p.startswith("CPU requests") for p in result.problems()), result
    # One oversized pod is enough, and memory is checked as well as CPU.
    big = {
        "kind": "Deployment",
        "metadata": {"name": "big"},
        "spec": {
            "replicas": 1,
            "template": {
                "spec": {"containers": [{"name": "big", "resources": {"requests": {"cpu": "10m", "memory": "6Gi"}}}]}
            },
        },
    }
    assert any(p.startswith("memory requests") for p in fit([big]).problems())
    # An init container's requests count when they are the larger.
    init = {
        "containers": [{"resources": {"requests": {"cpu": "100m"}}}],
        "initContainers": [{"resources": {"requests": {"cpu": "1", "memory": "1G"}}}],
    }
    assert pod_requests(init) == (1000.0, 1e9 / 2**20)
