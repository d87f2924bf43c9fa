"""What the built images are: owners of the code, the dev targets, no build tools, labels, sizes, layer
order, and a push to a local registry and back."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import replace

import pytest

from devtools.errors import DevtoolsError
from devtools.kind.images import build_image, push_images
from devtools.kind.registry import RegistryController, RegistrySpec
from testkit.support import free_port
from tests.images.conftest import exec_text, wait_answering

pytestmark = pytest.mark.docker
PYTHON = ("actor", "arena", "trainer", "web")
SIZE_LIMIT_MB = {"actor": 250, "arena": 250, "web": 250, "frontend": 40, "trainer": 1000}
# Size of the upstream base images (python:3.11-slim-bookworm, nginx:alpine-slim). The targets are stated
# for those; a build on another base (the stand-ins here) is judged by what it adds on top of its base.
UPSTREAM_BASE_MB = {"actor": 130, "arena": 130, "web": 130, "trainer": 130, "frontend": 12}


def test_app_code_belongs_to_root_unless_built_for_live_update(containers, images, client):
    # Even with a writable root filesystem the app user cannot change its own code; a dev image for
    # Tilt's live_update (APP_OWNER=10001:10001) gives it the code so synced files can land.
    probe = "touch /app/services/cartridge/mcts.py 2>&1 && echo changed"
    released = containers.run(images["actor"].ref, hardened=False, entrypoint=["sh", "-c", probe])
    released.wait(timeout=30)
    assert "Permission denied" in released.logs().decode()
    dev = build_image("actor", tag="test-dev", build_args={"APP_OWNER": "10001:10001"}, client=client)
    synced = containers.run(dev.ref, hardened=False, entrypoint=["sh", "-c", probe])
    synced.wait(timeout=30)
    assert synced.logs().decode().strip() == "changed"


def test_frontend_dev_target_runs_vite_as_uid_10001(containers, client):
    dev = build_image("frontend", tag="test-dev", target="dev", client=client)
    container = containers.run(dev.ref, 8080, hardened=False, environment={"WEB_URL": "http://127.0.0.1:9"})
    status, _, body = wait_answering(container, "/", 8080)
    assert status == 200 and b"/src/main.js" in body
    assert exec_text(container, "grep '^Uid:' /proc/1/status").split()[1:] == ["10001"] * 4


def test_final_stages_carry_no_build_tools_and_the_oci_labels(images, client, containers):
    for component, image in images.items():
        labels = client.images.get(image.ref).labels
        assert labels["org.opencontainers.image.title"] == f"cartridge-{component}"
        assert labels["org.opencontainers.image.version"] == "test"
        assert len(labels["org.opencontainers.image.revision"]) == 40  # the full git revision
        assert labels["org.opencontainers.image.source"].startswith("https://")
        # Compilers, package installers (also as Python modules of the venv's and the system's interpreter).
        probe = (
            "for t in gcc cc c++ make ld pip pip3 npm npx node apt-get; do command -v $t; done; "
            "ls /opt/venv/bin 2>/dev/null | grep -E '^(pip|wheel|easy_install)'; "
            "for py in /opt/venv/bin/python /usr/local/bin/python3 /usr/bin/python3; do "
            'for m in pip setuptools; do [ -x $py ] && $py -c "import $m" 2>/dev/null && echo $py:$m; done; '
            "done; true"
        )
        runner = containers.run(image.ref, entrypoint=["sh", "-c", probe])
        runner.wait(timeout=60)
        found = runner.logs().decode().split()
        # apt-get is the base distribution's, kept so a derived image can add packages; no compiler to use.
        assert [t for t in found if not t.endswith("/apt-get")] == [], f"{component} ships build tools: {found}"


def image_sizes(images, client) -> dict[str, tuple[float, float]]:
    """(size as built, size on the upstream base) in MB: the second is what the targets are about."""
    sizes = {}
    for component, image in images.items():
        built = client.images.get(image.ref)
        base = os.environ.get("NGINX_IMAGE" if component == "frontend" else "PYTHON_IMAGE")
        base = base or ("nginx:1.27.3-alpine-slim" if component == "frontend" else "python:3.11.11-slim-bookworm")
        added = built.attrs["Size"] - client.images.get(base).attrs["Size"]
        sizes[component] = (built.attrs["Size"] / 1e6, added / 1e6 + UPSTREAM_BASE_MB[component])
    return sizes


def test_every_image_fits_its_size_target(images, client):
    sizes = image_sizes(images, client)
    print(
        "\nimage sizes, MB (as built here / on the upstream base):",
        {k: (round(a), round(b)) for k, (a, b) in sizes.items()},
    )
    for component, (_, upstream) in sizes.items():
        assert upstream <= SIZE_LIMIT_MB[component], f"{component}: ~{upstream:.0f} MB on the upstream base"


def test_dependencies_are_installed_before_the_sources_are_copied(images, client):
    # So a code-only change rebuilds from the source COPY on: the pip and npm layers stay cached.
    for component in PYTHON:
        history = [h.get("CreatedBy", "") for h in reversed(client.images.get(images[component].ref).history())]
        venv = max(i for i, step in enumerate(history) if "COPY" in step and "in /opt/venv" in step)
        sources = min(i for i, step in enumerate(history) if "COPY" in step and "in /app/services" in step)
        assert venv < sources, component


def _registry_port() -> int:
    """The local registry's own port when free (the refs devtools pushes), else any free one."""
    with socket.socket() as probe:
        return free_port() if probe.connect_ex(("127.0.0.1", 5001)) == 0 else 5001


def test_push_to_a_local_registry_and_pull_back(images, client):
    spec = RegistrySpec(name="cartridge-test-registry", port=_registry_port(), networks=())
    registry = RegistryController(client)
    registry.delete(spec)
    registry.apply(spec)
    tag = f"pushed-{uuid.uuid4().hex[:8]}"  # never the tag the other tests run
    try:
        tagged = []
        for image in images.values():
            ref = f"localhost:{spec.port}/cartridge-{image.component}:{tag}"
            client.images.get(image.ref).tag(ref)
            tagged.append(replace(image, ref=ref, tag=tag))
        assert all(image.pushed for image in push_images(tagged, client=client))
        for image in tagged:
            client.images.remove(image.ref)
            assert client.images.pull(image.ref).id == image.image_id, image.component
            client.images.remove(image.ref)
    finally:
        registry.delete(spec)


def test_a_missing_base_image_fails_the_build_with_what_to_set(client):
    with pytest.raises(DevtoolsError) as error:
        build_image("actor", tag="test-nobase", build_args={"PYTHON_IMAGE": "local/no-such-python:0"}, client=client)
    assert error.value.message.startswith("build of actor failed: ")
    assert "FROM ${PYTHON_IMAGE}" in error.value.message  # the step it stopped at
    assert error.value.hint.startswith("a base image is missing: set PYTHON_IMAGE")


def test_a_push_to_a_registry_that_is_not_running_says_so(images, client):
    ref = f"localhost:{free_port()}/cartridge-actor:unpushed"  # nothing listens there
    client.images.get(images["actor"].ref).tag(ref)
    try:
        with pytest.raises(DevtoolsError) as error:
            push_images([replace(images["actor"], ref=ref, tag="unpushed")], client=client)
    finally:
        client.images.remove(ref)
    assert error.value.message.startswith(f"push of {ref} failed: ") and "connection refused" in error.value.message
    assert error.value.hint.startswith(f"is the registry at {ref.split('/')[0]} up?")
