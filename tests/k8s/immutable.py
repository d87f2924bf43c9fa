"""The fields the Kubernetes API server refuses to change on an update, and a comparison of two versions of an
object against them: what `kubectl apply` of the second over the first would be refused for.

Each entry names the validation (kubernetes/kubernetes, v1.32) that makes it immutable. Kinds not listed here are
mutable in the fields our manifests set: ConfigMap and Secret (unless `immutable: true`, handled below),
ServiceAccount, NetworkPolicy, HorizontalPodAutoscaler, PodDisruptionBudget (policy/v1), Namespace. Gateway API
kinds (CRDs) carry their own CEL rules, which this table does not model.
"""

from __future__ import annotations

from typing import Any

Field = tuple[tuple[str, ...], frozenset[str]]


def fields(names: str) -> list[str]:
    return names.split()


def field(path: str, mutable: str = "") -> Field:
    """A field by its dotted path, with the keys under it (space-separated) that stay mutable."""
    return tuple(path.split(".")), frozenset(fields(mutable))


# kind -> its immutable fields: each, less the keys under it that stay mutable, must not change.
IMMUTABLE: dict[str, tuple[Field, ...]] = {
    # pkg/apis/batch/validation/validation.go, ValidateJobSpecUpdate: selector, template and completions (and, in
    # the releases that added them, completionMode, podFailurePolicy, backoffLimitPerIndex, successPolicy and
    # managedBy) are immutable; only a suspended Job may change its template's scheduling directives.
    "Job": tuple(
        field(f"spec.{name}")
        for name in fields(
            "selector template completions completionMode podFailurePolicy backoffLimitPerIndex successPolicy managedBy"
        )
    ),
    # pkg/registry/apps/deployment/strategy.go (ValidateUpdate): apps/v1 refuses a changed spec.selector; likewise
    # pkg/registry/apps/replicaset and daemonset.
    "Deployment": (field("spec.selector"),),
    "ReplicaSet": (field("spec.selector"),),
    "DaemonSet": (field("spec.selector"),),
    # pkg/apis/apps/validation/validation.go, ValidateStatefulSetUpdate: "updates to statefulset spec for fields
    # other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit',
    # 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden" (selector, serviceName,
    # volumeClaimTemplates, podManagementPolicy among them).
    "StatefulSet": (
        field(
            "spec",
            "replicas ordinals template updateStrategy revisionHistoryLimit "
            "persistentVolumeClaimRetentionPolicy minReadySeconds",
        ),
    ),
    # pkg/apis/core/validation/validation.go, ValidateServiceUpdate: clusterIP and clusterIPs cannot change (but
    # to or from type ExternalName).
    "Service": (field("spec.clusterIP"), field("spec.clusterIPs")),
    # pkg/apis/core/validation/validation.go, ValidatePersistentVolumeClaimUpdate: "spec is immutable after
    # creation except resources.requests and volumeAttributesClassName for bound claims" (requests may only grow).
    "PersistentVolumeClaim": (field("spec", "resources volumeAttributesClassName"),),
    # pkg/apis/rbac/validation/validation.go, ValidateRoleBindingUpdate: "cannot change roleRef".
    "RoleBinding": (field("roleRef"),),
    "ClusterRoleBinding": (field("roleRef"),),
}
# pkg/apis/core/validation/validation.go, ValidateConfigMapUpdate / ValidateSecretUpdate: once `immutable: true`,
# data (and binaryData) may not change and the flag may not be unset.
IMMUTABLE_WHEN_MARKED = ("ConfigMap", "Secret")


def _get(obj: dict, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return None
        obj = obj[key]
    return obj


def immutable_view(obj: dict) -> dict[str, Any]:
    """The values of ``obj``'s immutable fields, by dotted path (absent fields as None)."""
    view = {}
    for path, mutable in IMMUTABLE.get(obj["kind"], ()):
        value = _get(obj, path)
        if isinstance(value, dict) and mutable:
            value = {k: v for k, v in value.items() if k not in mutable}
        view[".".join(path)] = value
    return view


def refused_changes(old: dict, new: dict) -> list[str]:
    """The immutable fields on which ``new`` differs from ``old`` (the same object): what the API server would
    refuse an update of ``old`` to ``new`` for. Empty when the update may be applied in place."""
    changed = [path for path, value in immutable_view(old).items() if immutable_view(new)[path] != value]
    if old["kind"] in IMMUTABLE_WHEN_MARKED and old.get("immutable"):
        changed += [key for key in ("data", "binaryData", "immutable") if old.get(key) != new.get(key)]
    return changed


def key(obj: dict) -> tuple[str, str, str]:
    return obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"]
