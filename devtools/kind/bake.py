"""docker-bake.json, read: the one definition of every image (context, Dockerfile, target, build args,
repository) that devtools, the Tiltfile and images.yml share. Resolved as `docker buildx bake` resolves
it: a target's `inherits` merged in order before its own fields, ${VAR} from the environment or the
variable's default.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from devtools.paths import REPO_ROOT

BAKE_FILE = "docker-bake.json"


@dataclass(frozen=True)
class ImageDefinition:
    """One bake target, resolved: its parents (``inherits``) merged in order, then its own fields."""

    name: str  # the bake target: "actor", or "actor-dev" for the image Tilt live-updates
    component: str  # "actor"
    context: str
    dockerfile: str
    target: str | None
    args: dict[str, str]
    repository: str  # the first tag without its tag: localhost:5001/cartridge-actor


def _interpolate(text: str, variables: dict[str, str]) -> str:
    for name, value in variables.items():
        text = text.replace("${" + name + "}", value)
    return text


def _resolve(targets: dict, name: str) -> dict:
    merged: dict = {}
    for parent in targets[name].get("inherits", []):
        resolved = _resolve(targets, parent)
        merged = {**merged, **resolved, "args": {**merged.get("args", {}), **resolved.get("args", {})}}
    own = {k: v for k, v in targets[name].items() if k != "inherits"}
    return {**merged, **own, "args": {**merged.get("args", {}), **own.get("args", {})}}


def image_definitions(
    group: str = "default", root: Path = REPO_ROOT, environ: dict[str, str] | None = None
) -> dict[str, ImageDefinition]:
    """The images of a bake group by component. Variables take their defaults unless the environment sets
    them, as `docker buildx bake` does (REGISTRY=... pushes elsewhere)."""
    bake = json.loads((root / BAKE_FILE).read_text())
    environ = os.environ if environ is None else environ
    variables = {name: environ.get(name, spec["default"]) for name, spec in bake["variable"].items()}
    definitions = {}
    for name in bake["group"][group]["targets"]:
        target = _resolve(bake["target"], name)
        repository = _interpolate(target["tags"][0], variables).rsplit(":", 1)[0]
        component = repository.rsplit("/", 1)[-1].removeprefix("cartridge-")
        definitions[component] = ImageDefinition(
            name,
            component,
            target.get("context", "."),
            target["dockerfile"],
            target.get("target"),
            dict(target.get("args", {})),
            repository,
        )
    return definitions


def passthrough_args(root: Path = REPO_ROOT) -> tuple[str, ...]:
    """Build args taken from the environment when it sets them (base images, the torch index): the bake
    file's variables without a default. Elsewhere the Dockerfiles' own defaults (upstream images) hold."""
    variables = json.loads((root / BAKE_FILE).read_text())["variable"]
    return tuple(name for name, spec in variables.items() if spec.get("default") == "")


PASSTHROUGH_ARGS = passthrough_args()
COMPONENTS = tuple(image_definitions())
REGISTRY = image_definitions()[COMPONENTS[0]].repository.rsplit("/", 1)[0]
# The bake file's own default (localhost:5001), whatever the environment says: k8s/local names its images there.
DEFAULT_REGISTRY = image_definitions(environ={})[COMPONENTS[0]].repository.rsplit("/", 1)[0]


def image_name(component: str, registry: str = REGISTRY) -> str:
    return f"{registry}/cartridge-{component}"
