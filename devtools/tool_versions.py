"""The command-line tools devtools needs: the version each is wanted at and what is installed (``probe``: found on
PATH, and the version it reports).

- ``TOOLS``: what the kind runtime drives (docker, kind, kubectl, tilt), wanted at the versions devtools.pins names;
- ``FRONTEND_TOOLS``: node and npm, which the local runtime's frontend (the Vite dev server) needs, wanted at what
  services/frontend/package.json's "engines" says (Vite 7 needs Node 20.19: vite's own package.json, engines);
- ``PYTHON_WANTED``: pyproject.toml's requires-python, which the local runtime's services run under.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from dataclasses import dataclass

from devtools.paths import REPO_ROOT
from devtools.pins import KIND_VERSION, KUBECTL_VERSION, TILT_VERSION

DOCKER_MIN_VERSION = "24.0"
PYTHON_WANTED = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
FRONTEND_PACKAGE = REPO_ROOT / "services" / "frontend" / "package.json"
_ENGINES = json.loads(FRONTEND_PACKAGE.read_text()).get("engines", {})
# kubectl supports one minor version of skew against the node image's Kubernetes.
_major, _minor = KUBECTL_VERSION.split(".")[:2]
KUBECTL_MINIMUM = f">={_major}.{int(_minor) - 1}"


@dataclass(frozen=True)
class Tool:
    name: str
    wanted: str  # a version, specifiers such as ">=3.11,<3.14", or "" for any version
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
FRONTEND_TOOLS = {
    "node": Tool(
        "node",
        _ENGINES.get("node", ""),
        ("node", "--version"),
        r"v(\d+\.\d+\.\d+)",
        f"install Node.js {_ENGINES.get('node', '')} with npm (https://nodejs.org/en/download)",
    ),
    "npm": Tool(
        "npm",
        _ENGINES.get("npm", ""),
        ("npm", "--version"),
        r"(\d+\.\d+\.\d+)",
        "install npm, which comes with Node.js (https://nodejs.org/en/download)",
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
    """Three numeric parts, missing ones 0: "3.14" is (3, 14, 0), so "<3.14" excludes 3.14.0."""
    parts = [int(p) for p in re.findall(r"\d+", version)[:3]]
    return tuple(parts + [0] * (3 - len(parts)))


_COMPARISONS = {
    ">=": tuple.__ge__,
    "<=": tuple.__le__,
    "==": tuple.__eq__,
    "!=": tuple.__ne__,
    ">": tuple.__gt__,
    "<": tuple.__lt__,
}


def satisfies(found: str, wanted: str) -> bool:
    """``wanted`` is an exact version (a pin: equal on the full version), "" (any version), or comma-separated
    specifiers as requires-python and package.json's engines write them (">=3.11,<3.14"), compared numerically
    on up to three parts: 3.14.0 is not "<3.14", 3.13.9 is."""
    if not wanted.strip():
        return True
    have = _version_tuple(found)
    for clause in (c.strip() for c in wanted.split(",")):
        op = next((op for op in _COMPARISONS if clause.startswith(op)), "==")
        if not _COMPARISONS[op](have, _version_tuple(clause.removeprefix(op))):
            return False
    return True


def probe(name: str, timeout: float = 15.0) -> ToolStatus:
    tool = (TOOLS | FRONTEND_TOOLS)[name]
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
