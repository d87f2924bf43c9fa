"""The stack under test, behind one small interface, for the local runtime and for a kind cluster.

LocalStack brings Cartridge up through the same code as `devtools up --runtime local`, in a temporary
data directory with small settings. KindStack uses devtools' kind runtime (registry, cluster,
images pushed, k8s/local applied, rollouts awaited) and pytest-kind's KindCluster for kubectl and
port-forwards to the web, PostgreSQL and MinIO.
"""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import subprocess
import urllib.request
from pathlib import Path

from cartridge.modelstore import ModelStore, open_model_store
from cartridge.replay import ReplayBuffer, open_replay

REPO = Path(__file__).resolve().parents[1]

SMALL_SETTINGS = {
    "MCTS_MAX_SIMS": "16",
    "ACTOR_PARALLEL_GAMES": "16",
    "EPISODES_PER_ITERATION": "40",
    "TRAIN_STEPS_PER_ITERATION": "40",
    "BATCH_SIZE": "64",
    "MODEL_POLL_SECONDS": "1",
    "WEB_SIMS": "16",
}


def get_json(url: str, method: str = "GET", body: dict | None = None, timeout: float = 10) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.load(response)


class LocalStack:
    target = "local"

    def __init__(self, data_dir: Path, actors: int = 2) -> None:
        from devtools.local import LocalConfig, LocalRuntime
        from tests.support import free_port

        self.config = LocalConfig(
            data_dir=data_dir, actors=actors, frontend=False, settings=SMALL_SETTINGS,
            web_port=free_port(), frontend_port=free_port(), trainer_port=free_port(), actor_base_port=free_port(),
        )  # fmt: skip
        self.runtime = LocalRuntime(self.config)
        self.web_url = f"http://127.0.0.1:{self.config.web_port}"

    def up(self) -> None:
        self.runtime.up(detach=True, timeout=180)

    def down(self) -> None:
        self.runtime.down()

    def replay(self) -> ReplayBuffer:
        return open_replay(f"sqlite:///{self.config.data_dir.resolve()}/replay.db")

    def store(self) -> ModelStore:
        return open_model_store(f"file://{self.config.data_dir.resolve()}/models")

    def actor_model_versions(self) -> list[int]:
        return [get_json(f"{c.url}/health")["model_version"] for c in self.config.components() if c.kind == "actor"]

    def collect(self, into: Path) -> None:
        into.mkdir(parents=True, exist_ok=True)
        logs = self.config.data_dir / "logs"
        if logs.exists():
            shutil.copytree(logs, into / "logs", dirs_exist_ok=True)
        status = [s.__dict__ for s in self.runtime.status()]
        (into / "devtools-status.json").write_text(json.dumps({"components": status, "stats": self.runtime.stats()},
                                                              indent=2, default=str))  # fmt: skip


