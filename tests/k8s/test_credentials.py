"""k8s/: one identity per workload. Each pod is given only its own Secret; the superuser's and MinIO root's
credentials reach only their server and its set-up Job; the MinIO policies let only the trainer write."""

from __future__ import annotations

import json
import re

import pytest

from cartridge.replay.setup import WORKLOADS
from tests.k8s.render import by_kind, pod_spec, render, unhashed, workloads

OVERLAYS = ("k8s/local", "k8s/prod", "k8s/staging", "k8s/local-monitoring")
ADMIN_SECRETS = {  # a server's own credentials -> the only workloads that may hold them
    "postgres-credentials": {"postgres", "postgres-setup"},
    "minio-credentials": {"minio", "minio-create-bucket"},
}
SET_UP_JOBS = {"postgres-setup", "minio-create-bucket"}  # they create every workload's login from its Secret
# The workloads with a MinIO login: the database's, and the on-demand matches (k8s/base/match.yaml), which read models
# and have no database login.
MINIO_LOGINS = (*WORKLOADS, "match")


def secrets_of(workload: dict) -> set[str]:
    """Every Secret a pod can read: env, envFrom and volumes, of every container."""
    spec = pod_spec(workload)
    names = {v["secret"]["secretName"] for v in spec.get("volumes", []) if "secret" in v}
    for container in spec.get("initContainers", []) + spec["containers"]:
        names |= {
            e["valueFrom"]["secretKeyRef"]["name"]
            for e in container.get("env", [])
            if "secretKeyRef" in e.get("valueFrom", {})
        }
        names |= {e["secretRef"]["name"] for e in container.get("envFrom", []) if "secretRef" in e}
    return {unhashed(name) for name in names}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_workload_reads_another_workloads_secret(overlay):
    work = workloads(render(overlay))
    assert {"actor", "trainer", "web"} <= set(work)
    for name, workload in work.items():
        held = secrets_of(workload)
        others = {s for s in held if s.endswith("-credentials") and s != f"{name}-credentials"}
        if name in SET_UP_JOBS:
            others -= {f"{w}-credentials" for w in MINIO_LOGINS}
        others -= {secret for secret, holders in ADMIN_SECRETS.items() if name in holders}
        assert not others, f"{name} reads {sorted(others)}"
        if name in WORKLOADS:
            assert held == {f"{name}-credentials"}, f"{name} must log in with its own Secret, only it"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_servers_and_their_set_up_jobs_hold_the_admin_credentials(overlay):
    work = workloads(render(overlay))
    for secret, holders in ADMIN_SECRETS.items():
        assert {name for name, w in work.items() if secret in secrets_of(w)} == holders, secret


def test_the_set_up_jobs_create_every_workloads_login_from_its_own_secret():
    work = workloads(render("k8s/local"))
    for job in SET_UP_JOBS:
        assert {f"{w}-credentials" for w in WORKLOADS} <= secrets_of(work[job]), job
    setup = pod_spec(work["postgres-setup"])["containers"][0]
    assert setup["command"] == ["python", "-m", "cartridge.replay.setup"]
    env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in setup["env"] if "secretKeyRef" in e.get("valueFrom", {})}
    for w in WORKLOADS:  # the names cartridge.replay.setup.logins_from_env reads
        for key in ("PGUSER", "PGPASSWORD"):
            ref = env[f"{w.upper()}_{key}"]
            assert (unhashed(ref["name"]), ref["key"]) == (f"{w}-credentials", key)


def policies() -> dict[str, dict]:
    data = by_kind(render("k8s/local"), "ConfigMap")["minio-policies"]["data"]
    return {name.removesuffix(".json"): json.loads(text) for name, text in data.items()}


def allowed_actions(policy: dict) -> dict[str, set[str]]:
    """resource ARN -> actions the policy allows on it."""
    allowed: dict[str, set[str]] = {}
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        for resource in statement["Resource"]:
            allowed.setdefault(resource, set()).update(statement["Action"])
    return allowed


def test_readers_may_only_get_and_list_the_models_bucket_and_the_trainer_may_also_put_and_delete():
    bucket = by_kind(render("k8s/local"), "ConfigMap")["cartridge-config"]["data"]["MODELS_BUCKET"]
    bucket_arn, objects_arn = f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"
    read, write = allowed_actions(policies()["models-read"]), allowed_actions(policies()["models-write"])
    assert read == {bucket_arn: {"s3:ListBucket"}, objects_arn: {"s3:GetObject"}}
    assert write == {bucket_arn: {"s3:ListBucket"}, objects_arn: {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"}}
    # The arena: a reader that may put its mark and the promotion, and no model.
    rate = allowed_actions(policies()["models-rate"])
    marks = {f"arn:aws:s3:::{bucket}/models/*/rated.json", f"arn:aws:s3:::{bucket}/models/*/best.json"}
    puts = {mark: {"s3:PutObject"} for mark in marks}
    assert rate == {bucket_arn: {"s3:ListBucket"}, objects_arn: {"s3:GetObject"}} | puts


def test_the_bucket_job_gives_the_write_policy_to_the_trainer_alone():
    job = pod_spec(workloads(render("k8s/local"))["minio-create-bucket"])
    script = job["containers"][0]["command"][-1]
    for name in policies():
        assert f"policy create cartridge {name} /etc/minio-policies/{name}.json" in script
    logins = {w: policy for policy, w in re.findall(r'login (models-\w+) "\$(\w+)_ACCESS_KEY"', script)}
    readers = {w.upper(): "models-read" for w in MINIO_LOGINS if w not in ("trainer", "arena")}
    assert logins == {"TRAINER": "models-write", "ARENA": "models-rate"} | readers
    env = {
        e["name"]: e["valueFrom"]["secretKeyRef"]
        for e in job["containers"][0]["env"]
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    for w in MINIO_LOGINS:
        assert unhashed(env[f"{w.upper()}_ACCESS_KEY"]["name"]) == f"{w}-credentials"
    assert {v["configMap"]["name"] for v in job["volumes"] if "configMap" in v} == {"minio-policies"}
