"""`devtools match` on kind, in the recording-API tier: the real Kubernetes client (and, for the record, the real
kubectl) against the stand-in API server (tests/kube_api.py), which stores what is created and records every request.
The stand-in has no controllers, so the test plays the Job controller's part: a created Job gets its pod, with the
log the match would print. The template is the real one, rendered from k8s/local.
"""

from __future__ import annotations

import copy
import functools
import json
import shutil

import pytest

from cartridge.arena.contenders import parse_player, resolve
from cartridge.arena.ondemand import play_on_demand
from cartridge.games import get_game
from cartridge.modelstore import open_model_store
from devtools.errors import DevtoolsError
from devtools.kind.match import (
    MATCH_LABEL,
    MATCH_QUOTA,
    KindMatch,
    MatchJobs,
    container_requests,
    match_job,
    quota_refusal,
)
from devtools.kind.runtime import NAMESPACE, KindOptions, KindRuntime
from devtools.match_run import MatchRequest
from devtools.paths import REPO_ROOT
from tests.k8s.render import by_kind, render
from tests.kube_api import FakeKubeAPI, Request

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kustomize renders with the real kubectl")

REQUEST = MatchRequest("random", "alphabeta:1", games=2, match_id="0badc0de")
JOB = "cartridge-match-0badc0de"


def template() -> dict:
    return copy.deepcopy(by_kind(render("k8s/local"), "CronJob")["match"])


@functools.cache
def result_line(match_id: str = "0badc0de") -> str:
    """A real result: the two reference players, as the match process prints it."""
    game = get_game("tictactoe")
    store = open_model_store("file:///nonexistent")
    a, b = (resolve(parse_player(t), game, store, sims=1) for t in ("random", "alphabeta:1"))
    return json.dumps(play_on_demand(game, a, b, games=2, seed=1, match_id=match_id).to_json())


LOG = '{"event": "match started", "a": "random"}\n{"event": "game 1/2", "outcome": "draw"}\n'


def job_controller(phase: str = "Succeeded", log: str | None = None, waiting: str = "", terminated: str = ""):
    """What the Job controller and the kubelet would do with a created Job: a pod labelled from its template (named
    with a random suffix, as the controller names it), in ``phase``, whose match container logged ``log``."""

    def on_create(api: FakeKubeAPI, obj: dict) -> None:
        if obj["kind"] != "Job":
            return
        job, spec = obj["metadata"]["name"], obj["spec"]["template"]
        name = f"{job}-x7k2p"
        state = (
            {"waiting": {"reason": waiting}}
            if waiting
            else {"terminated": {"reason": terminated, "exitCode": 137}}
            if terminated
            else {"running": {}}
        )
        status = {"name": "match", "image": "x", "imageID": "", "ready": False, "restartCount": 0, "state": state}
        api.put(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": name, "namespace": NAMESPACE, "labels": {**spec["metadata"]["labels"]}},
                "spec": spec["spec"],
                "status": {"phase": phase, "containerStatuses": [status]},
            }
        )
        api.logs[(name, "match")] = LOG + result_line() + "\n" if log is None else log

    return on_create


def quota(used_cpu: str = "0") -> dict:
    hard = {"requests.cpu": "200m", "requests.memory": "256Mi"}
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": MATCH_QUOTA, "namespace": NAMESPACE},
        "spec": {"hard": hard, "scopes": ["Terminating"]},
        "status": {"hard": hard, "used": {"requests.cpu": used_cpu, "requests.memory": "0"}},
    }


@pytest.fixture
def cluster(tmp_path, monkeypatch):
    """The stand-in with the namespace, the rendered match template and the match quota; KUBECONFIG points at it."""
    from tests.test_kubectl_api import cluster_objects, deployment

    def start(controller=None, objects=(), statuses=None) -> FakeKubeAPI:
        everything = [*cluster_objects(), deployment("arena"), template(), *objects]
        api = FakeKubeAPI(everything, on_create=controller, controllers=statuses)
        api.__enter__()
        started.append(api)
        monkeypatch.setenv("KUBECONFIG", str(api.kubeconfig(tmp_path / "kubeconfig")))
        return api

    started: list[FakeKubeAPI] = []
    yield start
    for api in started:
        api.__exit__()


