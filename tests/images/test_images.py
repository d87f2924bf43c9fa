"""The four images, built and run for real: healthy, non-root, read-only root filesystem, pushable."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
import uuid
from pathlib import Path

import pytest

from cartridge.games import get_game
from cartridge.modelstore import open_model_store
from cartridge_trainer.network import PolicyValueNet, export_onnx
from devtools.images import COMPONENTS
from devtools.registry import RegistryController, RegistrySpec
from tests.support import REPO, free_port, wait_until

pytestmark = pytest.mark.docker
SIZE_LIMIT_MB = {"actor": 250, "web": 250, "frontend": 40, "trainer": 1000}
# The upstream base images' sizes (python:3.11-slim-bookworm, nginx:alpine-slim), for comparing
# builds made on stand-in bases with the targets, which are stated for the upstream ones.
UPSTREAM_BASE_MB = {"actor": 130, "web": 130, "trainer": 130, "frontend": 12}


def get(url: str) -> tuple[int, dict, bytes] | None:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return response.status, dict(response.headers), response.read()
    except OSError:
        return None


@pytest.fixture
def data_dir(tmp_path) -> Path:
    """A host directory the container's uid 10001 can write: the only writable path besides /tmp."""
    path = tmp_path / "data"
    path.mkdir()
    path.chmod(0o777)
    return path


@pytest.fixture
def run_container(client):
    started = []

    def run(image: str, port: int, host_port: int, **kwargs):
        container = client.containers.run(
            image, detach=True, read_only=True, tmpfs={"/tmp": "rw,size=64m"},
            ports={f"{port}/tcp": ("127.0.0.1", host_port)}, cap_drop=["ALL"],
            security_opt=["no-new-privileges"], **kwargs,
        )  # fmt: skip
        started.append(container)
        return container

    yield run
    for container in started:
        container.remove(force=True)


def pipeline_env(env_id: str = "tictactoe") -> dict[str, str]:
    return {"ENV_ID": env_id, "REPLAY_URL": "sqlite:////data/replay.db", "MODEL_STORE_URL": "file:///data/models",
            "CHECKPOINT_DIR": "/data/checkpoints", "MCTS_MAX_SIMS": "8"}  # fmt: skip


def wait_healthy(container, url: str):
    def check():
        container.reload()
        if container.status == "exited":
            raise AssertionError(f"container exited: {container.logs().decode()[-3000:]}")
        return get(url)

    return wait_until(check, 120, url)


def uid_of(container) -> str:
    return container.exec_run(["sh", "-c", "id -u"], user="").output.decode().strip()


@pytest.mark.parametrize("component", ["actor", "trainer"])
def test_pipeline_images_answer_health_as_uid_10001_on_a_read_only_root(images, run_container, data_dir, component):
    port = free_port()
    volumes = {str(data_dir): {"bind": "/data", "mode": "rw"}}
    container = run_container(images[component].ref, 9100, port, environment=pipeline_env(), volumes=volumes)
    status, _, body = wait_healthy(container, f"http://127.0.0.1:{port}/health")
    assert status == 200 and json.loads(body)["status"] == "ok"
    assert uid_of(container) == "10001"
    denied = container.exec_run(["sh", "-c", "touch /app/x /opt/venv/x 2>&1; echo $?"])
    assert "Read-only file system" in denied.output.decode()
    if component == "actor":
        wait_until(lambda: json.loads(get(f"http://127.0.0.1:{port}/health")[2])["episodes"] > 0, 60, "episodes")


def test_web_image_serves_a_mounted_model(images, run_container, data_dir):
    game = get_game("tictactoe")
    os.umask(0o022)
    open_model_store(f"file://{data_dir}/models").publish("tictactoe", export_onnx(PolicyValueNet(game), game))
    for path in data_dir.rglob("*"):
        path.chmod(0o777 if path.is_dir() else 0o666)
    port = free_port()
    container = run_container(images["web"].ref, 8080, port, environment=pipeline_env(),
                              volumes={str(data_dir): {"bind": "/data", "mode": "rw"}})  # fmt: skip
    assert wait_healthy(container, f"http://127.0.0.1:{port}/health")[0] == 200
    model = wait_until(lambda: (m := json.loads(get(f"http://127.0.0.1:{port}/api/model")[2]))["has_model"] and m,
                       30, "the model to load")  # fmt: skip
    assert model["version"] == 1
    assert uid_of(container) == "10001"


