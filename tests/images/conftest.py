"""The Docker tier: builds the four images once per session with the engine that answers.

On our machines ../shared/tools/container-sandbox provides the engine and stand-in base images
(.ci/run exports PYTHON_IMAGE, NODE_IMAGE, NGINX_IMAGE, REGISTRY_IMAGE); elsewhere the upstream
defaults in the Dockerfiles are used. Without an engine the tier skips with one line.
"""

from __future__ import annotations

import pytest

from devtools.images import COMPONENTS, build_images

docker = pytest.importorskip("docker")


@pytest.fixture(scope="session")
def client():
    try:
        c = docker.from_env(timeout=600)
        c.ping()
    except docker.errors.DockerException as exc:
        pytest.skip(f"no Docker engine answers ({exc.__class__.__name__}); .ci/run starts one with container-sandbox")
    return c


@pytest.fixture(scope="session")
def images(client) -> dict:
    built = build_images(names=list(COMPONENTS), tag="test", client=client)
    return {image.component: image for image in built}
