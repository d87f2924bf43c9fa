"""The Docker tier: builds the four images once per session with the engine that answers.

On our machines ../shared/tools/container-sandbox provides the engine and stand-in base images
(.ci/run exports PYTHON_IMAGE, NODE_IMAGE, NGINX_IMAGE, REGISTRY_IMAGE); elsewhere the upstream
defaults in the Dockerfiles are used. Without an engine the tier skips with one line.
"""

from __future__ import annotations

import pytest

from devtools.images import COMPONENTS, build_images


@pytest.fixture(scope="session")
def client(docker_engine):
    return docker_engine


@pytest.fixture(scope="session")
def images(client) -> dict:
    built = build_images(names=list(COMPONENTS), tag="test", client=client)
    return {image.component: image for image in built}
