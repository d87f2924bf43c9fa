"""S3 model store: s3://bucket/prefix via boto3 (S3_ENDPOINT_URL for MinIO, path-style addressing).

Each object is written in a single PUT, which S3 makes visible atomically: readers see the old manifest or
the new one. The manifest's change token is its ETag, from a HEAD.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
from collections.abc import Iterator

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .base import (
    CHUNK_BYTES,
    DEFAULT_MODEL_MAX_BYTES,
    POINTERS,
    RATED_NAME,
    ModelStore,
    ModelStoreUnavailable,
    ObjectMissing,
    StoredObject,
)


def _what(key: str) -> str:
    """How an error message names the object a request was about."""
    name = key.rsplit("/", 1)[-1]
    if name in POINTERS.values():
        return "the manifest" if name == POINTERS["latest"] else f"the {name.removesuffix('.json')} manifest"
    return "the arena's mark" if name == RATED_NAME else f"model {key}"


class S3ModelStore(ModelStore):
    def __init__(
        self,
        url: str,
        endpoint_url: str | None = None,
        keep_versions: int = 10,
        max_model_bytes: int = DEFAULT_MODEL_MAX_BYTES,
    ) -> None:
        rest = url.removeprefix("s3://")
        bucket, _, prefix = rest.partition("/")
        if not bucket:
            raise ModelStoreUnavailable(f"MODEL_STORE_URL={url!r}: expected s3://bucket/prefix")
        self.url = url
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.keep_versions = keep_versions
        self.max_model_bytes = max_model_bytes
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

    def _s3_key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _where(self) -> str:
        return f"s3://{self.bucket}/{self.prefix} at {self.endpoint_url or 'AWS'}"

    def _call(self, what: str, fn, **kwargs):
        """One S3 request. A missing key raises ObjectMissing; anything else that goes wrong (no bucket, access
        denied, throttling, MinIO starting up, no connection) is ModelStoreUnavailable naming the store."""
        try:
            return fn(**kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            if code in ("NoSuchKey", "404", "NotFound"):
                raise ObjectMissing(kwargs.get("Key", "")) from None
            if code == "NoSuchBucket":
                raise ModelStoreUnavailable(f"bucket {self.bucket!r} does not exist ({self._where()})") from None
            detail = f"{code}: {error.get('Message')}" if error.get("Message") else code
            raise ModelStoreUnavailable(f"model store {self._where()} refused to {what} ({detail})") from None
        except BotoCoreError as exc:
            message = f"model store {self._where()} unreachable while trying to {what}: {exc}"
            raise ModelStoreUnavailable(message) from None

    def _head(self, key: str) -> StoredObject | None:
        try:
            head = self._call(f"check {_what(key)}", self.client.head_object, Bucket=self.bucket, Key=self._s3_key(key))
        except ObjectMissing:
            return None
        return StoredObject(size=int(head["ContentLength"]), etag=head["ETag"])

    def _get(self, key: str) -> Iterator[bytes]:
        what = f"read {_what(key)}"
        body = self._call(what, self.client.get_object, Bucket=self.bucket, Key=self._s3_key(key))["Body"]
        try:
            yield from body.iter_chunks(CHUNK_BYTES)
        except BotoCoreError as exc:  # the connection broke or timed out mid-body
            message = f"model store {self._where()} broke off while trying to {what}: {exc}"
            raise ModelStoreUnavailable(message) from None
        finally:
            body.close()  # a read stopped early (too big) must not leave the rest to download

    def _put(self, key: str, data: bytes) -> None:
        md5 = base64.b64encode(hashlib.md5(data).digest()).decode()  # S3's Content-MD5 integrity check, not security
        content_type = "application/json" if key.endswith(".json") else "application/octet-stream"
        self._call(
            f"write {_what(key)}",
            self.client.put_object,
            Bucket=self.bucket,
            Key=self._s3_key(key),
            Body=data,
            ContentMD5=md5,
            ContentType=content_type,
        )

    def _list(self, env_id: str) -> list[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        prefix = self._s3_key(f"{env_id}/")

        def keys() -> list[str]:  # each page is a request: errors surface while iterating, inside _call
            pages = paginator.paginate(Bucket=self.bucket, Prefix=prefix)
            return [obj["Key"] for page in pages for obj in page.get("Contents", [])]

        return [key.removeprefix(prefix) for key in self._call("list the versions", keys)]

    def _delete(self, key: str) -> None:
        with contextlib.suppress(ObjectMissing):  # another publisher's retention got there first
            self._call(f"delete {_what(key)}", self.client.delete_object, Bucket=self.bucket, Key=self._s3_key(key))

    def ping(self) -> None:
        try:
            self._call("reach the bucket", self.client.head_bucket, Bucket=self.bucket)
        except ObjectMissing:
            raise ModelStoreUnavailable(f"bucket {self.bucket!r} does not exist ({self._where()})") from None
