"""The command-line tools the kind runtime drives (docker, kind, kubectl, tilt): the version each is wanted at
(from devtools.pins) and what is installed (``probe``: found on PATH, and the version it reports).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

from devtools.pins import KIND_VERSION, KUBECTL_VERSION, TILT_VERSION

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
