"""The local registry container, managed like ctlptl's registry controller: get, apply, delete.

``apply(spec)`` reads what exists, compares it with what is wanted (image, host binding, running
state, networks), recreates only what differs and returns the observed status, so running it twice
does nothing the second time.

devtools never deletes or recreates a registry it did not create. What it creates carries the label
``dev.cartridge.role=registry``. kind's guide names its registry ``kind-registry`` too
(site/static/examples/kind-with-registry.sh), so a user may run one already: one that serves the wanted
host port is adopted as it is (started if stopped, joined to the kind network, any image), and any other
is refused with one sentence and a hint, as is `down --all` on it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import docker
from docker.errors import APIError, DockerException, ImageNotFound, NotFound

from devtools.errors import OWNER_LABEL, DevtoolsError, NotCreatedByDevtools
from devtools.http import port_in_use, probe_json
from devtools.kind.names import DEFAULT_REGISTRY_NAME, DEFAULT_REGISTRY_PORT
from devtools.pins import REGISTRY_IMAGE as PINNED_REGISTRY_IMAGE
from devtools.wait import wait_until_ready

REGISTRY_CONTAINER_PORT = 5000
ROLE = "registry"
ALL_INTERFACES = (None, "0.0.0.0", "::")  # a binding on every interface serves 127.0.0.1 too


@dataclass(frozen=True)
class RegistrySpec:
    name: str = DEFAULT_REGISTRY_NAME
    host: str = "127.0.0.1"
    port: int = DEFAULT_REGISTRY_PORT
    # registry:3 pinned by digest (devtools/pins.json), as kind's own local-registry script runs it
    # (site/static/examples/kind-with-registry.sh). Mirrors and offline machines substitute the image
    # (e.g. REGISTRY_IMAGE=local/registry:2): any image serving the registry API on port 5000.
    image: str = field(default_factory=lambda: os.environ.get("REGISTRY_IMAGE") or PINNED_REGISTRY_IMAGE)
    networks: tuple[str, ...] = ("kind",)  # connected when they exist (kind creates "kind")

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def images(self) -> str:
        """Where images are pushed and pulled: localhost:<port>, on the host and (through each node's
        containerd hosts.toml) in the cluster, as in kind's local-registry guide."""
        return f"localhost:{self.port}"


@dataclass(frozen=True)
class RegistryStatus:
    name: str
    container_id: str
    image: str
    running: bool
    host: str | None
    host_port: int | None
    networks: tuple[str, ...]
    warnings: tuple[str, ...] = ()
    owned: bool = True  # devtools created it (OWNER_LABEL)