def test_frontend_image_serves_the_app_with_fallback_and_cache_headers(images, run_container):
    port = free_port()
    container = run_container(images["frontend"].ref, 8080, port, environment={"WEB_UPSTREAM": "http://127.0.0.1:9"})
    status, _, body = wait_healthy(container, f"http://127.0.0.1:{port}/")
    assert status == 200 and b'<div id="app">' in body
    assert get(f"http://127.0.0.1:{port}/healthz")[0] == 200
    assert b'<div id="app">' in get(f"http://127.0.0.1:{port}/some/client/route")[2]
    asset = next(p for p in body.decode().split('"') if p.startswith("/assets/") and p.endswith(".js"))
    _, headers, _ = get(f"http://127.0.0.1:{port}{asset}")
    assert "max-age=31536000" in headers["Cache-Control"] and "immutable" in headers["Cache-Control"]
    assert uid_of(container) == "10001"


def test_images_have_no_build_tools_and_carry_oci_labels(images, client):
    for component, image in images.items():
        labels = client.images.get(image.ref).labels
        assert labels["org.opencontainers.image.title"] == f"cartridge-{component}"
        assert {"org.opencontainers.image.source", "org.opencontainers.image.revision",
                "org.opencontainers.image.version"} <= set(labels)  # fmt: skip
        probe = "for t in gcc cc make pip pip3 npm; do command -v $t; done; ls /opt/venv/bin 2>/dev/null | grep -x pip"
        found = client.containers.run(image.ref, entrypoint=["sh", "-c", probe + " || true"], remove=True)
        # The stand-in base images carry Debian's system pip; the virtualenv we ship must not.
        tools = [t for t in found.decode().split() if t not in ("/usr/bin/pip", "/usr/bin/pip3")]
        assert tools == [], f"{component} ships build tools: {tools}"


def image_sizes(images, client) -> dict[str, tuple[float, float]]:
    """(size as built, estimate on the upstream base) in MB for each image."""
    sizes = {}
    for component, image in images.items():
        built = client.images.get(image.ref)
        # What the Dockerfile adds is the size above its base image (whose layers it shares).
        added = built.attrs["Size"] - client.images.get(_base_image(component)).attrs["Size"]
        sizes[component] = (built.attrs["Size"] / 1e6, added / 1e6 + UPSTREAM_BASE_MB[component])
    return sizes


def _base_image(component: str) -> str:
    if component == "frontend":
        return os.environ.get("NGINX_IMAGE", "nginx:1.27.3-alpine-slim")
    return os.environ.get("PYTHON_IMAGE", "python:3.11.11-slim-bookworm")


def test_every_image_fits_its_size_target(images, client):
    sizes = image_sizes(images, client)
    print("\nimage sizes (MB, as built / estimated on the upstream base):",
          {k: (round(a), round(b)) for k, (a, b) in sizes.items()})  # fmt: skip
    for component, (_, estimate) in sizes.items():
        assert estimate <= SIZE_LIMIT_MB[component], f"{component}: ~{estimate:.0f} MB"


def test_push_to_a_registry_and_pull_back(images, client):
    spec = RegistrySpec(name=f"cartridge-test-push-{uuid.uuid4().hex[:6]}", port=free_port(), networks=())
    registry = RegistryController(client)
    registry.apply(spec)
    try:
        image = client.images.get(images["web"].ref)
        repository = f"127.0.0.1:{spec.port}/cartridge-web"
        image.tag(repository, "pushed")
        for line in client.api.push(repository, tag="pushed", stream=True, decode=True):
            assert "error" not in line, line
        client.images.remove(f"{repository}:pushed")
        pulled = client.images.pull(repository, tag="pushed")
        assert pulled.id == image.id
        client.images.remove(f"{repository}:pushed")
    finally:
        registry.delete(spec.name)


def test_hadolint_is_clean_on_every_dockerfile():
    hadolint = str(REPO / ".venv/bin/hadolint") if (REPO / ".venv/bin/hadolint").exists() else "hadolint"
    for component in COMPONENTS:
        result = subprocess.run([hadolint, str(REPO / f"services/{component}/Dockerfile")], capture_output=True,
                                text=True)  # fmt: skip
        assert result.returncode == 0, f"{component}: {result.stdout}{result.stderr}"


def test_dependencies_are_installed_before_the_sources_are_copied(images, client):
    # So a code-only change rebuilds from the source COPY on: the pip layer stays cached.
    for component in ("actor", "trainer", "web"):
        history = [h.get("CreatedBy", "") for h in reversed(client.images.get(images[component].ref).history())]
        install = max(i for i, step in enumerate(history) if "/opt/venv" in step and "COPY" in step)
        source = min(i for i, step in enumerate(history) if f"/app/services/{component}" in step)
        assert install < source, component
