"""`devtools match` on kind: the match runs as a Job `cartridge-match-<id>` made from the template `match`.

The template is a suspended CronJob in k8s/base/match.yaml: it never runs by itself, and kustomize and Tilt treat it
as any workload (the overlay's arena image, its Secret's hashed name, the namespace, the laptop's requests). A match
Job is its jobTemplate with the match's arguments, as `kubectl create job NAME --from=cronjob/match` makes one
(kubectl pkg/cmd/create/create_job.go, createJobFromCronJob: the jobTemplate's labels, annotations and spec, and the
annotation cronjob.kubernetes.io/instantiate=manual) but without the owner reference to the CronJob: the Job's own
ttlSecondsAfterFinished removes it, and the CronJob controller's history limits stay out of it.

``MatchJobs`` is what a launcher does, and only with what the `match-launcher` Role (k8s/base/match.yaml) allows:
read the template, create, read and delete Jobs, list the pods (to find the Job's, whose name the Job controller
picks) and read their logs. tests/devtools/kind/test_match.py holds the calls to that Role. ``KindMatch`` adds what
devtools does as the cluster's admin: the quota check before the Job, and the record through the arena's pod.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Iterator
from decimal import Decimal

from devtools.errors import DevtoolsError
from devtools.kind.names import KindNames
from devtools.kind.runtime import NAMESPACE, load_kubeconfig
from devtools.match_run import MODULE, MatchRequest, recorded, result_from_lines, show_lines
from devtools.process import Progress

TEMPLATE = "match"  # the suspended CronJob each match Job is made from (k8s/base/match.yaml)
JOB_PREFIX = "cartridge-match-"
CONTAINER = "match"
MATCH_LABEL = "cartridge.dev/match"  # on the Job and its pod: the match's id
MATCH_QUOTA = "cartridge-matches"  # the ResourceQuota of the Terminating scope: the matches' room
APP_LABEL = "app.kubernetes.io/name"
# Why a container that waits will not start by itself: the sentence for each, and what to look at.
STUCK = {
    "ErrImagePull": "its image cannot be pulled",
    "ImagePullBackOff": "its image cannot be pulled",
    "InvalidImageName": "its image name is invalid",
    "CreateContainerConfigError": "its configuration is missing (the match-credentials Secret or cartridge-config?)",
}


def job_name(match_id: str) -> str:
    return JOB_PREFIX + match_id


def match_job(template: dict, name: str, match_id: str, args: list[str]) -> dict:
    """The Job for one match: the template's jobTemplate (a CronJob as the API returns it), named ``name``, its
    container given ``args``, the Job and its pod labelled with the match's id."""
    job_template = copy.deepcopy(template["spec"]["jobTemplate"])
    meta = job_template.get("metadata") or {}
    spec = job_template["spec"]
    pod_meta = spec["template"].setdefault("metadata", {})
    pod_meta["labels"] = {**(pod_meta.get("labels") or {}), MATCH_LABEL: match_id}
    (container,) = [c for c in spec["template"]["spec"]["containers"] if c["name"] == CONTAINER]
    container["args"] = list(args)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "labels": {**(meta.get("labels") or {}), MATCH_LABEL: match_id},
            "annotations": {**(meta.get("annotations") or {}), "cronjob.kubernetes.io/instantiate": "manual"},
        },
        "spec": spec,
    }