class RegistryController:
    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client

    def get(self, spec: RegistrySpec) -> RegistryStatus | None:
        try:
            container = self.client.containers.get(spec.name)
        except NotFound:
            return None
        return _status(container)

    def apply(self, spec: RegistrySpec, progress=lambda msg: None) -> RegistryStatus:
        current = self.get(spec)
        if current is not None and not current.owned:
            self._adopt(current, spec, progress)
        elif current is not None and self._differs(current, spec):
            progress(f"Recreating registry {spec.name} (was {current.image} on {current.host}:{current.host_port})")
            self.delete(spec)
            current = None
        if current is None:
            progress(f"Creating registry {spec.name} on {spec.host}:{spec.port}")
            self._create(spec)
        elif not current.running:
            progress(f"Starting registry {spec.name}")
            self._start(spec)
        self._connect_networks(spec, progress)
        self.wait_ready(spec, owned=current is None or current.owned)
        status = self.get(spec)
        assert status is not None
        return status

    def delete(self, spec: RegistrySpec) -> bool:
        """Remove the registry devtools created; False when there is none, and a refusal when the container
        of that name is not devtools' own."""
        name = spec.name
        try:
            container = self.client.containers.get(name)
        except NotFound:
            return False
        if not _owned(container, ROLE):
            raise NotCreatedByDevtools(
                f"devtools did not create the registry container {name}, so it does not delete it",
                f"if you no longer need it or its images, remove it yourself: `docker rm -f {name}`",
            )
        container.remove(force=True)
        return True

    @staticmethod
    def _adopt(current: RegistryStatus, spec: RegistrySpec, progress) -> None:
        """A registry someone else made is used as it is when it serves the wanted port, else refused."""
        if current.host_port != spec.port or current.host not in (spec.host, *ALL_INTERFACES):
            binding = f"{current.host or '*'}:{current.host_port}" if current.host_port else "no host port"
            raise NotCreatedByDevtools(
                f"a registry container {spec.name} that devtools did not create serves {binding}, not "
                f"{spec.host}:{spec.port}, and devtools does not recreate it",
                f"publish it on {spec.host}:{spec.port}, or remove it yourself once its images are safe "
                f"(`docker rm -f {spec.name}`), then run `devtools up` again",
            )
        progress(f"Using registry {spec.name} as it is: devtools did not create it, and it serves {spec.url}")

    def wait_ready(self, spec: RegistrySpec, timeout: float = 30.0, owned: bool = True) -> None:
        def why_not() -> str | None:  # the registry API answers 200 {}
            return None if probe_json(f"{spec.url}/v2/", timeout=2) is not None else f"no answer on {spec.url}/v2/"

        hint = f"look at `docker logs {spec.name}`" + ("; `devtools down --all` removes it" if owned else "")
        wait_until_ready(f"registry {spec.name}", why_not, timeout, hint=hint, interval=0.3)

    @staticmethod
    def _differs(current: RegistryStatus, spec: RegistrySpec) -> bool:
        return current.image != spec.image or (current.host, current.host_port) != (spec.host, spec.port)

    def _create(self, spec: RegistrySpec) -> None:
        if port_in_use(spec.port, spec.host):  # asked before Docker, whose refusal is only a sentence to parse
            raise _port_taken(spec)
        try:
            self.client.images.get(spec.image)
        except ImageNotFound:
            try:
                self.client.images.pull(spec.image)
            except DockerException as exc:
                raise DevtoolsError(
                    f"cannot pull the registry image {spec.image} ({exc})",
                    "set REGISTRY_IMAGE to a registry image (registry:3 or registry:2) this machine has or can pull",
                ) from None
        try:
            self.client.containers.run(
                spec.image,
                name=spec.name,
                detach=True,
                restart_policy={"Name": "always"},
                ports={f"{REGISTRY_CONTAINER_PORT}/tcp": (spec.host, spec.port)},
                labels={OWNER_LABEL: ROLE},
            )
        except APIError as exc:
            self.delete(spec)  # a container that could not start is not left behind
            raise _port_error(spec, exc) from None

    def _start(self, spec: RegistrySpec) -> None:
        try:
            self.client.containers.get(spec.name).start()
        except APIError as exc:
            raise _port_error(spec, exc) from None

    def _connect_networks(self, spec: RegistrySpec, progress) -> None:
        container = self.client.containers.get(spec.name)
        attached = set(container.attrs["NetworkSettings"]["Networks"])
        for name in spec.networks:
            if name in attached:
                continue
            try:
                network = self.client.networks.get(name)
            except NotFound:
                continue  # kind has not created it yet; the cluster step connects later
            progress(f"Connecting registry {spec.name} to network {name}")
            try:
                network.connect(container)
            except APIError as exc:
                if "already exists" in str(exc.explanation or exc):
                    continue  # connected meanwhile (another `devtools up`): what we wanted
                raise DevtoolsError(
                    f"cannot connect registry {spec.name} to the Docker network {name}: {exc.explanation or exc}",
                    f"connect it by hand (`docker network connect {name} {spec.name}`) and run again",
                ) from None


def _port_taken(spec: RegistrySpec) -> DevtoolsError:
    return DevtoolsError(
        f"port {spec.host}:{spec.port} for registry {spec.name} is taken by another process",
        f"free the port (see `ss -ltnp | grep :{spec.port}`) or remove what holds it, then run again",
    )


def _port_error(spec: RegistrySpec, exc: APIError) -> DevtoolsError:
    if port_in_use(spec.port, spec.host):  # taken between our check and Docker's bind
        return _port_taken(spec)
    text = str(exc.explanation or exc)
    return DevtoolsError(f"registry {spec.name} could not start: {text}", f"look at `docker logs {spec.name}`")


def _status(container) -> RegistryStatus:
    attrs = container.attrs
    bindings = (attrs.get("HostConfig", {}).get("PortBindings") or {}).get(f"{REGISTRY_CONTAINER_PORT}/tcp") or []
    host = bindings[0].get("HostIp") if bindings else None
    port = int(bindings[0]["HostPort"]) if bindings and bindings[0].get("HostPort") else None
    warnings = []
    if attrs.get("HostConfig", {}).get("RestartPolicy", {}).get("Name") != "always":
        warnings.append("restart policy is not 'always': the registry will not survive a Docker restart")
    return RegistryStatus(
        name=container.name,
        container_id=container.id[:12],
        image=attrs["Config"]["Image"],
        running=attrs["State"]["Running"],
        host=host or None,
        host_port=port,
        networks=tuple(sorted(attrs["NetworkSettings"]["Networks"])),
        warnings=tuple(warnings),
        owned=_owned(container, ROLE),
    )


def _owned(container, role: str) -> bool:
    """devtools created ``container`` (as ``role``): only it sets OWNER_LABEL."""
    return (container.attrs.get("Config", {}).get("Labels") or {}).get(OWNER_LABEL) == role
