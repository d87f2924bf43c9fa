"""The MinIO policies of k8s/ (ConfigMap minio-policies), enforced by the S3 test server: moto evaluates IAM
policies once its authentication is switched on, so a reader's put is refused by the policy itself."""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Iterator

import boto3
import moto
import pytest
from botocore.exceptions import ClientError

from cartridge.modelstore import ModelStoreUnavailable, open_model_store
from tests.k8s.render import by_kind, render


def enforce_auth(endpoint: str, unauthenticated_requests: str) -> None:
    """moto's switch: after this many more requests, every request must be signed by a user its policies allow."""
    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth",
        data=unauthenticated_requests.encode(),
        headers={"Content-Type": "text/plain"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


@pytest.fixture
def logins(s3_endpoint) -> Iterator[dict[str, dict[str, str]]]:
    """The bucket of k8s/ and one IAM user per policy (each with its policy document), in the session's S3
    server; authentication enforced for the test only (the other tests share this server)."""
    objects = render("k8s/local")
    bucket = by_kind(objects, "ConfigMap")["cartridge-config"]["data"]["MODELS_BUCKET"]
    documents = by_kind(objects, "ConfigMap")["minio-policies"]["data"]
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    iam = boto3.client("iam", endpoint_url=s3_endpoint, region_name="us-east-1")
    keys = {}
    for name in ("models-read", "models-write", "models-rate"):
        user = f"{name}-{uuid.uuid4().hex[:8]}"  # the session's server outlives this test
        iam.create_user(UserName=user)
        iam.put_user_policy(UserName=user, PolicyName=name, PolicyDocument=documents[f"{name}.json"])
        key = iam.create_access_key(UserName=user)["AccessKey"]
        keys[name] = {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}
    enforce_auth(s3_endpoint, "0")
    try:
        yield keys
    finally:
        enforce_auth(s3_endpoint, "inf")


def user_allowed(iam, bucket: str, action: str) -> dict[str, str]:
    """A new IAM user whose one policy allows `action` on the bucket itself; its keys."""
    user = f"probe-{uuid.uuid4().hex[:8]}"
    statement = {"Effect": "Allow", "Action": [action], "Resource": [f"arn:aws:s3:::{bucket}"]}
    policy = {"Version": "2012-10-17", "Statement": [statement]}
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="probe", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    return {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}


def test_the_s3_test_server_authorises_listing_by_s3_list_bucket_as_aws_does(s3_endpoint):
    """The policy tests below mean something only if the test server judges a listing as AWS and MinIO do:
    ListObjectsV2 (with or without a prefix) needs s3:ListBucket on the bucket's ARN, and nothing else lists.
    moto 5.2.6 asks for s3:ListObjectsV2 instead, and 5.2.1-5.2.3 refuse a prefixed listing; requirements/lock.in
    pins a version that agrees. This fails naming the installed moto when a release judges it differently."""
    bucket = f"probe-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    iam = boto3.client("iam", endpoint_url=s3_endpoint, region_name="us-east-1")
    lister, other = user_allowed(iam, bucket, "s3:ListBucket"), user_allowed(iam, bucket, "s3:ListObjectsV2")
    answers = {}
    enforce_auth(s3_endpoint, "0")
    try:
        for name, keys in (("s3:ListBucket", lister), ("s3:ListObjectsV2", other)):
            s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", **keys)
            for prefix in ("", "models/"):
                try:
                    s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
                    answers[name, prefix] = "allowed"
                except ClientError as exc:
                    answers[name, prefix] = exc.response["Error"]["Code"]
    finally:
        enforce_auth(s3_endpoint, "inf")
    expected = {
        ("s3:ListBucket", ""): "allowed",
        ("s3:ListBucket", "models/"): "allowed",
        ("s3:ListObjectsV2", ""): "AccessDenied",
        ("s3:ListObjectsV2", "models/"): "AccessDenied",
    }
    assert answers == expected, (
        f"moto {moto.__version__} judges ListObjectsV2 unlike AWS (policy action, prefix -> answer: {answers}); "
        "pin a moto that agrees in requirements/lock.in and run `make lock`"
    )


def store_as(keys: dict[str, str], endpoint: str, monkeypatch):
    """The model store as a pod with these AWS_* keys opens it (boto3's default session caches the first
    credentials it finds: a new one reads these, as a new process would)."""
    for name, value in keys.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    bucket = by_kind(render("k8s/local"), "ConfigMap")["cartridge-config"]["data"]["MODELS_BUCKET"]
    return open_model_store(f"s3://{bucket}/models", endpoint)


def test_the_trainer_publishes_and_a_reader_reads_but_may_not_publish(
    logins, s3_endpoint, monkeypatch, tictactoe_model
):
    writer = store_as(logins["models-write"], s3_endpoint, monkeypatch)
    published = writer.publish("tictactoe", tictactoe_model)
    reader = store_as(logins["models-read"], s3_endpoint, monkeypatch)
    assert reader.latest("tictactoe") == published and reader.versions("tictactoe") == [published.version]
    with pytest.raises(ModelStoreUnavailable, match="AccessDenied"):
        reader.publish("tictactoe", tictactoe_model)
    assert reader.versions("tictactoe") == [published.version]


def test_the_arena_marks_and_promotes_but_may_not_publish_or_delete(logins, s3_endpoint, monkeypatch, tictactoe_model):
    writer = store_as(logins["models-write"], s3_endpoint, monkeypatch)
    published = writer.publish("tictactoe", tictactoe_model)
    arena = store_as(logins["models-rate"], s3_endpoint, monkeypatch)
    arena.mark_rated("tictactoe", published.version)
    assert arena.promote("tictactoe", published.version, "won its gate").version == published.version
    stored = arena.versions("tictactoe")
    with pytest.raises(ModelStoreUnavailable, match="AccessDenied"):
        arena.publish("tictactoe", tictactoe_model)
    assert arena.versions("tictactoe") == stored and arena.best("tictactoe").version == published.version
