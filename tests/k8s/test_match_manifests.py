"""The on-demand matches' manifests (k8s/base/match.yaml, guardrails.yaml): the Job devtools makes from the rendered
template, and the namespace's quotas, sized with tests/k8s/test_capacity.py's arithmetic.

Admission is modelled as the ResourceQuota admission plugin does it: each pod is charged to every quota whose scopes
match it (Terminating: the pod has activeDeadlineSeconds >= 0, kubernetes pkg/quota/v1/evaluator/core/pods.go,
isTerminating; NotTerminating: it has not), and is refused when a charged quota's requests would go over its hard
limit. The stack's pods are counted as test_capacity counts them (the actor autoscaler at its maximum), plus the extra
pods of rolling every Deployment at once (maxSurge, 25 % by default, rounded up).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import kubernetes_validate
import pytest

from devtools.kind.match import container_requests, match_job
from devtools.match_run import MatchRequest
from tests.k8s.render import by_kind, pod_spec, render, workloads
from tests.k8s.test_capacity import PROFILES, RUNNER, SYSTEM_PODS, mebibytes, millicores, pod_requests

OVERLAYS = ("k8s/local", "k8s/prod")
# Every way the stack is applied: kind's three (test_capacity.PROFILES) and production.
STACKS = {**PROFILES, "k8s/prod": lambda: list(render("k8s/prod"))}


@dataclass(frozen=True)
class Pod:
    name: str
    cpu_m: float
    memory_mib: float
    terminating: bool  # in the Terminating scope: activeDeadlineSeconds >= 0


def pod(name: str, spec: dict) -> Pod:
    deadline = spec.get("activeDeadlineSeconds")
    return Pod(name, *pod_requests(spec), terminating=deadline is not None and deadline >= 0)


def surge_pods(deployment: dict, replicas: int) -> int:
    """The extra pods a rolling update of ``deployment`` runs at once (maxSurge of ``replicas``, rounded up)."""
    strategy = deployment["spec"].get("strategy", {})
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return 0
    surge = str(strategy.get("rollingUpdate", {}).get("maxSurge", "25%"))
    return math.ceil(int(surge[:-1]) * replicas / 100) if surge.endswith("%") else int(surge)


def stack_pods(objects: list[dict]) -> list[Pod]:
    """The stack at its largest: every workload's pods (the autoscaled at their maximum), while every Deployment
    rolls at once."""
    autoscaled = {
        o["spec"]["scaleTargetRef"]["name"]: o["spec"]["maxReplicas"]
        for o in objects
        if o["kind"] == "HorizontalPodAutoscaler"
    }
    found = []
    for name, workload in workloads(objects).items():
        kind = workload["kind"]
        if kind == "CronJob":
            continue  # the match template: suspended, it makes no pod by itself
        if kind == "Job":
            count = workload["spec"].get("parallelism", 1)
        else:
            count = autoscaled.get(name, workload["spec"].get("replicas", 1))
            count += surge_pods(workload, count) if kind == "Deployment" else 0
        found += [pod(name, pod_spec(workload))] * count
    return found


def the_match_job(objects: list[dict], match_id: str = "0badc0de") -> dict:
    """The Job `devtools match` creates from the rendered template (devtools.kind.match.match_job)."""
    template = by_kind(objects, "CronJob")["match"]
    args = MatchRequest("latest", "minimax", games=20, match_id=match_id).play_args()
    return match_job(copy.deepcopy(template), f"cartridge-match-{match_id}", match_id, args)


def match_pod(objects: list[dict]) -> Pod:
    return pod("match", pod_spec(the_match_job(objects)))


@dataclass(frozen=True)
class Quota:
    name: str
    terminating: bool | None  # its scope: True Terminating, False NotTerminating, None both
    cpu_m: float
    memory_mib: float


def quotas(objects: list[dict]) -> list[Quota]:
    found = []
    for name, quota in by_kind(objects, "ResourceQuota").items():
        scopes = quota["spec"].get("scopes", [])
        scope = True if "Terminating" in scopes else False if "NotTerminating" in scopes else None
        hard = quota["spec"]["hard"]
        found.append(Quota(name, scope, millicores(hard["requests.cpu"]), mebibytes(hard["requests.memory"])))
    return found


def refused(pods: list[Pod], rooms: list[Quota]) -> list[str]:
    """Admit ``pods`` in order, as the quota admission plugin would; why each refused one was refused."""
    used = {q.name: [0.0, 0.0] for q in rooms}
    refusals = []
    for p in pods:
        charged = [q for q in rooms if q.terminating in (None, p.terminating)]
        over = [
            f"{p.name}: {q.name} {what} {used[q.name][i] + wanted:,.0f} over {hard:,.0f}"
            for q in charged
            for i, (what, wanted, hard) in enumerate(
                (("requests.cpu", p.cpu_m, q.cpu_m), ("requests.memory", p.memory_mib, q.memory_mib))
            )
            if used[q.name][i] + wanted > hard
        ]
        if over:
            refusals += over
            continue
        for q in charged:
            used[q.name][0] += p.cpu_m
            used[q.name][1] += p.memory_mib
    return refusals


@pytest.mark.parametrize("stack", STACKS)
def test_the_stack_at_its_largest_and_one_match_are_admitted_and_a_second_match_is_not(stack):
    objects = STACKS[stack]()
    rooms, steady, match = quotas(objects), stack_pods(objects), match_pod(objects)
    assert {q.name: q.terminating for q in rooms} == {"cartridge-stack": False, "cartridge-matches": True}
    assert refused([*steady, match], rooms) == []
    assert refused([*steady, match, match], rooms) == [
        f"match: cartridge-matches requests.cpu {2 * match.cpu_m:,.0f} over {match.cpu_m:,.0f}",
        f"match: cartridge-matches requests.memory {2 * match.memory_mib:,.0f} over {match.memory_mib:,.0f}",
    ]
    # A match never takes what the stack asked for: matches are charged to their own room only.
    stack_room = next(q for q in rooms if q.name == "cartridge-stack")
    assert sum(p.cpu_m for p in steady) <= stack_room.cpu_m
    print(
        f"\n{stack}: stack {sum(p.cpu_m for p in steady):,.0f}m of {stack_room.cpu_m:,.0f}m; match {match.cpu_m:,.0f}m"
    )


def test_the_check_refuses_a_stack_room_too_small_for_the_rolling_updates():
    objects = STACKS["laptop: tilt up, the autoscaler at its maximum"]()
    steady = stack_pods(objects)
    rooms = [q if q.name != "cartridge-stack" else Quota(q.name, False, 445, q.memory_mib) for q in quotas(objects)]
    assert any("cartridge-stack requests.cpu" in r for r in refused(steady, rooms))


def test_only_the_match_pod_is_in_the_match_room():
    for overlay in OVERLAYS:
        objects = list(render(overlay))
        assert match_pod(objects).terminating
        assert not [p.name for p in stack_pods(objects) if p.terminating], "a stack pod would take the matches' room"


def test_on_kind_both_rooms_fit_the_node_so_what_is_admitted_is_scheduled():
    """What the quotas admit, the node holds (else it would wait Pending): both rooms and kind's own pods fit it."""
    system_cpu = sum(n * cpu for _, n, cpu, _ in SYSTEM_PODS)
    system_memory = sum(n * memory for _, n, _, memory in SYSTEM_PODS)
    for overlay in ("k8s/local", "k8s/local-monitoring"):  # the latter's stack room holds Prometheus and Grafana too
        rooms = quotas(list(render(overlay)))
        assert system_cpu + sum(q.cpu_m for q in rooms) <= RUNNER.cpu_m, overlay
        assert system_memory + sum(q.memory_mib for q in rooms) <= RUNNER.memory_mib, overlay


