"""The kind cluster, wired to the local registry as in kind's local-registry guide.

``ClusterController.apply(spec)`` is idempotent: it creates the cluster only if kind does not list
it, (re)writes each node's containerd hosts.toml for the registry, connects the registry to the
"kind" network and applies the local-registry-hosting ConfigMap (KEP-1755), the steps of kind's own
site/static/examples/kind-with-registry.sh. The add-ons on top (devtools.kind.addons) come after. A cluster that kind
lists but whose API server does not answer is reported as half-created, with what to do.

kind and kubectl are driven through a ``Runner`` (the CLI boundary), so tests can check the
command plan where no kind binary or node image exists.

devtools never deletes a cluster it did not create. kind cannot label its node containers beyond its own
io.x-k8s.kind.cluster and io.x-k8s.kind.role (kind v0.32.0 pkg/cluster/internal/providers/docker/provision.go);
a node's `labels` in the kind config are Kubernetes Node labels, which anyone creating a cluster from
kind-config.yaml would get too, and which can be read only while the API server answers. So devtools keeps a
record of the node container IDs of each cluster it created (``CreatedClusters``, under $XDG_STATE_HOME).
Container IDs are never reused: a cluster deleted and made again by hand, under the same name, is not ours,
and the record can be read while the nodes are stopped.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from devtools.errors import DevtoolsError, NotCreatedByDevtools
from devtools.kind.names import DEFAULT_CLUSTER, KindNames
from devtools.kind.registry import RegistrySpec
from devtools.pins import KIND_NODE_IMAGE
from devtools.process import Runner, run_command


def kubectl_command(
    *args: str, context: str | None = None, namespace: str | None = None, kubectl: str = "kubectl"
) -> list[str]:
    """kubectl's argv with the context and namespace first, as global flags. After the arguments they could
    land behind a `--` (`kubectl exec POD -- CMD -n NS` runs `CMD -n NS` in namespace default)."""
    return [kubectl, *(["--context", context] if context else []), *(["-n", namespace] if namespace else []), *args]


@dataclass(frozen=True)
class ClusterSpec:
    name: str = DEFAULT_CLUSTER
    config: Path = Path("kind-config.yaml")
    node_image: str = KIND_NODE_IMAGE
    registry: RegistrySpec = field(default_factory=RegistrySpec)

    @property
    def context(self) -> str:
        return f"kind-{self.name}"

    @classmethod
    def named(cls, names: KindNames) -> ClusterSpec:
        """The cluster and its registry as the options name them (the rest as by default)."""
        return cls(name=names.cluster, registry=RegistrySpec(name=names.registry_name, port=names.registry_port))


@dataclass(frozen=True)
class ClusterStatus:
    name: str
    context: str
    nodes: tuple[str, ...]
    created: bool  # True when this apply created the cluster


def hosts_toml(registry: RegistrySpec) -> str:
    # Inside the cluster, containerd reaches the registry by its container name on the kind network.
    return f'[host."http://{registry.name}:5000"]\n'


def registry_hosting_configmap(registry: RegistrySpec) -> str:
    return f"""apiVersion: v1
kind: ConfigMap
metadata:
  name: local-registry-hosting
  namespace: kube-public
data:
  localRegistryHosting.v1: |
    host: "{registry.images}"
    help: "https://kind.sigs.k8s.io/docs/user/local-registry/"
"""


class CreatedClusters:
    """The kind clusters devtools created: cluster name -> its node containers' IDs, in one JSON file."""

    def __init__(self, path: Path | None = None) -> None:
        state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
        self.path = path or state / "cartridge" / "kind-clusters.json"

    def read(self) -> dict[str, list[str]]:
        try:
            return json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            hint = "fix or remove that file: without it devtools deletes no cluster"
            raise DevtoolsError(
                f"cannot read devtools' record of the clusters it made, {self.path} ({exc})", hint
            ) from None

    def write(self, name: str, node_ids: list[str] | None) -> None:
        record = self.read()
        if node_ids is None:
            record.pop(name, None)
        else:
            record[name] = sorted(node_ids)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(f".{self.path.name}.{os.getpid()}.partial")
        partial.write_text(json.dumps(record, indent=2) + "\n")
        partial.replace(self.path)


