"""What the chaos suite does to a stack and what it reads back, for the local runtime and for kind.

LocalChaos sends kill -9 to a component's process group (the supervisor restarts it) and restarts the
PostgreSQL container; KindChaos deletes pods (the Deployment or StatefulSet replaces them), the database's
included. Both read the episodes each actor committed from its "episode written" log lines, which survive
the restarts that reset its /metrics counter, and the model version each component serves.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from devtools.http import probe_json
from devtools.local.logs import written_text
from devtools.profiles import Differences
from e2e.stacks import KindStack, LocalStack
from testkit.support import log_events

CHAOS_DIFFERENCES: Differences = {
    "REPLAY_WINDOW": ("600", "a small window, so that a small bound is still above it"),
    "REPLAY_MAX_TRANSITIONS": ("1200", "about 150 tictactoe episodes: the bound fills within the run and pruning runs"),
    "LOG_FORMAT": ("json", "the committed-episode lines of the actors' logs are parsed"),
    # Survival, not strength, is asserted here: the short iterations the suite was measured with (about 2.4 s),
    # so that many publications, and kills between them, fall inside the window.
    "MCTS_MAX_SIMS": ("16", "short iterations: many publications inside the chaos window"),
    "ACTOR_PARALLEL_GAMES": ("16", "short iterations, as above"),
    "EPISODES_PER_ITERATION": ("40", "short iterations, as above"),
    "TRAIN_STEPS_PER_ITERATION": ("40", "short iterations, as above"),
    "BATCH_SIZE": ("64", "short iterations, as above"),
}


def committed_episode_ids(log_text: str) -> set[str]:
    """Episode ids of the "episode written" lines (logged after the commit). A line cut short by kill -9
    is not JSON and is skipped: that episode counts as not committed, which only weakens the check."""
    return {event["episode_id"] for event in log_events(log_text, "episode written")}


class LocalChaos:
    """kill -9 through the local runtime's state file; the supervisor alone brings components back."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.components = [c.name for c in stack.config.components()]
        self.killed: set[int] = set()  # until the supervisor notices, a killed pid stays in its state file

    def pids(self) -> dict[str, int | None]:
        record = self.stack.runtime.state.read()
        return {name: c.pid if c.alive else None for name, c in record.components.items()} if record else {}

    def disrupt(self, name: str) -> str | None:
        """kill -9 the component's process group; None while it has no process (between restarts)."""
        pid = self.pids().get(name)
        if pid is None or pid in self.killed:
            return None
        try:
            os.killpg(pid, signal.SIGKILL)  # its own session and group (supervisor.py): children go too
        except ProcessLookupError:
            return None
        self.killed.add(pid)
        return f"kill -9 {name} (pid {pid})"

    def restarts(self) -> dict[str, int]:
        return {s.name: s.restarts for s in self.stack.runtime.status()}

    def restart_database(self) -> str:
        from testkit.postgres import server_container

        container = server_container(self.stack.storage_env["REPLAY_URL"])
        container.restart(timeout=10)  # SIGTERM (PostgreSQL's smart shutdown), SIGKILL after 10 s, start
        return f"docker restart {container.short_id} (PostgreSQL)"

    def unhealthy(self) -> list[str]:
        """Components not answering /health with status ok (devtools' status), [] when all are healthy."""
        statuses = self.stack.runtime.status()
        return [s.name for s in statuses if not s.healthy] if statuses else ["the supervisor"]

    def served_versions(self) -> dict[str, tuple[str, int]]:
        """component -> (process, model version it serves) for the web and every actor that answers."""
        env = self.stack.config.env_id
        served = {}
        for c in self.stack.config.components():
            if c.kind == "actor" and (health := probe_json(f"{c.url}/health")):
                served[c.name] = (str(health["pid"]), health["model_version"])
            elif c.kind == "web" and (model := probe_json(f"{c.url}/api/model?env_id={env}")):
                served[c.name] = (str(self.pids().get(c.name)), model["version"])
        return served

    def committed(self) -> set[str]:
        logs = Path(self.stack.config.data_dir) / "logs"
        ids: set[str] = set()
        for log in logs.glob("actor-*.log"):
            ids |= committed_episode_ids(written_text(log))  # without the supervisor's stamp before each line
        return ids


class KindChaos:
    """Pods deleted at once (no grace: the kill -9 of a cluster); the controllers alone bring them back.
    The logs of a deleted pod go with it, so each actor pod's log is read just before its deletion: the
    episodes it commits in between are not counted, which weakens the check a little and never fails it."""

    workloads = {"actor": "actor", "trainer": "trainer", "web": "web", "frontend": "frontend"}

    def __init__(self, stack: KindStack) -> None:
        self.stack = stack
        self.components = list(self.workloads)
        self._committed: set[str] = set()

    def _pods(self, name: str) -> list[dict]:
        pods = json.loads(self.stack.kubectl("get", "pods", "-l", f"app.kubernetes.io/name={name}", "-o", "json"))
        return [p for p in pods["items"] if p["metadata"].get("deletionTimestamp") is None]

    def _delete(self, pod: str) -> None:
        self.stack.kubectl("delete", "pod", pod, "--grace-period=0", "--force", "--wait=false")

    def disrupt(self, name: str) -> str | None:
        running = [p for p in self._pods(self.workloads[name]) if p["status"].get("phase") == "Running"]
        if not running:
            return None
        pod = running[int(time.monotonic() * 1000) % len(running)]["metadata"]["name"]
        if name == "actor":
            self._committed |= self._pod_committed(pod)
        self._delete(pod)
        return f"kubectl delete pod {pod} --force"

    def restart_database(self) -> str:
        (pod,) = [p["metadata"]["name"] for p in self._pods("postgres")]
        self._delete(pod)
        return f"kubectl delete pod {pod} --force (PostgreSQL's StatefulSet starts it again on its volume)"

    def unhealthy(self) -> list[str]:
        """Workloads with a pod not Ready (or none at all), PostgreSQL's included; [] when all are."""
        waiting = []
        for name in [*self.workloads.values(), "postgres"]:
            pods = self._pods(name)
            ready = [p for p in pods if all(c.get("ready") for c in p["status"].get("containerStatuses") or [{}])]
            if not pods or len(ready) < len(pods):
                waiting.append(name)
        return waiting

    def served_versions(self) -> dict[str, tuple[str, int]]:
        # Behind the Service: whichever web pod answers, and none may serve an older model than one did before.
        model = probe_json(f"{self.stack.web_url}/api/model")
        return {"web": ("any web pod", model["version"])} if model else {}

    def _pod_committed(self, pod: str) -> set[str]:
        try:
            return committed_episode_ids(self.stack.kubectl("logs", pod))
        except subprocess.CalledProcessError:
            return set()

    def committed(self) -> set[str]:
        for pod in self._pods("actor"):
            self._committed |= self._pod_committed(pod["metadata"]["name"])
        return self._committed

    def apply_bound(self) -> None:
        """The chaos settings on the trainer (its pruner keeps the bound), and the trainer's rollout."""
        window, bound = CHAOS_DIFFERENCES["REPLAY_WINDOW"][0], CHAOS_DIFFERENCES["REPLAY_MAX_TRANSITIONS"][0]
        self.stack.kubectl(
            "set", "env", "deployment/trainer", f"REPLAY_WINDOW={window}", f"REPLAY_MAX_TRANSITIONS={bound}"
        )
        self.stack.kubectl("rollout", "status", "deployment/trainer", "--timeout=300s")
