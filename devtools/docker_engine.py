"""The Docker engine devtools talks to (registry, cloud-provider-kind, image builds, doctor): one client factory."""

from __future__ import annotations

import docker
from docker.errors import DockerException

from devtools.errors import DevtoolsError


def docker_client() -> docker.DockerClient:
    """A client of the engine DOCKER_HOST (or the default socket) names, once it answers a ping."""
    try:
        client = docker.from_env(timeout=30)
        client.ping()
    except DockerException as exc:
        raise DevtoolsError(
            f"the Docker daemon does not answer ({exc.__class__.__name__})",
            "start Docker (or set DOCKER_HOST) and run the command again; `devtools doctor` checks it",
        ) from None
    return client
