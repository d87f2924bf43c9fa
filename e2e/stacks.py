"""The stack under test, behind one small interface, for the local runtime and for a kind cluster.

LocalStack brings Cartridge up through the same code as `devtools up --runtime local`, in a temporary
data directory with small settings. KindStack uses devtools' kind runtime (registry, cluster,
images pushed, k8s/local applied, rollouts awaited), pytest-kind's KindCluster for the kubeconfig and
kubectl, and self-healing port-forwards to the web, PostgreSQL and MinIO.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import os
import shutil
import subprocess
import threading
import urllib.parse
from pathlib import Path

from cartridge.modelstore import ModelStore, open_model_store
from cartridge.replay import ReplayBuffer, open_replay
from devtools.http import accepts, request_json
from devtools.kind.cluster import kubectl_command
from devtools.paths import REPO_ROOT
from devtools.profiles import E2E_DIFFERENCES, apply
from devtools.wait import WaitTimeout, wait_until_ready


class LocalStack:
    """``storage="local"``: SQLite and a models directory in the data dir, as `devtools up --runtime local`.
    ``storage="cluster"``: the cluster's pair, PostgreSQL for replay and S3 for models: a PostgreSQL container
    started as the test suite starts one (testkit/postgres.py) and the S3 test server (moto), for the
    session."""

    target = "local"

    def __init__(self, data_dir: Path, actors: int = 2, storage: str = "local", settings: dict | None = None) -> None:
        from devtools.local import LocalConfig
        from testkit.support import free_port, free_ports

        self.config = LocalConfig(
            data_dir=data_dir,
            actors=actors,
            frontend=False,
            settings=apply(E2E_DIFFERENCES) | (settings or {}),
            web_port=free_port(),
            frontend_port=free_port(),
            trainer_port=free_port(),
            actor_base_port=free_ports(actors),
            arena_port=free_port(),
            # `up --monitoring`'s Prometheus beside the services, for the dashboards' test (e2e/test_dashboards.py),
            # wherever there is one to run (make system-deps installs it; that test fails in CI without it).
            monitoring=shutil.which("prometheus") is not None,
            prometheus_port=free_port(),
        )
        self.prometheus_url = f"http://127.0.0.1:{self.config.prometheus_port}" if self.config.monitoring else None
        self.runtime = None  # made by up(), once the storage the services are told about is known
        self.web_url = f"http://127.0.0.1:{self.config.web_port}"
        self.gateway_url: str | None = None  # the local runtime serves the web and frontend directly
        self.storage = storage
        self.storage_env = {  # what the services are told: the runtime's own defaults unless storage="cluster"
            "REPLAY_URL": f"sqlite:///{data_dir.resolve()}/replay.db",
            "MODEL_STORE_URL": f"file://{data_dir.resolve()}/models",
        }
        self._storage_servers = contextlib.ExitStack()

    def up(self, progress=lambda message: None) -> None:
        from devtools.local import LocalRuntime

        if self.storage == "cluster":
            self.storage_env = self._start_cluster_storage()
            self.config = dataclasses.replace(self.config, settings=self.config.settings | self.storage_env)
        self.runtime = LocalRuntime(self.config, progress)
        self.runtime.up(detach=True, timeout=180)

    def _start_cluster_storage(self) -> dict[str, str]:
        import boto3

        from testkit.postgres import postgres_server
        from testkit.support import S3_TEST_CREDENTIALS, free_port, s3_server

        # A pinned host port: the chaos suite restarts the container, and the services keep this URL.
        taken = {c.port for c in self.config.components()}  # the container must not publish a service's port
        host_port = next(port for port in iter(free_port, None) if port not in taken)
        replay_url = self._storage_servers.enter_context(postgres_server(host_port=host_port))
        endpoint = self._storage_servers.enter_context(s3_server())
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="cartridge-models")
        return {
            "REPLAY_URL": replay_url,
            "MODEL_STORE_URL": "s3://cartridge-models/models",
            "S3_ENDPOINT_URL": endpoint,
            **S3_TEST_CREDENTIALS,
        }

    def down(self) -> None:
        try:
            if self.runtime is not None:
                self.runtime.down()
        finally:
            self._storage_servers.close()

    def devtools_match(self) -> tuple[list[str], dict[str, str]]:
        """`devtools match`'s options and environment for this stack: the local runtime in its data dir."""
        return ["--runtime", "local", "--data-dir", str(self.config.data_dir)], dict(os.environ)

    def replay(self) -> ReplayBuffer:
        return open_replay(self.storage_env["REPLAY_URL"])

    def store(self) -> ModelStore:
        return open_model_store(self.storage_env["MODEL_STORE_URL"], self.storage_env.get("S3_ENDPOINT_URL"))

    def actor_model_versions(self) -> list[int]:
        return [request_json(f"{c.url}/health")["model_version"] for c in self.config.components() if c.kind == "actor"]

    def actor_setting(self, name: str) -> str | None:
        """An environment variable as the actors get it: the supervisor's environment under the stack's settings."""
        actor = next(c for c in self.config.components() if c.kind == "actor")
        return {**os.environ, **actor.env}.get(name)

    def collect(self, into: Path) -> None:
        into.mkdir(parents=True, exist_ok=True)
        logs = self.config.data_dir / "logs"
        if logs.exists():
            shutil.copytree(logs, into / "logs", dirs_exist_ok=True)
        if self.runtime is None:
            return
        status = [s.__dict__ for s in self.runtime.status()]
        (into / "devtools-status.json").write_text(
            json.dumps({"components": status, "stats": self.runtime.stats()}, indent=2, default=str)
        )