class ClusterController:
    def __init__(
        self,
        run: Runner = run_command,
        progress: Callable[[str], None] = lambda msg: None,
        created: CreatedClusters | None = None,
    ) -> None:
        self.run = run
        self.progress = progress
        self.created = created or CreatedClusters()

    def node_ids(self, nodes: list[str]) -> list[str]:
        if not nodes:
            return []
        return self.run(["docker", "inspect", "--format", "{{.Id}}", *nodes]).stdout.split()

    def created_by_devtools(self, spec: ClusterSpec) -> bool:
        """Every node container of the cluster is one devtools' record says it created."""
        recorded = self.created.read().get(spec.name)
        return recorded is not None and set(self.node_ids(self.nodes(spec))) <= set(recorded)

    def names(self) -> list[str]:
        """Every kind cluster on this machine (devtools' or not)."""
        return self.run(["kind", "get", "clusters"]).stdout.split()

    def exists(self, spec: ClusterSpec) -> bool:
        return spec.name in self.names()

    def nodes(self, spec: ClusterSpec) -> list[str]:
        return self.run(["kind", "get", "nodes", "--name", spec.name]).stdout.split()

    def api_answers(self, spec: ClusterSpec) -> bool:
        try:
            self.kubectl(spec, "get", "--raw", "/readyz", timeout=20)
        except DevtoolsError:
            return False
        return True

    def get(self, spec: ClusterSpec) -> ClusterStatus | None:
        """The cluster as kind lists it, None when there is none (its API server may not answer: see api_answers)."""
        if not self.exists(spec):
            return None
        return ClusterStatus(spec.name, spec.context, tuple(self.nodes(spec)), created=False)

    def apply(self, spec: ClusterSpec, connect_registry: Callable[[], None] = lambda: None) -> ClusterStatus:
        created = False
        if not self.exists(spec):
            self.progress(f"Creating kind cluster {spec.name} ({spec.node_image.split('@')[0]})")
            self.run(
                [
                    "kind",
                    "create",
                    "cluster",
                    "--name",
                    spec.name,
                    "--config",
                    str(spec.config),
                    "--image",
                    spec.node_image,
                    "--wait",
                    "120s",
                ],
                timeout=900,
            )
            created = True
            self.created.write(spec.name, self.node_ids(self.nodes(spec)))
        nodes = self.nodes(spec)
        if not nodes:
            raise DevtoolsError(
                f"kind lists cluster {spec.name} but it has no nodes (half-created)",
                "run `devtools down --all` to remove it, then `devtools up` again",
            )
        if not self.api_answers(spec):
            self.progress(f"Starting the stopped node containers of {spec.name}")
            for node in nodes:
                self.run(["docker", "start", node])
            if not self.api_answers(spec):
                raise DevtoolsError(
                    f"cluster {spec.name} exists but its API server does not answer (half-created or broken)",
                    "run `devtools down --all` to remove it, then `devtools up` again",
                )
        registry_dir = f"/etc/containerd/certs.d/{spec.registry.images}"
        for node in nodes:
            self.run(["docker", "exec", node, "mkdir", "-p", registry_dir])
            self.run(
                ["docker", "exec", "-i", node, "cp", "/dev/stdin", f"{registry_dir}/hosts.toml"],
                input=hosts_toml(spec.registry),
            )
        connect_registry()
        self.kubectl(spec, "apply", "-f", "-", input=registry_hosting_configmap(spec.registry))
        return ClusterStatus(spec.name, spec.context, tuple(nodes), created)

    def kubectl(
        self,
        spec: ClusterSpec,
        *args: str,
        namespace: str | None = None,
        input: str | None = None,
        timeout: float = 300,
    ):
        return self.run(kubectl_command(*args, context=spec.context, namespace=namespace), input=input, timeout=timeout)

    def delete(self, spec: ClusterSpec) -> bool:
        """Delete the cluster devtools created; False when there is none, a refusal when it is not devtools'."""
        if not self.exists(spec):
            return False
        if not self.created_by_devtools(spec):
            raise NotCreatedByDevtools(
                f"devtools did not create the kind cluster {spec.name}, so it does not delete it",
                f"if you no longer need it, delete it yourself: `kind delete cluster --name {spec.name}`",
            )
        self.progress(f"Deleting kind cluster {spec.name}")
        self.run(["kind", "delete", "cluster", "--name", spec.name], timeout=300)
        self.created.write(spec.name, None)
        return True