def jobs_for(api: FakeKubeAPI) -> MatchJobs:
    from kubernetes import client

    from devtools.kind.runtime import load_kubeconfig

    load_kubeconfig("kind-cartridge")
    return MatchJobs(client.BatchV1Api(), client.CoreV1Api(), poll=0.01)


# --- the Job ---------------------------------------------------------------------------------------------------


def test_the_job_is_the_templates_jobtemplate_with_the_matchs_arguments():
    rendered = template()
    job = match_job(rendered, JOB, "0badc0de", REQUEST.play_args())
    assert job["metadata"]["name"] == JOB
    assert job["metadata"]["labels"][MATCH_LABEL] == "0badc0de"
    assert job["metadata"]["annotations"] == {"cronjob.kubernetes.io/instantiate": "manual"}
    assert "ownerReferences" not in job["metadata"]  # its ttlSecondsAfterFinished removes it, not the CronJob
    pod = job["spec"]["template"]
    assert pod["metadata"]["labels"][MATCH_LABEL] == "0badc0de"
    (container,) = pod["spec"]["containers"]
    assert container["command"] == ["python", "-m", "cartridge_arena.match"]
    assert container["args"] == ["play", "random", "alphabeta:1", "--games", "2", "--id", "0badc0de"]
    # Everything else is the template's, untouched: the Job is what the manifests say.
    expected = copy.deepcopy(rendered["spec"]["jobTemplate"]["spec"])
    expected["template"]["metadata"]["labels"][MATCH_LABEL] = "0badc0de"
    expected["template"]["spec"]["containers"][0]["args"] = container["args"]
    assert job["spec"] == expected
    assert rendered == template(), "the template itself is not changed"


def test_a_match_plays_as_a_job_and_its_result_is_its_logs_last_line(cluster):
    api = cluster(job_controller())
    shown: list[str] = []
    result = jobs_for(api).play(REQUEST, shown.append)
    assert result == json.loads(result_line())
    assert "game 1/2 outcome=draw" in shown and f"created Job {NAMESPACE}/{JOB}" in shown
    created = api.objects[("jobs", NAMESPACE, JOB)]
    assert created["spec"]["template"]["spec"]["containers"][0]["args"][:3] == ["play", "random", "alphabeta:1"]
    (log,) = [r for r in api.calls("get", "pods") if r.subresource == "log"]
    assert (log.namespace, log.name, log.query["container"], log.query["follow"]) == (
        NAMESPACE,
        f"{JOB}-x7k2p",
        "match",
        "true",
    )
    assert [r.query["labelSelector"] for r in api.calls("list", "pods") if "labelSelector" in r.query] == [
        f"{MATCH_LABEL}=0badc0de"
    ]


# The match-launcher Role, read from the manifests: (apiGroup, resource or resource/subresource, verb) -> names.
def launcher_rules() -> list[dict]:
    roles = by_kind(render("k8s/local"), "Role")
    assert roles["match-launcher"]["metadata"]["namespace"] == NAMESPACE
    return roles["match-launcher"]["rules"]


def allowed(rules: list[dict], request: Request) -> bool:
    """RBAC's answer for one request (k8s.io/apiserver's rule resolution: group, resource[/subresource], verb,
    and resourceNames where a rule has them)."""
    resource = request.resource + (f"/{request.subresource}" if request.subresource else "")
    for rule in rules:
        if (
            request.group in rule["apiGroups"]
            and resource in rule["resources"]
            and request.verb in rule["verbs"]
            and (not rule.get("resourceNames") or request.name in rule["resourceNames"])
        ):
            return True
    return False