def container_requests(template: dict) -> dict[str, str]:
    """What one match's pod requests (its container's requests), as in the template."""
    (container,) = template["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    return dict((container.get("resources") or {}).get("requests") or {})


def quota_refusal(quota: dict, requests: dict[str, str], running: list[str]) -> str | None:
    """Why a match does not fit the match quota (its status as the API returns it), or None when it does."""
    from kubernetes.utils import parse_quantity

    hard, used = (quota.get("status") or {}).get("hard") or {}, (quota.get("status") or {}).get("used") or {}
    for resource, wanted in requests.items():
        key = f"requests.{resource}"
        if key not in hard:
            continue
        left = parse_quantity(hard[key]) - parse_quantity(used.get(key, "0"))
        if parse_quantity(wanted) > left:
            who = f": {', '.join(running)} is running" if running else ""
            return (
                f"a match needs {wanted} {resource} and the namespace's room for matches ({MATCH_QUOTA}, "
                f"{hard[key]}) has {_quantity(left, resource)} left{who}"
            )
    return None


def _quantity(value: Decimal, resource: str) -> str:
    if resource == "cpu":
        return f"{value * 1000:.0f}m"
    return f"{value / 2**20:.0f}Mi"


class MatchJobs:
    """A match Job's life with the Kubernetes client: only the calls the `match-launcher` Role allows."""

    def __init__(self, batch, core, namespace: str = NAMESPACE, poll: float = 1.0) -> None:
        self.batch, self.core, self.namespace, self.poll = batch, core, namespace, poll

    def template(self) -> dict:
        from kubernetes.client import ApiClient
        from kubernetes.client.exceptions import ApiException

        try:
            found = self.batch.read_namespaced_cron_job(TEMPLATE, self.namespace, _request_timeout=20)
        except ApiException as exc:
            if exc.status == 404:
                raise DevtoolsError(
                    f"no match template: the CronJob {self.namespace}/{TEMPLATE} is missing",
                    "deploy the current manifests (`devtools up --runtime kind`)",
                ) from None
            raise
        return ApiClient().sanitize_for_serialization(found)

    def create(self, job: dict) -> None:
        self.batch.create_namespaced_job(self.namespace, job, _request_timeout=20)

    def running(self) -> list[str]:
        """The match Jobs with a pod running now."""
        jobs = self.batch.list_namespaced_job(self.namespace, label_selector=f"{APP_LABEL}=match", _request_timeout=20)
        # A Job the controller has not seen yet has no status at all.
        return [j.metadata.name for j in jobs.items if j.status is not None and (j.status.active or 0) > 0]

    def pod(self, match_id: str):
        pods = self.core.list_namespaced_pod(
            self.namespace, label_selector=f"{MATCH_LABEL}={match_id}", _request_timeout=20
        ).items
        return pods[0] if pods else None

    def started_pod(self, name: str, match_id: str, timeout: float, progress: Progress) -> str:
        """The Job's pod once its container runs (or has run); DevtoolsError with the reason when it cannot start,
        or when no pod comes within ``timeout`` (the match quota full, or the node)."""
        deadline, said = time.monotonic() + timeout, ""
        while True:
            pod = self.pod(match_id)
            if pod is not None:
                if pod.status.phase in ("Running", "Succeeded", "Failed"):
                    return pod.metadata.name
                reason = waiting_reason(pod)
                if reason in STUCK:
                    raise DevtoolsError(
                        f"the match's pod {pod.metadata.name} cannot start: {STUCK[reason]} ({reason})",
                        f"`kubectl -n {self.namespace} describe pod {pod.metadata.name}` says more",
                    )
                state = f"pod {pod.metadata.name}: {pod.status.phase}" + (f" ({reason})" if reason else "")
            else:
                state = f"no pod for {name} yet"
            if state != said:
                progress(state)
                said = state
            if time.monotonic() > deadline:
                raise DevtoolsError(
                    f"the match Job {name} has no running pod after {timeout:.0f} s ({state})",
                    f"see `kubectl -n {self.namespace} describe job {name}` (a full match quota, {MATCH_QUOTA}, "
                    "or a busy node keeps a pod from starting)",
                )
            time.sleep(self.poll)

    def log(self, pod: str, follow: bool, tail: int | None = None) -> Iterator[str]:
        """The match container's log, line by line; ``follow`` streams it until the container ends."""
        response = self.core.read_namespaced_pod_log(
            pod,
            self.namespace,
            container=CONTAINER,
            follow=follow,
            tail_lines=tail,
            _preload_content=False,
            _request_timeout=None if follow else 30,
        )
        pending = b""
        try:
            for chunk in response.stream(4096):
                pending += chunk
                *complete, pending = pending.split(b"\n")
                yield from (line.decode(errors="replace") for line in complete)
            if pending:
                yield pending.decode(errors="replace")
        finally:
            response.release_conn()

    def ended(self, pod: str, timeout: float = 60) -> object:
        """The pod once its container has ended (Succeeded or Failed)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.core.list_namespaced_pod(
                self.namespace, field_selector=f"metadata.name={pod}", _request_timeout=20
            ).items
            if found and found[0].status.phase in ("Succeeded", "Failed"):
                return found[0]
            if time.monotonic() > deadline:
                return found[0] if found else None
            time.sleep(self.poll)

    def failure(self, name: str) -> str:
        """Why the Job failed, as its Failed condition says (DeadlineExceeded, BackoffLimitExceeded), or ""."""
        job = self.batch.read_namespaced_job(name, self.namespace, _request_timeout=20)
        for condition in (job.status.conditions or []) if job.status is not None else []:
            if condition.type == "Failed" and condition.status == "True":
                return f"{condition.reason}: {condition.message}" if condition.message else condition.reason or ""
        return ""

    def delete(self, name: str) -> None:
        self.batch.delete_namespaced_job(name, self.namespace, propagation_policy="Background", _request_timeout=20)

    def play(self, request: MatchRequest, progress: Progress, pod_timeout: float = 300) -> dict:
        """Create the match's Job, follow its pod's log (each line to ``progress``) and return the result of its
        last line. Ctrl-C deletes the Job, and with it the pod: nothing keeps playing."""
        name = job_name(request.match_id)
        self.create(match_job(self.template(), name, request.match_id, request.play_args()))
        progress(f"created Job {self.namespace}/{name}")
        try:
            pod = self.started_pod(name, request.match_id, pod_timeout, progress)
            lines = show_lines(self.log(pod, follow=True), progress)
            ended = self.ended(pod)
            if not any(line.strip() for line in lines[-1:]):  # the stream broke: the last lines from the log itself
                lines = list(self.log(pod, follow=False, tail=20))
        except KeyboardInterrupt:
            self.delete(name)
            progress(f"deleted Job {name}")
            raise
        where = f"`kubectl -n {self.namespace} logs job/{name}` (kept for its ttlSecondsAfterFinished)"
        try:
            return result_from_lines(lines, where)
        except DevtoolsError as exc:
            ended_as = [f"its container ended {r}" for r in [terminated_reason(ended)] if r]
            ended_as += [f"the Job failed ({r})" for r in [self.failure(name)] if r]
            raise DevtoolsError("; ".join([exc.message, *ended_as]), exc.hint) from None


def waiting_reason(pod) -> str:
    for status in pod.status.container_statuses or []:
        if status.state is not None and status.state.waiting is not None:
            return status.state.waiting.reason or ""
    return ""


def terminated_reason(pod) -> str:
    for status in (pod.status.container_statuses or []) if pod is not None else []:
        done = status.state.terminated if status.state is not None else None
        if done is not None:
            return f"{done.reason or 'with'} (exit code {done.exit_code})"
    return ""


class KindMatch:
    """`devtools match` on the kind cluster the names name: the quota check, the Job (MatchJobs), the record."""

    name = "kind"

    def __init__(
        self,
        progress: Progress,
        names: KindNames | None = None,
        runtime=None,
        clients: Callable[[], tuple] | None = None,
    ) -> None:
        from devtools.runtimes import kind_runtime

        self.progress = progress
        self.runtime = runtime or kind_runtime(progress, names or KindNames())
        self._clients = clients or self._kube_clients

    def _kube_clients(self) -> tuple:
        from kubernetes import client

        load_kubeconfig(self.runtime.spec.context)
        return client.BatchV1Api(), client.CoreV1Api()

    def play(self, request: MatchRequest, progress: Progress) -> dict:
        batch, core = self._clients()
        jobs = MatchJobs(batch, core)
        refusal = self.quota_refusal(core, jobs)
        if refusal:
            raise DevtoolsError(
                refusal,
                f"wait for it to finish (`kubectl -n {NAMESPACE} get jobs -l {APP_LABEL}=match`), or delete it",
            )
        return jobs.play(request, progress)

    def quota_refusal(self, core, jobs: MatchJobs) -> str | None:
        """Why a match would not be admitted now (None without a match quota, as on an older deployment)."""
        from kubernetes.client import ApiClient
        from kubernetes.client.exceptions import ApiException

        try:
            quota = core.read_namespaced_resource_quota(MATCH_QUOTA, NAMESPACE, _request_timeout=20)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        quota = ApiClient().sanitize_for_serialization(quota)
        return quota_refusal(quota, container_requests(jobs.template()), jobs.running())

    def record(self, result: dict) -> dict:
        """`python -m cartridge_arena.match record` in the arena's pod, which has the arena's database login (the
        match Job may reach MinIO only)."""
        args = ("exec", "-i", "deployment/arena", "-c", "arena", "--", "python", "-m", MODULE, "record")
        try:
            done = self.runtime.kubectl(*args, namespace=NAMESPACE, input=json.dumps(result), timeout=120)
        except DevtoolsError as exc:
            return recorded([], exc.message)
        return recorded(done.stdout.splitlines(), done.stderr)
