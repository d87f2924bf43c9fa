"""kind-config.yaml against the fields kind's v1alpha4 Cluster type accepts.

kind decodes its config strictly: an unknown or misplaced field stops `kind create cluster`. The
schema below is written from kind v0.32.0's pkg/apis/config/v1alpha4/types.go (Cluster, Node,
Networking, Mount, PortMapping, PatchJSON6902), so a typo or a field from another API fails here
instead of on the first real run in Actions.
"""

from __future__ import annotations

import jsonschema
import pytest
import yaml

from devtools.paths import REPO_ROOT


def _object(properties: dict, required: tuple[str, ...] = ()) -> dict:
    return {"type": "object", "properties": properties, "required": list(required), "additionalProperties": False}


_STRINGS = {"type": "array", "items": {"type": "string"}}
_PATCH_6902 = _object(
    {
        "group": {"type": "string"},
        "version": {"type": "string"},
        "kind": {"type": "string"},
        "patch": {"type": "string"},
    },
    ("group", "version", "kind", "patch"),
)
_NODE = _object(
    {
        "role": {"enum": ["control-plane", "worker"]},
        "image": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "extraMounts": {
            "type": "array",
            "items": _object(
                {
                    "containerPath": {"type": "string"},
                    "hostPath": {"type": "string"},
                    "readOnly": {"type": "boolean"},
                    "selinuxRelabel": {"type": "boolean"},
                    "propagation": {"enum": ["None", "HostToContainer", "Bidirectional"]},
                }
            ),
        },
        "extraPortMappings": {
            "type": "array",
            "items": _object(
                {
                    "containerPort": {"type": "integer"},
                    "hostPort": {"type": "integer"},
                    "listenAddress": {"type": "string"},
                    "protocol": {"enum": ["TCP", "UDP", "SCTP"]},
                }
            ),
        },
        "kubeadmConfigPatches": _STRINGS,
        "kubeadmConfigPatchesJSON6902": {"type": "array", "items": _PATCH_6902},
    }
)
KIND_V1ALPHA4_CLUSTER = _object(
    {
        "kind": {"const": "Cluster"},
        "apiVersion": {"const": "kind.x-k8s.io/v1alpha4"},
        "name": {"type": "string"},
        "nodes": {"type": "array", "items": _NODE},
        "networking": _object(
            {
                "ipFamily": {"enum": ["ipv4", "ipv6", "dual"]},
                "apiServerPort": {"type": "integer"},
                "apiServerAddress": {"type": "string"},
                "podSubnet": {"type": "string"},
                "serviceSubnet": {"type": "string"},
                "disableDefaultCNI": {"type": "boolean"},
                "kubeProxyMode": {"enum": ["iptables", "ipvs", "nftables", "none"]},
                "dnsSearch": _STRINGS,
            }
        ),
        "featureGates": {"type": "object", "additionalProperties": {"type": "boolean"}},
        "runtimeConfig": {"type": "object", "additionalProperties": {"type": "string"}},
        "kubeadmConfigPatches": _STRINGS,
        "kubeadmConfigPatchesJSON6902": {"type": "array", "items": _PATCH_6902},
        "containerdConfigPatches": _STRINGS,
        "containerdConfigPatchesJSON6902": _STRINGS,
    },
    ("kind", "apiVersion"),
)


@pytest.fixture(scope="module")
def config() -> dict:
    return yaml.safe_load((REPO_ROOT / "kind-config.yaml").read_text())


def test_kind_config_uses_only_fields_of_the_v1alpha4_cluster_type(config):
    jsonschema.validate(config, KIND_V1ALPHA4_CLUSTER)


@pytest.mark.parametrize(
    "mistake",
    [
        {"nodes": [{"role": "control-plane", "nodeLabels": {"a": "b"}}]},  # not a kind field
        {"nodes": [{"role": "master"}]},  # a role kind does not know
        {"networking": {"kubeProxyMode": "userspace"}},
        {"containerdConfigPatch": []},  # singular: a typo kind refuses
    ],
)
def test_the_schema_refuses_what_kind_refuses(config, mistake):
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**config, **mistake}, KIND_V1ALPHA4_CLUSTER)


def test_node_labels_are_not_passed_through_kubeadm_kubelet_extra_args(config):
    """kubeadm v1beta4 (Kubernetes 1.36+ under kind) takes kubeletExtraArgs as a list of {name, value}; a map
    with node-labels only works while kind converts it. Labels belong in kind's own nodes[].labels."""
    patches = [p for node in config.get("nodes", []) for p in node.get("kubeadmConfigPatches", [])]
    patches += config.get("kubeadmConfigPatches", [])
    for patch in patches:
        for document in yaml.safe_load_all(patch):
            registration = (document or {}).get("nodeRegistration", {})
            assert "node-labels" not in str(registration.get("kubeletExtraArgs", "")), patch


def test_the_cluster_name_and_registry_mirror_match_devtools(config):
    from devtools.kind.cluster import ClusterSpec, hosts_toml

    spec = ClusterSpec()
    assert config["name"] == spec.name
    assert any('config_path = "/etc/containerd/certs.d"' in patch for patch in config["containerdConfigPatches"])
    assert hosts_toml(spec.registry) == '[host."http://kind-registry:5000"]\n'
