"""The Docker tier: the four images built once per session with the engine that answers.

On our machines ../shared/tools/container-sandbox provides the engine and stand-in base images
(.ci/run exports PYTHON_IMAGE, NODE_IMAGE, NGINX_IMAGE, REGISTRY_IMAGE); elsewhere the upstream
defaults in the Dockerfiles are used. Without an engine the tier skips with one line.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.kind.bake import COMPONENTS
from devtools.kind.images import BuiltImage, build_images
from testkit.support import wait_until

HARDENED = {
    "read_only": True,
    "tmpfs": {"/tmp": "rw,size=64m"},
    "cap_drop": ["ALL"],
    "security_opt": ["no-new-privileges"],
}
HTTP_PORT = {"actor": 9100, "arena": 9100, "trainer": 9100, "web": 8080, "frontend": 8080}


@pytest.fixture(scope="session")
def client(docker_engine):
    return docker_engine


@pytest.fixture(scope="session")
def images(client) -> dict[str, BuiltImage]:
    built = build_images(names=COMPONENTS, tag="test", client=client)
    return {image.component: image for image in built}


def http(url: str, data: dict | None = None) -> tuple[int, dict, bytes] | None:
    """(status, headers, body) of a GET (or a JSON POST); None while nothing answers."""
    body = json.dumps(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"} if body else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()
    except OSError:
        return None


def exec_text(container, command: str, user: str = "") -> str:
    return container.exec_run(["sh", "-c", command], user=user).output.decode(errors="replace")


def host_port(container, port: int) -> int:
    container.reload()
    return int(container.ports[f"{port}/tcp"][0]["HostPort"])


def wait_answering(container, path: str, port: int, timeout: float = 120) -> tuple[int, dict, bytes]:
    """Poll the container's published port until it answers; fail with its logs if it exits."""

    def check():
        container.reload()
        if container.status == "exited":
            raise AssertionError(f"{container.name} exited: {container.logs().decode(errors='replace')[-3000:]}")
        return http(f"http://127.0.0.1:{host_port(container, port)}{path}")

    return wait_until(check, timeout, f"{container.name} to answer {path}")  # type: ignore[return-value]


class Containers:
    """Containers and networks a test starts, hardened as in the cluster, all removed at the end."""

    def __init__(self, client) -> None:
        self.client = client
        self.started: list = []
        self.networks: list = []

    def run(self, image: str, port: int | None = None, hardened: bool = True, **kwargs):
        ports = {f"{port}/tcp": ("127.0.0.1", None)} if port else {}
        options = {**(HARDENED if hardened else {}), **kwargs}
        container = self.client.containers.run(image, detach=True, ports=ports, **options)
        self.started.append(container)
        return container

    def network(self) -> str:
        net = self.client.networks.create(f"cartridge-test-{uuid.uuid4().hex[:8]}")
        self.networks.append(net)
        return net.name

    def remove_all(self) -> None:
        for container in self.started:
            container.remove(force=True)
        for net in self.networks:
            net.remove()


@pytest.fixture
def containers(client) -> Iterator[Containers]:
    started = Containers(client)
    yield started
    started.remove_all()


def writable_data_dir(path: Path) -> Path:
    """A host directory uid 10001 can write: besides /tmp, the containers' only writable path."""
    for item in [path, *path.rglob("*")]:
        item.chmod(0o777 if item.is_dir() else 0o666)
    return path
