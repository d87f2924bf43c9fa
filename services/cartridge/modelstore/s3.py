"""S3 model store: s3://bucket/prefix via boto3 (S3_ENDPOINT_URL for MinIO, path-style addressing).

The model object is written first, then latest.json in a single PUT, which S3 makes visible
atomically: readers see the old manifest or the new one. change_token is latest.json's ETag.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import time

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .base import VERSION_NAME, CorruptModel, ModelManifest, ModelStore, ModelStoreUnavailable, sha256_hex, version_name


class _NotFound(Exception):
    """The key is not there (S3's NoSuchKey / 404): each caller decides what that means."""


class S3ModelStore(ModelStore):
    def __init__(self, url: str, endpoint_url: str | None = None, keep_versions: int = 10) -> None:
        rest = url.removeprefix("s3://")
        bucket, _, prefix = rest.partition("/")
        if not bucket:
            raise ModelStoreUnavailable(f"MODEL_STORE_URL={url!r}: expected s3://bucket/prefix")
        self.url = url
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.keep_versions = keep_versions
        self.endpoint_url = endpoint_url
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
            config=Config(
                s3={"addressing_style": "path"},
                connect_timeout=3,
                read_timeout=20,
                retries={"max_attempts": 2, "mode": "standard"},
            ),
        )

    def _key(self, env_id: str, name: str) -> str:
        return "/".join(p for p in (self.prefix, env_id, name) if p)

    def _where(self) -> str:
        return f"s3://{self.bucket}/{self.prefix} at {self.endpoint_url or 'AWS'}"

    def _call(self, what: str, fn, **kwargs):
        """One S3 request. A missing key raises _NotFound; anything else that goes wrong (no bucket, access
        denied, throttling, MinIO starting up, no connection) is ModelStoreUnavailable naming the store."""
        try:
            return fn(**kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            if code in ("NoSuchKey", "404", "NotFound"):
                raise _NotFound from None
            if code == "NoSuchBucket":
                raise ModelStoreUnavailable(f"bucket {self.bucket!r} does not exist ({self._where()})") from None
            detail = f"{code}: {error.get('Message')}" if error.get("Message") else code
            raise ModelStoreUnavailable(f"model store {self._where()} refused to {what} ({detail})") from None
        except BotoCoreError as exc:
            message = f"model store {self._where()} unreachable while trying to {what}: {exc}"
            raise ModelStoreUnavailable(message) from None

    def _get(self, what: str, key: str) -> bytes:
        response = self._call(what, self.client.get_object, Bucket=self.bucket, Key=key)
        try:
            return response["Body"].read()
        except BotoCoreError as exc:  # the connection broke or timed out mid-body
            message = f"model store {self._where()} broke off while trying to {what}: {exc}"
            raise ModelStoreUnavailable(message) from None

    def publish(self, env_id: str, model: bytes, metrics: dict | None = None) -> ModelManifest:
        version = self.next_version(env_id)
        manifest = ModelManifest(env_id, version, sha256_hex(model), len(model), time.time(), dict(metrics or {}))
        md5 = base64.b64encode(hashlib.md5(model).digest()).decode()  # S3's Content-MD5 integrity check, not security
        self._call("upload a model", self.client.put_object, Bucket=self.bucket,
                   Key=self._key(env_id, version_name(version)), Body=model, ContentMD5=md5)  # fmt: skip
        self._call("publish the manifest", self.client.put_object, Bucket=self.bucket,
                   Key=self._key(env_id, "latest.json"), Body=manifest.to_json(),
                   ContentType="application/json")  # fmt: skip
        for old in self.versions(env_id)[: -self.keep_versions]:
            if old != version:
                with contextlib.suppress(_NotFound):  # another publisher's retention got there first
                    self._call("apply retention", self.client.delete_object, Bucket=self.bucket,
                               Key=self._key(env_id, version_name(old)))  # fmt: skip
        return manifest

    def latest(self, env_id: str) -> ModelManifest | None:
        try:
            raw = self._get("read the manifest", self._key(env_id, "latest.json"))
        except _NotFound:
            return None
        return ModelManifest.from_json(raw)

    def change_token(self, env_id: str) -> str | None:
        try:
            head = self._call("check the manifest", self.client.head_object, Bucket=self.bucket,
                              Key=self._key(env_id, "latest.json"))  # fmt: skip
        except _NotFound:
            return None
        return head["ETag"]

    def read_version(self, env_id: str, version: int) -> bytes:
        try:
            return self._get("download a model", self._key(env_id, version_name(version)))
        except _NotFound:
            raise CorruptModel(f"{env_id} {version_name(version)} is named by the manifest but missing") from None

    def versions(self, env_id: str) -> list[int]:
        paginator = self.client.get_paginator("list_objects_v2")

        def keys() -> list[str]:  # each page is a request: errors surface while iterating, inside _call
            pages = paginator.paginate(Bucket=self.bucket, Prefix=self._key(env_id, ""))
            return [obj["Key"] for page in pages for obj in page.get("Contents", [])]

        names = (key.rsplit("/", 1)[-1] for key in self._call("list the versions", keys))
        return sorted(int(m.group(1)) for name in names if (m := VERSION_NAME.match(name)))

    def ping(self) -> None:
        try:
            self._call("reach the bucket", self.client.head_bucket, Bucket=self.bucket)
        except _NotFound:
            raise ModelStoreUnavailable(f"bucket {self.bucket!r} does not exist ({self._where()})") from None
