"""devtools never deletes or recreates a registry or cloud-provider-kind container it did not create (fault 9).

A user may run kind's own `kind-registry` already (kind's guide uses that name). The registry and provider
controllers are driven here through FakeDocker, a stand-in for the Docker SDK's client (the daemon boundary:
no engine needs to run), holding containers as the engine reports them (name, image, labels, port bindings,
state). A registry that someone else made serves the registry API on its port for real (a small HTTP
server), since adopting one waits until it answers.
"""

from __future__ import annotations

import itertools
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from docker.errors import NotFound

from devtools.errors import NotCreatedByDevtools
from devtools.kind import addons
from devtools.kind.registry import RegistryController, RegistrySpec
from testkit.support import free_port

_ids = itertools.count(1)


class FakeContainer:
    def __init__(self, engine: FakeDocker, name: str, image: str, labels: dict, ports: dict, network: str | None):
        self.engine, self.name, self.id = engine, name, f"{next(_ids):012d}"
        bindings = {key: [{"HostIp": host, "HostPort": str(port)}] for key, (host, port) in (ports or {}).items()}
        self.attrs = {
            "Config": {"Image": image, "Labels": dict(labels or {})},
            "HostConfig": {"PortBindings": bindings, "RestartPolicy": {"Name": "always"}},
            "State": {"Running": True},
            "NetworkSettings": {"Networks": {network: {}} if network else {"bridge": {}}},
        }

    @property
    def status(self) -> str:
        return "running" if self.attrs["State"]["Running"] else "exited"

    def start(self) -> None:
        self.attrs["State"]["Running"] = True

    def stop(self) -> None:
        self.attrs["State"]["Running"] = False

    def reload(self) -> None:
        pass

    def remove(self, force: bool = False) -> None:
        self.engine.removed.append(self.name)
        del self.engine.by_name[self.name]


class FakeDocker:
    """The parts of docker.DockerClient the controllers use."""

    def __init__(self) -> None:
        self.by_name: dict[str, FakeContainer] = {}
        self.removed: list[str] = []
        self.containers, self.images, self.networks = self, self, self

    # containers
    def get(self, name: str):
        if name in self.by_name:
            return self.by_name[name]
        if name == "kind":
            return FakeNetwork()
        if name.startswith(("registry", "local/", "registry.k8s.io")):
            return name  # images: every image is here
        raise NotFound(f"no such object: {name}")

    def run(self, image, command=None, *, name, labels=None, ports=None, network=None, **kwargs) -> FakeContainer:
        self.by_name[name] = FakeContainer(self, name, image, labels, ports, network)
        return self.by_name[name]

    def list(self, all=False, filters=None) -> list[FakeContainer]:
        key, _, value = (filters or {}).get("label", "=").partition("=")
        return [c for c in self.by_name.values() if c.attrs["Config"]["Labels"].get(key) == value]


class FakeNetwork:
    def connect(self, container: FakeContainer) -> None:
        container.attrs["NetworkSettings"]["Networks"]["kind"] = {}


@pytest.fixture
def serving_registry():
    """The registry API on a free loopback port, as a user's registry container would publish it."""

    class V2(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", free_port()), V2)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def users_registry(engine: FakeDocker, port: int, host: str = "127.0.0.1", image: str = "registry:2") -> FakeContainer:
    """kind's guide: `docker run -d --restart=always -p 127.0.0.1:5001:5000 --name kind-registry registry:2`."""
    return engine.run(image, name="kind-registry", ports={"5000/tcp": (host, port)})


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0"])
def test_a_users_registry_on_the_wanted_port_is_adopted_as_it_is(serving_registry, host):
    engine = FakeDocker()
    theirs = users_registry(engine, serving_registry, host)
    theirs.stop()
    messages: list[str] = []
    status = RegistryController(engine).apply(RegistrySpec(port=serving_registry), messages.append)
    assert engine.removed == [], "the user's registry (and its images) was deleted"
    assert status.container_id == theirs.id[:12] and status.running and not status.owned
    assert status.image == "registry:2" and "kind" in status.networks
    assert any("devtools did not create it" in m for m in messages)


def test_a_users_registry_on_another_port_is_refused_not_recreated():
    engine = FakeDocker()
    theirs = users_registry(engine, port=5000)
    with pytest.raises(NotCreatedByDevtools) as err:
        RegistryController(engine).apply(RegistrySpec(port=5001))
    assert engine.removed == [] and engine.by_name["kind-registry"] is theirs
    assert "did not create" in err.value.message and "127.0.0.1:5000" in err.value.message
    assert "\n" not in err.value.message and "docker rm -f kind-registry" in err.value.hint


def test_down_all_deletes_only_the_registry_devtools_created(serving_registry):
    engine = FakeDocker()
    users_registry(engine, serving_registry)
    with pytest.raises(NotCreatedByDevtools, match="did not create the registry container kind-registry"):
        RegistryController(engine).delete(RegistrySpec())
    assert "kind-registry" in engine.by_name
    engine.by_name.clear()
    ours = engine.run("registry:3", name="kind-registry", labels={"dev.cartridge.role": "registry"})
    assert RegistryController(engine).get(RegistrySpec()).owned
    assert RegistryController(engine).delete(RegistrySpec()) is True and engine.removed == [ours.name]


def test_cloud_provider_kind_of_someone_else_is_neither_recreated_nor_deleted():
    engine = FakeDocker()
    spec = addons.CloudProviderSpec()
    engine.run("someone/else:1", name=spec.name)
    with pytest.raises(NotCreatedByDevtools, match="does not recreate it"):
        addons.CloudProviderController(engine).apply(spec)
    proxy = engine.run("envoy", name="kindccm-gw", labels={addons.CPK_CLUSTER_LABEL: "cartridge"})
    with pytest.raises(NotCreatedByDevtools, match="does not delete it"):
        addons.CloudProviderController(engine).delete(spec, cluster="cartridge")
    assert engine.removed == [proxy.name] and spec.name in engine.by_name
    # The one devtools made is recreated when its image differs, and deleted.
    engine.by_name.clear()
    engine.run("old/provider:0", name=spec.name, labels=spec.labels)
    assert addons.CloudProviderController(engine).apply(spec).attrs["Config"]["Image"] == spec.image
    assert addons.CloudProviderController(engine).delete(spec, cluster="cartridge") == [spec.name]