@pytest.mark.parametrize("stack", STACKS)
def test_no_container_asks_for_more_than_the_limitrange_allows(stack):
    objects = STACKS[stack]()
    (limit_range,) = by_kind(objects, "LimitRange").values()
    (container_limits,) = [item for item in limit_range["spec"]["limits"] if item["type"] == "Container"]
    most = container_limits["max"]
    assert set(container_limits) >= {"max", "default", "defaultRequest"}  # a container without its own gets these
    for name, workload in [*workloads(objects).items(), ("match Job", the_match_job(objects))]:
        for container in pod_spec(workload)["containers"] + pod_spec(workload).get("initContainers", []):
            limits = container["resources"]["limits"]
            assert millicores(limits["cpu"]) <= millicores(most["cpu"]), (stack, name, limits)
            assert mebibytes(limits["memory"]) <= mebibytes(most["memory"]), (stack, name, limits)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_match_job_devtools_makes_validates_and_meets_the_restricted_profile(overlay):
    objects = list(render(overlay))
    job = the_match_job(objects)
    job["metadata"]["namespace"] = "cartridge"
    kubernetes_validate.validate(job, "1.32.0", strict=True)
    spec = pod_spec(job)
    assert spec["restartPolicy"] == "Never" and job["spec"]["backoffLimit"] == 0
    assert job["spec"]["ttlSecondsAfterFinished"] > 0 and spec["activeDeadlineSeconds"] > 0
    assert spec["serviceAccountName"] == "match" and spec["automountServiceAccountToken"] is False
    # Pod Security's restricted profile (kubernetes.io/docs/concepts/security/pod-security-standards), as the
    # namespace enforces it: no host namespaces, only the volume types it allows, non-root, no escalation, no
    # capabilities, a RuntimeDefault seccomp profile.
    assert not {"hostNetwork", "hostPID", "hostIPC"} & set(spec)
    allowed_volumes = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected"}
    assert all(set(v) - {"name"} <= allowed_volumes | {"secret"} for v in spec.get("volumes", []))
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    (container,) = spec["containers"]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert container["image"].rsplit(":", 1)[0].endswith("/cartridge-arena")  # the overlay's arena image
    assert container_requests(by_kind(objects, "CronJob")["match"]) == container["resources"]["requests"]


def test_a_match_reads_models_and_nothing_else():
    objects = list(render("k8s/local"))
    spec = pod_spec(the_match_job(objects))
    (container,) = spec["containers"]
    secrets = {e["secretRef"]["name"] for e in container["envFrom"] if "secretRef" in e}
    (secret,) = secrets
    data = by_kind(objects, "Secret")[secret]["data"]
    assert set(data) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}, "no database login"
    egress = by_kind(objects, "NetworkPolicy")["match-egress"]["spec"]["egress"]
    assert egress == [
        {
            "to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "minio"}}}],
            "ports": [{"protocol": "TCP", "port": 9000}],
        }
    ]
