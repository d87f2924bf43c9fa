"""The external tools devtools drives, their pinned versions, and how to find out what is installed.

Every pinned version and digest (kind, its node image, kubectl, Tilt, the registry, cloud-provider-kind,
metrics-server) lives in devtools/pins.json and nowhere else: doctor reports against it, the kind
runtime creates the cluster and its add-ons from it, and the e2e workflow reads the same file
(tests/test_workflows.py keeps it so). Each pin's "sources" entry says where the value comes from.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

PINS_FILE = Path(__file__).with_name("pins.json")
PINS: dict[str, str] = json.loads(PINS_FILE.read_text())["pins"]

KIND_VERSION = PINS["KIND_VERSION"]
KIND_NODE_IMAGE = PINS["KIND_NODE_IMAGE"]
KUBECTL_VERSION = PINS["KUBECTL_VERSION"]
TILT_VERSION = PINS["TILT_VERSION"]
REGISTRY_IMAGE = PINS["REGISTRY_IMAGE"]
CLOUD_PROVIDER_KIND_IMAGE = PINS["CLOUD_PROVIDER_KIND_IMAGE"]
GATEWAY_API_VERSION = PINS["GATEWAY_API_VERSION"]
METRICS_SERVER_VERSION = PINS["METRICS_SERVER_VERSION"]
METRICS_SERVER_IMAGE = PINS["METRICS_SERVER_IMAGE"]
METRICS_SERVER_MANIFEST_SHA256 = PINS["METRICS_SERVER_MANIFEST_SHA256"]
DOCKER_MIN_VERSION = "24.0"
# kubectl supports one minor version of skew against the node image's Kubernetes.
_major, _minor = KUBECTL_VERSION.split(".")[:2]
KUBECTL_MINIMUM = f">={_major}.{int(_minor) - 1}"


@dataclass(frozen=True)
class Tool:
    name: str
    wanted: str  # a version, or a minimum written ">=X"
    version_args: tuple[str, ...]
    pattern: str  # regex with one group: the version in the tool's own output
    install_hint: str


TOOLS = {
    "docker": Tool(
        "docker",
        f">={DOCKER_MIN_VERSION}",
        ("docker", "version", "--format", "{{.Client.Version}}"),
        r"(\d+\.\d+(?:\.\d+)?)",
        "install Docker Engine (https://docs.docker.com/engine/install/) and start the daemon",
    ),
    "kind": Tool(
        "kind",
        KIND_VERSION,
        ("kind", "version"),
        r"kind v(\d+\.\d+\.\d+)",
        f"download the pinned release: https://github.com/kubernetes-sigs/kind/releases/tag/v{KIND_VERSION} "
        f"(or `go install sigs.k8s.io/kind@v{KIND_VERSION}`)",
    ),
    "kubectl": Tool(
        "kubectl",
        KUBECTL_MINIMUM,
        ("kubectl", "version", "--client"),
        r"Client Version: v(\d+\.\d+\.\d+)",
        f"install kubectl v{KUBECTL_VERSION}: https://kubernetes.io/docs/tasks/tools/",
    ),
    "tilt": Tool(
        "tilt",
        TILT_VERSION,
        ("tilt", "version"),
        r"v(\d+\.\d+\.\d+)",
        f"install Tilt v{TILT_VERSION}: https://github.com/tilt-dev/tilt/releases/tag/v{TILT_VERSION}",
    ),
}


@dataclass(frozen=True)
class ToolStatus:
    tool: Tool
    path: str | None
    found: str | None  # version found, None if missing or unreadable
    ok: bool
    problem: str | None  # one sentence when not ok

    @property
    def name(self) -> str:
        return self.tool.name

    @property
    def usable(self) -> bool:
        """Present and answering; a version other than the pin is a warning, not a blocker."""
        return self.found is not None


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version)[:3])


def satisfies(found: str, wanted: str) -> bool:
    """Exact pins match on the full version; ">=X" compares numerically."""
    if wanted.startswith(">="):
        return _version_tuple(found) >= _version_tuple(wanted[2:])
    return _version_tuple(found) == _version_tuple(wanted)


def probe(name: str, timeout: float = 15.0) -> ToolStatus:
    tool = TOOLS[name]
    path = shutil.which(tool.name)
    if path is None:
        return ToolStatus(tool, None, None, False, f"{tool.name} not found on PATH")
    try:
        out = subprocess.run(
            [path, *tool.version_args[1:]], capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return ToolStatus(tool, path, None, False, f"{tool.name} did not report its version ({exc})")
    match = re.search(tool.pattern, out.stdout + out.stderr)
    if not match:
        return ToolStatus(tool, path, None, False, f"{tool.name} printed no version we understand")
    found = match.group(1)
    if not satisfies(found, tool.wanted):
        return ToolStatus(tool, path, found, False, f"{tool.name} {found} found, {tool.wanted} wanted")
    return ToolStatus(tool, path, found, True, None)
