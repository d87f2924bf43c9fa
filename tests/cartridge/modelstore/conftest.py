from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import boto3
import pytest

from cartridge.modelstore import ModelStore, open_model_store
from tests.support import free_port, wait_until


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3 API server on loopback (moto's server mode) for the session, in a process of its own, so the
    memory a test measures in this process is the client's alone."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_until(lambda: _accepts(port) or server.poll() is not None, 60, "the moto S3 server")
        assert server.poll() is None, f"the moto S3 server exited with {server.returncode}"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(10)


def _accepts(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


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
