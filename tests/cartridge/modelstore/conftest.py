from __future__ import annotations

import os
from collections.abc import Iterator

import boto3
import pytest

from cartridge.modelstore import ModelStore, open_model_store
from tests.support import free_port


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3 API server on loopback (moto's server mode) for the session."""
    from moto.server import ThreadedMotoServer

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(params=["directory", "s3"])
def store_url(request, tmp_path) -> Iterator[tuple[str, str | None]]:
    if request.param == "directory":
        yield f"file://{tmp_path}/models", None
        return
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = f"models-{tmp_path.name.lower().replace('_', '-')[-40:]}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    yield f"s3://{bucket}/cartridge", endpoint


@pytest.fixture
def store(store_url) -> ModelStore:
    url, endpoint = store_url
    return open_model_store(url, endpoint, keep_versions=3)