def test_a_launcher_needs_nothing_beyond_the_match_launcher_role(cluster):
    """What MatchJobs does (the launcher's part) against the Role rendered from k8s/base/match.yaml: every call
    allowed, in namespace cartridge; and the Role allows nothing the launcher does not do."""
    api = cluster(job_controller())
    jobs = jobs_for(api)
    jobs.play(REQUEST, lambda line: None)
    jobs.running()
    jobs.failure(JOB)
    jobs.delete(JOB)
    rules = launcher_rules()
    calls = api.calls()
    assert calls and all(r.namespace == NAMESPACE for r in calls)
    refused = [str(r) for r in calls if not allowed(rules, r)]
    assert refused == [], f"the match-launcher Role refuses {refused}"
    used = {(r.group, r.resource + (f"/{r.subresource}" if r.subresource else ""), r.verb) for r in calls}
    granted = {
        (g, res, v) for rule in rules for g in rule["apiGroups"] for res in rule["resources"] for v in rule["verbs"]
    }
    # watch is the one verb granted and not used: a launcher may watch its Jobs instead of polling them.
    assert granted - used == {("batch", "jobs", "watch")}
    # Nothing on Secrets, ConfigMaps, exec, Deployments; the template CronJob by name only.
    assert not [r for r in rules if set(r["resources"]) & {"secrets", "configmaps", "pods/exec", "deployments"}]
    assert allowed(rules, Request("GET", "get", "batch", "cronjobs", NAMESPACE, "match", None, {}))
    assert not allowed(rules, Request("GET", "get", "batch", "cronjobs", NAMESPACE, "other", None, {}))
    assert not allowed(rules, Request("POST", "create", "batch", "cronjobs", NAMESPACE, None, None, {}))
    assert not allowed(rules, Request("GET", "get", "", "pods", NAMESPACE, "arena-1", "exec", {}))


def test_the_roles_template_is_the_one_the_manifests_render():
    (named,) = [r for r in launcher_rules() if r.get("resourceNames")]
    assert named["resources"] == ["cronjobs"] and named["resourceNames"] == [template()["metadata"]["name"]]


def test_ctrl_c_deletes_the_job_so_nothing_keeps_playing(cluster):
    api = cluster(job_controller())

    def interrupt(line: str) -> None:
        if line.startswith("game 1/"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        jobs_for(api).play(REQUEST, interrupt)
    (deleted,) = api.calls("delete", "jobs")
    assert (deleted.namespace, deleted.name) == (NAMESPACE, JOB)
    assert ("jobs", NAMESPACE, JOB) not in api.objects


@pytest.mark.parametrize(
    ("reason", "says"),
    [("ImagePullBackOff", "its image cannot be pulled"), ("CreateContainerConfigError", "match-credentials Secret")],
)
def test_a_pod_that_cannot_start_is_one_sentence(cluster, reason, says):
    api = cluster(job_controller(phase="Pending", waiting=reason))
    with pytest.raises(DevtoolsError) as err:
        jobs_for(api).play(REQUEST, lambda line: None)
    assert says in err.value.message and f"({reason})" in err.value.message
    assert f"describe pod {JOB}-x7k2p" in err.value.hint


def test_a_job_without_a_pod_says_why_it_may_be_waiting(cluster):
    api = cluster(None)  # no controller: as when the match quota refuses the Job's pod
    jobs = jobs_for(api)
    with pytest.raises(DevtoolsError) as err:
        jobs.started_pod(JOB, "0badc0de", 0.2, lambda line: None)
    assert f"the match Job {JOB} has no running pod after 0 s (no pod for {JOB} yet)" == err.value.message
    assert MATCH_QUOTA in err.value.hint and f"describe job {JOB}" in err.value.hint


def test_a_match_that_ends_without_a_result_says_how_it_ended(cluster):
    failed = {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the"}
    api = cluster(
        job_controller(phase="Failed", log=LOG, terminated="OOMKilled"),
        statuses={("jobs", JOB): {"conditions": [failed]}},
    )
    with pytest.raises(DevtoolsError) as err:
        jobs_for(api).play(REQUEST, lambda line: None)
    assert "the match ended without a result" in err.value.message and "game 1/2" in err.value.message
    assert "its container ended OOMKilled (exit code 137)" in err.value.message
    assert "the Job failed (BackoffLimitExceeded: Job has reached the)" in err.value.message
    assert f"logs job/{JOB}" in err.value.hint


def test_a_refused_match_is_its_processs_sentence(cluster):
    api = cluster(job_controller(log=LOG + '{"error": "connect4 has no minimax player"}\n'))
    with pytest.raises(DevtoolsError, match="the match was refused: connect4 has no minimax player"):
        jobs_for(api).play(REQUEST, lambda line: None)


# --- devtools around it: the quota check and the record --------------------------------------------------------


def kind_match() -> KindMatch:
    return KindMatch(lambda line: None, runtime=KindRuntime(KindOptions(repo_root=REPO_ROOT)))


def test_a_match_that_does_not_fit_the_match_quota_is_refused_before_any_job(cluster):
    running = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": "cartridge-match-1234abcd",
            "namespace": NAMESPACE,
            "labels": {"app.kubernetes.io/name": "match"},
        },
        "spec": {"template": {"spec": {"containers": []}}},
        "status": {"active": 1},
    }
    api = cluster(job_controller(), [quota(used_cpu="200m"), running])
    with pytest.raises(DevtoolsError) as err:
        kind_match().play(REQUEST, lambda line: None)
    assert err.value.message == (
        f"a match needs 200m cpu and the namespace's room for matches ({MATCH_QUOTA}, 200m) has 0m left: "
        "cartridge-match-1234abcd is running"
    )
    assert "wait for it to finish" in err.value.hint
    assert api.calls("create") == []


