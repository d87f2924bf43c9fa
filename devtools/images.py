"""Build (and push) the four service images: localhost:5001/cartridge-<name>:<tag>.

One code path for `devtools images build [--push]` and `devtools up --no-tilt`. Base images are
build args read from the environment (PYTHON_IMAGE, NODE_IMAGE, NGINX_IMAGE), so mirrors and
offline machines substitute them; an offline trainer build uses a local torch wheel from .wheels/.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from devtools.errors import DevtoolsError

REPO_ROOT = Path(__file__).resolve().parents[1]
COMPONENTS = ("actor", "trainer", "web", "frontend")
REGISTRY = "localhost:5001"
BASE_IMAGE_ARGS = ("PYTHON_IMAGE", "NODE_IMAGE", "NGINX_IMAGE", "TORCH_INDEX_URL")
TORCH_WHEEL = "torch-2.13.0+cpu-*.whl"


@dataclass(frozen=True)
class BuiltImage:
    component: str
    ref: str  # repository:tag
    tag: str
    image_id: str
    size_mb: float


def image_name(component: str, registry: str = REGISTRY) -> str:
    return f"{registry}/cartridge-{component}"


def default_tag(repo: Path = REPO_ROOT) -> str:
    """The short git revision, with -dirty when the work tree has changes; "dev" outside git."""
    try:
        rev = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=repo, capture_output=True, text=True,
                             check=True).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo,
                               capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "dev"
    return f"{rev}-dirty" if dirty else rev


def local_torch_wheel(repo: Path = REPO_ROOT) -> Path | None:
    """Put a local CPU torch wheel (from PIP_FIND_LINKS) into .wheels/ so the trainer builds offline."""
    wheels = repo / ".wheels"
    found = sorted(wheels.glob(TORCH_WHEEL))
    if found:
        return found[-1]
    for links in filter(None, os.environ.get("PIP_FIND_LINKS", "").split()):
        candidates = sorted(glob.glob(os.path.join(links, TORCH_WHEEL)))
        if candidates:
            wheels.mkdir(exist_ok=True)
            return Path(shutil.copy2(candidates[-1], wheels))
    return None


def build_args(component: str, extra: dict[str, str] | None = None, revision: str = "unknown") -> dict[str, str]:
    args = {name: os.environ[name] for name in BASE_IMAGE_ARGS if os.environ.get(name) is not None}
    if component == "trainer" and "TORCH_INDEX_URL" not in args and local_torch_wheel() is not None:
        args["TORCH_INDEX_URL"] = ""  # the local wheel in .wheels/ serves torch; no index needed
    return {**args, "REVISION": revision, "VERSION": revision, **(extra or {})}


def _client():
    from devtools.registry import docker_client

    return docker_client()


def _stream(lines, what: str, progress: Callable[[str], None]) -> str | None:
    """Follow a build or push stream; raise on its error; return the built image id if any."""
    image_id = None
    for chunk in lines:
        if "error" in chunk:
            detail = chunk.get("errorDetail", {}).get("message") or chunk["error"]
            raise DevtoolsError(
                f"{what} failed: {detail.strip()}", "run the same `docker build` by hand for the full log"
            )
        if "aux" in chunk and "ID" in chunk["aux"]:
            image_id = chunk["aux"]["ID"]
        text = chunk.get("stream", "").strip()
        if text.startswith("Step "):
            progress(f"{what}: {text}")
        if text.startswith("Successfully built "):
            image_id = text.split()[-1]
    return image_id


def build_images(
    names: list[str] | None = None,
    tag: str | None = None,
    push: bool = False,
    build_args_extra: dict[str, str] | None = None,
    progress: Callable[[str], None] = lambda msg: None,
    registry: str = REGISTRY,
    client=None,
) -> list[BuiltImage]:
    client = client or _client()
    tag = tag or default_tag()
    revision = tag.removesuffix("-dirty")
    built = []
    for component in names or COMPONENTS:
        if component not in COMPONENTS:
            raise DevtoolsError(f"unknown image {component!r}", f"choose from {', '.join(COMPONENTS)}")
        ref = f"{image_name(component, registry)}:{tag}"
        progress(f"building {ref}")
        stream = client.api.build(
            path=str(REPO_ROOT),
            dockerfile=f"services/{component}/Dockerfile",
            tag=ref,
            buildargs=build_args(component, build_args_extra, revision),
            rm=True,
            decode=True,
        )
        image_id = _stream(stream, f"build of {component}", progress)
        image = client.images.get(image_id or ref)
        if push:
            progress(f"pushing {ref}")
            _stream(client.api.push(image_name(component, registry), tag=tag, stream=True, decode=True),
                    f"push of {ref}", progress)  # fmt: skip
        built.append(BuiltImage(component, ref, tag, image.id, image.attrs["Size"] / 1e6))
    return built
