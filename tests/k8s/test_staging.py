"""k8s/staging: production's shape, smaller, with monitoring on (test_manifests and test_monitoring_component hold
it to every rule the other overlays follow)."""

from __future__ import annotations

from tests.k8s.render import by_kind, pod_spec, render, workloads


def images(overlay: str) -> dict[str, str]:
    return {n: c["image"] for n, w in workloads(render(overlay)).items() for c in pod_spec(w)["containers"]}


def test_staging_runs_production_s_images_and_secrets_on_its_own_host():
    assert images("k8s/staging") == images("k8s/prod")  # a release's tag (scripts/release.py) reaches both
    assert by_kind(render("k8s/staging"), "Secret") == {}
    hosts = {
        overlay: {lst["hostname"] for lst in by_kind(render(overlay), "Gateway")["cartridge"]["spec"]["listeners"]}
        for overlay in ("k8s/staging", "k8s/prod")
    }
    assert hosts["k8s/staging"] == {"staging.cartridge.example.com"} and hosts["k8s/staging"] != hosts["k8s/prod"]


def test_staging_is_smaller_than_production_with_the_same_container_resources():
    staging, prod = render("k8s/staging"), render("k8s/prod")
    for name in ("web", "frontend"):
        assert workloads(staging)[name]["spec"]["replicas"] < workloads(prod)[name]["spec"]["replicas"], name
    hpa = {
        o: by_kind(o_objects, "HorizontalPodAutoscaler")["actor"]["spec"]
        for o, o_objects in (("staging", staging), ("prod", prod))
    }
    assert hpa["staging"]["maxReplicas"] < hpa["prod"]["maxReplicas"]
    claims = {
        o: {n: c["spec"]["resources"]["requests"]["storage"] for n, c in by_kind(objs, "PersistentVolumeClaim").items()}
        for o, objs in (("staging", staging), ("prod", prod))
    }
    assert claims["staging"] == {"trainer-checkpoints": "5Gi", "minio-data": "20Gi"}
    assert claims["prod"] == {"trainer-checkpoints": "10Gi", "minio-data": "50Gi"}
    for name, workload in workloads(staging).items():
        assert (
            pod_spec(workload)["containers"][0]["resources"]
            == pod_spec(workloads(prod)[name])["containers"][0]["resources"]
        ), name