class PortForward:
    """`kubectl port-forward` to a Service, kept alive for the whole session.

    Started on a free local port and ready once the port accepts a connection; restarted when kubectl
    exits, which it does when the pod behind the Service goes away (a rollout, a crash). pytest-kind's
    own port_forward (and pytest-kind-ng's, the same code) never leaves its retry loop: it starts and kills
    kubectl ten times per forward and never reconnects, so the e2e suite forwards ports itself.
    """

    def __init__(self, kubectl: Path, kubeconfig: Path, namespace: str, target: str, remote_port: int) -> None:
        from testkit.support import free_port

        self.port = free_port()
        self.args = kubectl_command(
            "port-forward", target, f"{self.port}:{remote_port}", namespace=namespace, kubectl=str(kubectl)
        )
        self.env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
        self.proc: subprocess.Popen | None = None
        self._stop = threading.Event()
        self._watchdog = threading.Thread(target=self._watch, daemon=True)

    def _start(self) -> None:
        self.proc = subprocess.Popen(self.args, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def _watch(self) -> None:
        while not self._stop.wait(1):
            if self.proc is not None and self.proc.poll() is not None:
                self._start()

    def __enter__(self) -> int:
        self._start()

        def why_not() -> str | None:
            if accepts(self.port):
                return None
            if self.proc.poll() is not None:
                self._start()
            return f"nothing accepts on 127.0.0.1:{self.port} yet"

        try:
            wait_until_ready(f"`{' '.join(self.args[1:])}`", why_not, 60, interval=0.5)
        except WaitTimeout:
            self.__exit__()
            raise
        self._watchdog.start()
        return self.port

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


class KindStack:
    target = "kind"
    namespace = "cartridge"
    actors = 2  # episodes from two actors at once, as on the local target

    def __init__(self, workdir: Path, kind: Path | None = None, kubectl: Path | None = None) -> None:
        from pytest_kind import KindCluster

        from devtools.pins import KIND_NODE_IMAGE

        self.workdir = workdir
        self.cluster = KindCluster(
            "cartridge",
            kubeconfig=workdir / "kubeconfig",
            image=KIND_NODE_IMAGE,
            kind_path=kind or Path(shutil.which("kind")),
            kubectl_path=kubectl or Path(shutil.which("kubectl")),
        )
        self._forwards = contextlib.ExitStack()
        self.web_url = ""
        self.gateway_url: str | None = None
        self.prometheus_url: str | None = None  # k8s/local runs no Prometheus

    def up(self, progress=lambda message: None) -> None:
        from devtools.kind.runtime import KindOptions, KindRuntime

        # The same path as `devtools up --runtime kind --no-tilt --actors 2`. A stack that CI already
        # deployed (with `tilt ci`) and that is healthy with two actors is tested as it is; otherwise
        # the images are built, pushed and applied here.
        runtime = KindRuntime(KindOptions(repo_root=REPO_ROOT, tilt=None, actors=self.actors), progress)
        runtime.prepare()
        workloads = {w.name: w for w in runtime.workloads()}
        ready = workloads and all(w.healthy for w in workloads.values())
        if not (ready and "actor" in workloads and workloads["actor"].desired >= self.actors):
            runtime.deploy_once()
        # KindCluster.create reuses an existing cluster but then expects its kubeconfig to be there already.
        kubeconfig = subprocess.run(
            [shutil.which("kind"), "get", "kubeconfig", "--name", "cartridge"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        (self.workdir / "kubeconfig").write_text(kubeconfig)
        (self.workdir / "kubeconfig").chmod(0o600)
        self.cluster.create(REPO_ROOT / "kind-config.yaml")

        def forward(service: str, port: int) -> int:
            return self._forwards.enter_context(
                PortForward(
                    self.cluster.kubectl_path, self.cluster.kubeconfig_path, self.namespace, f"service/{service}", port
                )
            )

        self.web_url = f"http://127.0.0.1:{forward('web', 8080)}"
        self.postgres_port = forward("postgres", 5432)
        self.minio_port = forward("minio", 9000)
        # The Gateway's address on the kind network (cloud-provider-kind's Envoy): / and /api through it.
        self.gateway_url = runtime.gateway_url(wait=180)

    def down(self) -> None:
        self._forwards.close()

    def devtools_match(self) -> tuple[list[str], dict[str, str]]:
        """`devtools match`'s options and environment for this stack: the kind cluster, through this kubeconfig."""
        return ["--runtime", "kind"], {**os.environ, "KUBECONFIG": str(self.cluster.kubeconfig_path)}

    def kubectl(self, *args: str, **kwargs) -> str:
        """kubectl in the stack's namespace (pytest-kind's, with its kubeconfig); ``kwargs`` go to
        subprocess.check_output (e.g. stderr=subprocess.PIPE to read why it failed)."""
        return self.cluster.kubectl(*kubectl_command(*args, namespace=self.namespace)[1:], **kwargs)

    def _secret(self, name: str, key: str) -> str:
        secret = json.loads(self.kubectl("get", "secrets", "-o", "json"))
        for item in secret["items"]:
            if item["metadata"]["name"].startswith(name) and key in item.get("data", {}):
                return base64.b64decode(item["data"][key]).decode()
        raise AssertionError(f"no secret {name} with key {key}")

    def replay(self) -> ReplayBuffer:
        user = self._secret("postgres-credentials", "POSTGRES_USER")
        password = self._secret("postgres-credentials", "POSTGRES_PASSWORD")
        quoted = urllib.parse.quote(password, safe="")  # a generated password may hold '@', '/' or ':'
        return open_replay(f"postgresql://{user}:{quoted}@127.0.0.1:{self.postgres_port}/replay")

    def store(self) -> ModelStore:
        import os

        # MinIO's root, as an operator: the workloads' own users may only read, or write models (the trainer).
        os.environ["AWS_ACCESS_KEY_ID"] = self._secret("minio-credentials", "MINIO_ROOT_USER")
        os.environ["AWS_SECRET_ACCESS_KEY"] = self._secret("minio-credentials", "MINIO_ROOT_PASSWORD")
        return open_model_store("s3://cartridge-models/models", f"http://127.0.0.1:{self.minio_port}")

    def actor_pods(self) -> list[str]:
        pods = json.loads(self.kubectl("get", "pods", "-l", "app.kubernetes.io/name=actor", "-o", "json"))
        return [p["metadata"]["name"] for p in pods["items"] if p["status"].get("phase") == "Running"]

    def actor_model_versions(self) -> list[int]:
        probe = (
            "import json,urllib.request;print(urllib.request.urlopen('http://127.0.0.1:9100/health').read().decode())"
        )
        return [
            json.loads(self.kubectl("exec", pod, "--", "python", "-c", probe))["model_version"]
            for pod in self.actor_pods()
        ]

    def actor_setting(self, name: str) -> str | None:
        """An environment variable as the actors get it: the ConfigMap every Python service loads (envFrom)."""
        config = json.loads(self.kubectl("get", "configmap", "cartridge-config", "-o", "json"))
        return config.get("data", {}).get(name)

    def scale_actors(self, replicas: int) -> None:
        # The HPA would fight a manual scale: pin it to the wanted count for the measurement.
        self.kubectl(
            "patch",
            "hpa",
            "actor",
            "--type=merge",
            "-p",
            json.dumps({"spec": {"minReplicas": replicas, "maxReplicas": replicas}}),
        )
        self.kubectl("scale", "deployment/actor", f"--replicas={replicas}")
        self.kubectl("rollout", "status", "deployment/actor", "--timeout=300s")

    def actor_cpu_utilization(self) -> int | None:
        """The actor HorizontalPodAutoscaler's current CPU utilization (percent), None while it has none
        (`<unknown>` in kubectl: no metrics-server, or no sample yet)."""
        hpa = json.loads(self.kubectl("get", "hpa", "actor", "-o", "json"))
        for metric in (hpa.get("status") or {}).get("currentMetrics") or []:
            if metric.get("type") == "Resource" and metric["resource"]["name"] == "cpu":
                return metric["resource"]["current"].get("averageUtilization")
        return None

    def collect(self, into: Path) -> None:
        into.mkdir(parents=True, exist_ok=True)
        for name, args in {
            "pods.txt": ("get", "pods", "-o", "wide"),
            "events.txt": ("get", "events", "--sort-by=.lastTimestamp"),
            "describe-pods.txt": ("describe", "pods"),
            "routing-hpa.yaml": ("get", "gateway,httproute,hpa", "-o", "yaml"),
        }.items():
            self._save(into / name, args)
        self.collect_logs(into / "logs")

    def collect_logs(self, into: Path) -> None:
        """Every container's log of every pod in the namespace (init containers too), the current one and the
        previous one (a crashed container's last words are in the previous one)."""
        into.mkdir(parents=True, exist_ok=True)
        try:
            pods = json.loads(self.kubectl("get", "pods", "-o", "json", stderr=subprocess.PIPE))["items"]
        except (subprocess.CalledProcessError, OSError, ValueError) as exc:
            (into / "could-not-list-pods.txt").write_text(f"could not list the pods: {_why(exc)}")
            return
        for pod in pods:
            name, spec = pod["metadata"]["name"], pod["spec"]
            for container in [c["name"] for c in [*(spec.get("initContainers") or []), *spec["containers"]]]:
                self._save(into / f"{name}.{container}.log", ("logs", name, "-c", container, f"--tail={LOG_LINES}"))
                self._save(
                    into / f"{name}.{container}.previous.log",
                    ("logs", name, "-c", container, "--previous", f"--tail={LOG_LINES}"),
                    absent="previous terminated container",
                )

    def _save(self, path: Path, args: tuple[str, ...], absent: str | None = None) -> None:
        """kubectl's output into ``path``; a failure is written there instead, unless its message contains
        ``absent`` (what is not there is not written: kubectl's "previous terminated container ... not found")."""
        try:
            path.write_text(self.kubectl(*args, stderr=subprocess.PIPE))
        except (subprocess.CalledProcessError, OSError) as exc:
            if absent is None or absent not in _why(exc):
                path.write_text(f"could not collect: {_why(exc)}")


LOG_LINES = 5000  # per container and log: enough for a session's story, bounded for a crash-looping one


def _why(exc: Exception) -> str:
    return (getattr(exc, "stderr", None) or "").strip() or str(exc)
