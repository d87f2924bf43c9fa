"""The kind cluster controller's command plan, at the kind/kubectl CLI boundary (no kind binary runs here)."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from devtools.errors import DevtoolsError
from devtools.kind.cluster import ClusterController, ClusterSpec, hosts_toml, registry_hosting_configmap
from devtools.kind.registry import RegistrySpec
from devtools.paths import REPO_ROOT
from devtools.pins import KIND_NODE_IMAGE


class FakeKind:
    """Answers kind/kubectl/docker commands like a machine where cluster `cartridge` does or does not exist."""

    def __init__(self, exists: bool = False, nodes: int = 1, api_up: bool = True, node_stopped: bool = False):
        self.exists, self.node_count, self.api_up, self.node_stopped = exists, nodes, api_up, node_stopped
        self.generation = 0  # node containers get new IDs each time the cluster is created
        self.calls: list[tuple[list[str], str | None]] = []

    def __call__(self, args, *, input=None, timeout=600):
        args = list(args)
        self.calls.append((args, input))
        out = ""
        if args[:3] == ["kind", "get", "clusters"]:
            out = "cartridge\n" if self.exists else "No kind clusters found.\n"
        elif args[:3] == ["kind", "create", "cluster"]:
            self.exists, self.generation = True, self.generation + 1
        elif args[:2] == ["docker", "inspect"]:
            out = "\n".join(f"{node}-id{self.generation}" for node in args[4:])
        elif args[:3] == ["kind", "get", "nodes"]:
            out = "\n".join(f"cartridge-control-plane{i or ''}" for i in range(self.node_count)) if self.exists else ""
        elif args[:2] == ["kind", "delete"]:
            self.exists = False
        elif args[:2] == ["docker", "start"]:
            self.node_stopped = False
        elif "/readyz" in args and (not self.api_up or self.node_stopped):
            raise DevtoolsError("`kubectl get --raw /readyz` failed: connection refused", "")
        return subprocess.CompletedProcess(args, 0, out, "")

    def commands(self) -> list[str]:
        return [" ".join(a) for a, _ in self.calls]


def test_first_apply_creates_the_cluster_from_kind_config_with_the_pinned_node_image():
    kind = FakeKind()
    status = ClusterController(kind).apply(ClusterSpec(config=REPO_ROOT / "kind-config.yaml"))
    assert status.created and status.context == "kind-cartridge" and status.nodes == ("cartridge-control-plane",)
    create = next(a for a, _ in kind.calls if a[:3] == ["kind", "create", "cluster"])
    assert create[create.index("--name") + 1] == "cartridge"
    assert create[create.index("--config") + 1] == str(REPO_ROOT / "kind-config.yaml")
    assert create[create.index("--image") + 1] == KIND_NODE_IMAGE


def test_each_node_gets_a_hosts_toml_for_the_registry_and_the_hosting_configmap_is_applied():
    kind = FakeKind(nodes=2)
    connected: list[bool] = []
    ClusterController(kind).apply(ClusterSpec(), connect_registry=lambda: connected.append(True))
    writes = [(a, i) for a, i in kind.calls if a[:3] == ["docker", "exec", "-i"]]
    assert [a[3] for a, _ in writes] == ["cartridge-control-plane", "cartridge-control-plane1"]
    for args, text in writes:
        assert args[-1] == "/etc/containerd/certs.d/localhost:5001/hosts.toml"
        assert text == '[host."http://kind-registry:5000"]\n'
    assert connected == [True]
    applied = [i for a, i in kind.calls if a[-3:] == ["apply", "-f", "-"]]
    configmap = yaml.safe_load(applied[0])
    metadata = configmap["metadata"]
    assert (metadata["name"], metadata["namespace"]) == ("local-registry-hosting", "kube-public")
    assert yaml.safe_load(configmap["data"]["localRegistryHosting.v1"])["host"] == "localhost:5001"


def test_second_apply_creates_nothing():
    kind = FakeKind(exists=True)
    status = ClusterController(kind).apply(ClusterSpec())
    assert not status.created
    assert not any(c.startswith(("kind create", "kind delete", "docker start")) for c in kind.commands())


def test_stopped_node_containers_are_started_again():
    kind = FakeKind(exists=True, node_stopped=True)
    ClusterController(kind).apply(ClusterSpec())
    assert "docker start cartridge-control-plane" in kind.commands()


@pytest.mark.parametrize("state", [{"nodes": 0}, {"api_up": False}])
def test_half_created_cluster_is_reported_with_what_to_do(state):
    kind = FakeKind(exists=True, **state)
    with pytest.raises(DevtoolsError) as err:
        ClusterController(kind).apply(ClusterSpec())
    assert "cartridge" in str(err.value) and "devtools down --all" in err.value.hint


def test_delete_only_deletes_an_existing_cluster():
    kind = FakeKind(exists=False)
    assert ClusterController(kind).delete(ClusterSpec()) is False
    ClusterController(kind).apply(ClusterSpec())
    assert ClusterController(kind).delete(ClusterSpec()) is True
    assert "kind delete cluster --name cartridge" in kind.commands()


def test_get_observes_the_cluster_kind_lists_and_none_without_one():
    kind = FakeKind(exists=False)
    assert ClusterController(kind).get(ClusterSpec()) is None
    applied = ClusterController(kind).apply(ClusterSpec())
    observed = ClusterController(kind).get(ClusterSpec())
    assert observed is not None and observed.nodes == applied.nodes and not observed.created


def test_registry_wiring_follows_the_registry_spec():
    registry = RegistrySpec(name="my-registry", port=5999)
    assert hosts_toml(registry) == '[host."http://my-registry:5000"]\n'
    assert 'host: "localhost:5999"' in registry_hosting_configmap(registry)


def test_a_cluster_devtools_created_is_deleted_and_forgotten():
    kind = FakeKind()
    controller = ClusterController(kind)
    controller.apply(ClusterSpec())
    assert controller.created.read() == {"cartridge": ["cartridge-control-plane-id1"]}
    assert controller.delete(ClusterSpec()) is True
    assert "kind delete cluster --name cartridge" in kind.commands() and controller.created.read() == {}


@pytest.mark.parametrize("remade_by_hand", [False, True])
def test_a_cluster_devtools_did_not_create_is_refused_with_one_sentence_and_a_hint(remade_by_hand):
    """Fault 9: `devtools down --all` deleted any kind cluster named cartridge."""
    kind = FakeKind(exists=not remade_by_hand)
    controller = ClusterController(kind)
    if remade_by_hand:  # devtools made one; the user deleted it and made another of that name
        controller.apply(ClusterSpec())
        kind.generation += 1
    with pytest.raises(DevtoolsError) as err:
        controller.delete(ClusterSpec())
    assert err.value.message == "devtools did not create the kind cluster cartridge, so it does not delete it"
    assert err.value.hint.endswith("`kind delete cluster --name cartridge`")
    assert kind.exists and not [c for c in kind.commands() if c.startswith("kind delete")]
