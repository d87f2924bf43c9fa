from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest

from cartridge.modelstore import ModelStore, open_model_store
from testkit.support import s3_server


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3 API server on loopback (moto's server mode) for the session."""
    with s3_server() as endpoint:
        yield endpoint


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
