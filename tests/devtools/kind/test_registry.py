"""The registry controller against a real Docker engine (skipped with a reason when none answers)."""

from __future__ import annotations

import json
import socket
import urllib.request
import uuid

import pytest

from devtools.errors import DevtoolsError
from devtools.exit_codes import ExitCode
from devtools.kind.registry import RegistryController, RegistrySpec
from testkit.support import free_port

docker = pytest.importorskip("docker")
pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def client(docker_engine):
    """The engine, with the registry image devtools runs (REGISTRY_IMAGE overrides it): pulled when
    missing; the tests skip only when the engine can neither find nor pull it."""
    image = RegistrySpec().image
    try:
        docker_engine.images.get(image)
    except docker.errors.ImageNotFound:
        try:
            docker_engine.images.pull(image)
        except docker.errors.DockerException as exc:
            reason = str(getattr(exc, "explanation", None) or exc).splitlines()[0][:200]
            pytest.skip(f"registry image {image} is not here and cannot be pulled ({reason}); set REGISTRY_IMAGE")
    return docker_engine


@pytest.fixture
def spec(client):
    name = f"cartridge-test-registry-{uuid.uuid4().hex[:8]}"
    network = client.networks.create(f"{name}-net")
    spec = RegistrySpec(name=name, port=free_port(), networks=(network.name, "no-such-network-here"))
    yield spec
    RegistryController(client).delete(spec)
    network.remove()


def catalog(spec: RegistrySpec) -> dict:
    with urllib.request.urlopen(f"{spec.url}/v2/_catalog", timeout=5) as response:
        return json.load(response)


def test_apply_creates_a_running_registry_bound_to_loopback_and_joins_existing_networks(client, spec):
    status = RegistryController(client).apply(spec)
    assert status.running and (status.host, status.host_port) == ("127.0.0.1", spec.port)
    assert spec.networks[0] in status.networks and "no-such-network-here" not in status.networks
    assert status.image == spec.image and not status.warnings
    assert catalog(spec) == {"repositories": []}


def test_apply_twice_changes_nothing(client, spec):
    controller = RegistryController(client)
    messages: list[str] = []
    first = controller.apply(spec, messages.append)
    messages.clear()
    second = controller.apply(spec, messages.append)
    assert second.container_id == first.container_id
    assert messages == []


def test_a_stopped_registry_is_started_not_recreated(client, spec):
    controller = RegistryController(client)
    first = controller.apply(spec)
    client.containers.get(spec.name).stop(timeout=2)
    assert not controller.get(spec).running
    second = controller.apply(spec)
    assert second.running and second.container_id == first.container_id


def test_a_registry_on_the_wrong_port_is_recreated(client, spec):
    controller = RegistryController(client)
    controller.apply(spec)
    moved = RegistrySpec(name=spec.name, port=free_port(), networks=spec.networks)
    status = controller.apply(moved)
    assert status.host_port == moved.port
    assert catalog(moved) == {"repositories": []}


def test_a_taken_port_is_one_clear_error_and_leaves_no_container(client, spec):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = RegistrySpec(name=spec.name, port=holder.getsockname()[1], networks=())
        with pytest.raises(DevtoolsError) as err:
            RegistryController(client).apply(taken)
    assert f"127.0.0.1:{taken.port}" in str(err.value) and "taken" in str(err.value)
    assert RegistryController(client).get(spec) is None


def test_delete_is_idempotent(client, spec):
    controller = RegistryController(client)
    controller.apply(spec)
    assert controller.delete(spec) is True
    assert controller.delete(spec) is False
    assert controller.get(spec) is None


def test_up_with_a_taken_registry_port_stops_at_the_registry_in_one_sentence(client, tmp_path, monkeypatch):
    """`devtools up --runtime kind --registry-port P` with P taken: one sentence naming the port and the registry,
    before any cluster is made (kind is a stand-in executable; the Docker engine is real)."""
    from click.testing import CliRunner

    from devtools.cli import cli
    from tests.devtools.fake_tools import FakeTools

    tools = FakeTools(tmp_path / "tools")
    monkeypatch.setenv("PATH", tools.path)
    monkeypatch.setattr("devtools.kind.runtime.kind_usable_reasons", lambda: [])  # kind, Tilt: not here
    name = f"cartridge-test-registry-{uuid.uuid4().hex[:8]}"
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        args = ["up", "--runtime", "kind", "--no-tilt", "--registry-name", name, "--registry-port", str(port)]
        result = CliRunner().invoke(cli, args, prog_name="devtools")
    assert result.exit_code == ExitCode.ERROR, result.output  # DevtoolsGroup: one sentence, a hint, exit 1
    assert f"error: port 127.0.0.1:{port} for registry {name} is taken by another process\n" in result.output
    assert RegistryController(client).get(RegistrySpec(name=name)) is None
    assert not [call for call in tools.calls("kind") if "create" in call]
