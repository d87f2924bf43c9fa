"""Reading the project's pip requirements files (the locks scripts/lock.sh writes, torch.txt, the images')."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from devtools.paths import REPO_ROOT

LOCK = REPO_ROOT / "requirements/lock.txt"
TORCH = REPO_ROOT / "services/trainer/torch.txt"
IMAGE_LOCKS = [REPO_ROOT / f"services/{image}/requirements.txt" for image in ("cartridge", "web", "trainer")]
LINT = REPO_ROOT / "requirements/lint.txt"  # ci.yml's lint job
PYTHONS = ("3.11", "3.12", "3.13")  # pyproject's requires-python, each checked below
HASH = re.compile(r"--hash=sha256:([0-9a-f]{64})")


@dataclass(frozen=True)
class Pin:
    requirement: Requirement
    hashes: tuple[str, ...]

    @property
    def name(self) -> str:
        return canonicalize_name(self.requirement.name)

    @property
    def version(self) -> Version:
        (specifier,) = self.requirement.specifier
        return Version(specifier.version)

    def applies(self, environment: dict[str, str]) -> bool:
        return self.requirement.marker is None or self.requirement.marker.evaluate(environment)


def pins(path: Path) -> list[Pin]:
    """The entries of a pip requirements file: continuation lines joined, comments and includes left out."""
    text = re.sub(r"\\\n", " ", path.read_text())
    entries = []
    for line in text.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-r ", "-c ")):
            continue
        spec = line.split("--hash=", 1)[0].strip()
        entries.append(Pin(Requirement(spec), tuple(HASH.findall(line))))
    return entries


def linux(python: str) -> dict[str, str]:
    """Marker values of CPython `python` on Linux x86_64 (the CI runners and the images)."""
    return {
        **default_environment(),
        "python_version": python,
        "python_full_version": f"{python}.0",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": "x86_64",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
    }


def resolved(path: Path, environment: dict[str, str]) -> dict[str, Version]:
    chosen: dict[str, Version] = {}
    for pin in pins(path):
        if pin.applies(environment):
            assert pin.name not in chosen, f"{path.name}: two entries of {pin.name} hold for one environment"
            chosen[pin.name] = pin.version
    return chosen