class KindStack:
    target = "kind"
    namespace = "cartridge"

    def __init__(self, workdir: Path) -> None:
        from pytest_kind import KindCluster

        from devtools.tools import KIND_NODE_IMAGE

        self.workdir = workdir
        self.cluster = KindCluster(
            "cartridge", kubeconfig=workdir / "kubeconfig", image=KIND_NODE_IMAGE,
            kind_path=Path(shutil.which("kind")), kubectl_path=Path(shutil.which("kubectl")),
        )  # fmt: skip
        self._forwards = contextlib.ExitStack()
        self.web_url = ""

    def up(self) -> None:
        from devtools.kind_runtime import KindOptions, KindRuntime

        # The same path as `devtools up --runtime kind --no-tilt`: idempotent, so a cluster that CI
        # already deployed is reused as it is.
        KindRuntime(KindOptions(repo_root=REPO, tilt=None)).up()
        # KindCluster.create reuses an existing cluster but then expects its kubeconfig to be there already.
        kubeconfig = subprocess.run([shutil.which("kind"), "get", "kubeconfig", "--name", "cartridge"],
                                    capture_output=True, text=True, check=True).stdout  # fmt: skip
        (self.workdir / "kubeconfig").write_text(kubeconfig)
        (self.workdir / "kubeconfig").chmod(0o600)
        self.cluster.create(REPO / "kind-config.yaml")
        web = self._forwards.enter_context(self.cluster.port_forward("service/web", 8080, "-n", self.namespace))
        self.web_url = f"http://127.0.0.1:{web}"
        self.postgres_port = self._forwards.enter_context(
            self.cluster.port_forward("service/postgres", 5432, "-n", self.namespace)
        )
        self.minio_port = self._forwards.enter_context(
            self.cluster.port_forward("service/minio", 9000, "-n", self.namespace)
        )

    def down(self) -> None:
        self._forwards.close()

    def kubectl(self, *args: str) -> str:
        return self.cluster.kubectl(*args, "-n", self.namespace)

    def _secret(self, name: str, key: str) -> str:
        secret = json.loads(self.kubectl("get", "secrets", "-o", "json"))
        for item in secret["items"]:
            if item["metadata"]["name"].startswith(name) and key in item.get("data", {}):
                return base64.b64decode(item["data"][key]).decode()
        raise AssertionError(f"no secret {name} with key {key}")

    def replay(self) -> ReplayBuffer:
        user = self._secret("postgres-credentials", "POSTGRES_USER")
        password = self._secret("postgres-credentials", "POSTGRES_PASSWORD")
        return open_replay(f"postgresql://{user}:{password}@127.0.0.1:{self.postgres_port}/replay")

    def store(self) -> ModelStore:
        import os

        os.environ["AWS_ACCESS_KEY_ID"] = self._secret("minio-credentials", "AWS_ACCESS_KEY_ID")
        os.environ["AWS_SECRET_ACCESS_KEY"] = self._secret("minio-credentials", "AWS_SECRET_ACCESS_KEY")
        return open_model_store("s3://cartridge-models/models", f"http://127.0.0.1:{self.minio_port}")

    def actor_pods(self) -> list[str]:
        pods = json.loads(self.kubectl("get", "pods", "-l", "app.kubernetes.io/name=actor", "-o", "json"))
        return [p["metadata"]["name"] for p in pods["items"] if p["status"].get("phase") == "Running"]

    def actor_model_versions(self) -> list[int]:
        probe = (
            "import json,urllib.request;print(urllib.request.urlopen('http://127.0.0.1:9100/health').read().decode())"
        )
        return [json.loads(self.kubectl("exec", pod, "--", "python", "-c", probe))["model_version"]
                for pod in self.actor_pods()]  # fmt: skip

    def scale_actors(self, replicas: int) -> None:
        # The HPA would fight a manual scale: pin it to the wanted count for the measurement.
        self.kubectl("patch", "hpa", "actor", "--type=merge", "-p",
                     json.dumps({"spec": {"minReplicas": replicas, "maxReplicas": replicas}}))  # fmt: skip
        self.kubectl("scale", "deployment/actor", f"--replicas={replicas}")
        self.kubectl("rollout", "status", "deployment/actor", "--timeout=300s")

    def collect(self, into: Path) -> None:
        into.mkdir(parents=True, exist_ok=True)
        for name, args in {
            "pods.txt": ("get", "pods", "-o", "wide"),
            "events.txt": ("get", "events", "--sort-by=.lastTimestamp"),
            "describe-pods.txt": ("describe", "pods"),
            "logs-web.txt": ("logs", "deployment/web", "--tail=500"),
            "logs-trainer.txt": ("logs", "deployment/trainer", "--tail=500"),
            "logs-actor.txt": ("logs", "deployment/actor", "--tail=500"),
        }.items():
            try:
                (into / name).write_text(self.kubectl(*args))
            except (subprocess.CalledProcessError, OSError) as exc:
                (into / name).write_text(f"could not collect: {exc}")