def test_a_match_that_fits_plays_and_the_quota_was_read_first(cluster):
    api = cluster(job_controller(), [quota()])
    result = kind_match().play(REQUEST, lambda line: None)
    assert result["id"] == "0badc0de"
    first = [str(r) for r in api.calls()][:1]
    assert first == [f"get resourcequotas {NAMESPACE}/{MATCH_QUOTA}"]


def test_the_quota_arithmetic():
    requests = container_requests(template())
    assert requests == {"cpu": "200m", "memory": "256Mi"}  # k8s/local's laptop figures
    room = quota()["status"]
    assert quota_refusal({"status": room}, requests, []) is None
    full = {"status": {**room, "used": {"requests.cpu": "100m", "requests.memory": "0"}}}
    assert "has 100m left" in quota_refusal(full, requests, [])
    no_memory = {"status": {**room, "used": {"requests.cpu": "0", "requests.memory": "128Mi"}}}
    assert "needs 256Mi memory" in quota_refusal(no_memory, requests, []) and "128Mi left" in quota_refusal(
        no_memory, requests, []
    )


def test_the_record_runs_in_the_arenas_pod_of_the_stacks_namespace(cluster):
    """`kubectl exec -i deployment/arena -- python -m cartridge_arena.match record`, the real kubectl: it finds the
    arena's pod in namespace cartridge (the stand-in then refuses the upgrade, which is reported as not stored)."""
    api = cluster(None)
    with pytest.raises(DevtoolsError) as err:
        kind_match().record(json.loads(result_line()))
    assert "the match finished but its result was not stored" in err.value.message
    connects = api.calls("connect")  # kubectl tries the upgrade once per protocol it speaks
    assert connects and {(r.namespace, r.name, r.subresource) for r in connects} == {(NAMESPACE, "arena-1", "exec")}
    assert connects[0].query["container"] == "arena" and connects[0].query["stdin"] == "true"
    assert connects[0].query["command"] == "record"  # the last of the repeated command= parameters


def test_the_stacks_status_and_rollout_wait_leave_match_jobs_out(cluster):
    """A match Job that failed stays until its ttlSecondsAfterFinished: `devtools up --no-tilt` waits for every Job
    of the stack to succeed, and must not wait for that one."""
    failed = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": JOB, "namespace": NAMESPACE, "labels": {"app.kubernetes.io/name": "match"}},
        "spec": {"completions": 1, "template": {"spec": {"containers": []}}},
        "status": {"failed": 1},
    }
    cluster(None, [failed])
    names = {w.name for w in KindRuntime(KindOptions(repo_root=REPO_ROOT)).workloads()}
    assert "actor" in names and JOB not in names
