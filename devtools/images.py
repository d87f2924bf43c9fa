"""Build and push the four service images: localhost:5001/cartridge-<name>:<tag>.

One code path for `devtools images build [--push]` and `devtools up --no-tilt`. Base images are build
args read from the environment (PYTHON_IMAGE, NODE_IMAGE, NGINX_IMAGE), so mirrors and offline machines
substitute them; an offline trainer build uses a local torch wheel copied into .wheels/.

Each image is sent only the files its Dockerfile COPYs (after .dockerignore), with normalised owners and
modes, so the actor's build does not upload the trainer's 180 MB torch wheel and a checkout made with a
strict umask still gives uid 10001 readable code. The default tag is the git revision when the image's
sources are clean, else ``<rev>-dirty-<digest of its context>``: the same sources give the same tag
(nothing to roll out) and an edit gives a new one (so `kubectl apply` rolls it out).
"""

from __future__ import annotations

import fnmatch
import glob
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from devtools.errors import DevtoolsError

REPO_ROOT = Path(__file__).resolve().parents[1]
COMPONENTS = ("actor", "trainer", "web", "frontend")
REGISTRY = "localhost:5001"
# Passed through from the environment when set; the Dockerfiles' defaults are the upstream images.
PASSTHROUGH_ARGS = ("PYTHON_IMAGE", "NODE_IMAGE", "NGINX_IMAGE", "TORCH_INDEX_URL")
TORCH_WHEEL = "torch-2.13.0+cpu-*.whl"
Progress = Callable[[str], None]


@dataclass(frozen=True)
class BuiltImage:
    component: str
    ref: str  # repository:tag
    tag: str
    image_id: str
    size_mb: float
    context_mb: float = 0.0
    pushed: bool = False


def image_name(component: str, registry: str = REGISTRY) -> str:
    return f"{registry}/cartridge-{component}"


def dockerfile_path(component: str) -> str:
    return f"services/{component}/Dockerfile"


# --- the build context ------------------------------------------------------------------------------


def copy_sources(dockerfile_text: str) -> list[str]:
    """The context paths (globs allowed) a Dockerfile's COPY and ADD instructions read."""
    sources: list[str] = []
    for line in dockerfile_text.replace("\\\n", " ").splitlines():
        words = line.split()
        if not words or words[0].upper() not in ("COPY", "ADD"):
            continue
        if any(w.startswith("--from") for w in words[1:]):
            continue  # from another stage, not from the context
        args = [w for w in words[1:] if not w.startswith("--")]
        if args and args[0].startswith("["):  # the JSON form: COPY ["src", "dest"]
            args = json.loads(line[line.index("[") :])
        sources += [a.removeprefix("./").rstrip("/") or "." for a in args[:-1]]
    return sources


def context_files(component: str, root: Path = REPO_ROOT) -> list[str]:
    """Files of the repository (after .dockerignore) that this component's Dockerfile can COPY."""
    from docker.utils.build import exclude_paths

    dockerfile = dockerfile_path(component)
    ignore = root / ".dockerignore"
    patterns = [p.strip() for p in ignore.read_text().splitlines() if p.strip() and not p.startswith("#")]
    sources = copy_sources((root / dockerfile).read_text())

    def wanted(path: str) -> bool:
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        return any(fnmatch.fnmatchcase(prefix, src) for src in sources for prefix in prefixes)

    files = {p for p in exclude_paths(str(root), patterns, dockerfile=dockerfile) if wanted(p)}
    return sorted({*(p for p in files if (root / p).is_file()), dockerfile})


def write_context(root: Path, files: Iterable[str], fileobj) -> str:
    """Write the build context as a tar (owner root, modes 644/755); return its content digest."""
    digest = hashlib.sha256()
    with tarfile.open(fileobj=fileobj, mode="w") as tar:
        for name in sorted(set(files)):
            path = root / name
            info = tar.gettarinfo(str(path), arcname=name)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mode = 0o755 if info.mode & 0o111 else 0o644
            with open(path, "rb") as content:
                tar.addfile(info, content)
            digest.update(f"{name}\0{info.mode:o}\0".encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    fileobj.seek(0)
    return digest.hexdigest()


# --- tags and build args ------------------------------------------------------------------------------


def _git(root: Path, *args: str) -> str | None:
    try:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def default_tag(component: str, context_digest: str, root: Path = REPO_ROOT) -> str:
    """The git revision if the image's sources are committed, else ``<rev>-dirty-<digest>``."""
    rev = _git(root, "rev-parse", "--short=12", "HEAD")
    if rev is None:
        return f"dev-{context_digest[:12]}"
    paths = [s for s in copy_sources((root / dockerfile_path(component)).read_text()) if not s.startswith(".wheel")]
    dirty = _git(root, "status", "--porcelain", "--", dockerfile_path(component), *paths)
    return f"{rev}-dirty-{context_digest[:12]}" if dirty else rev


def local_torch_wheel(root: Path = REPO_ROOT) -> Path | None:
    """Put a local CPU torch wheel (from PIP_FIND_LINKS) into .wheels/ so the trainer builds offline."""
    wheels = root / ".wheels"
    found = sorted(wheels.glob(TORCH_WHEEL))
    if found:
        return found[-1]
    for links in filter(None, os.environ.get("PIP_FIND_LINKS", "").split()):
        candidates = sorted(glob.glob(os.path.join(links.removeprefix("file://"), TORCH_WHEEL)))
        if candidates:
            wheels.mkdir(exist_ok=True)
            return Path(shutil.copy2(candidates[-1], wheels))
    return None


def image_build_args(component: str, extra: dict[str, str] | None = None, revision: str = "unknown",
                     root: Path = REPO_ROOT) -> dict[str, str]:  # fmt: skip
    """Build args: base images from the environment, the revision label, then ``extra`` on top."""
    args = {name: os.environ[name] for name in PASSTHROUGH_ARGS if os.environ.get(name) is not None}
    if component == "trainer" and "TORCH_INDEX_URL" not in args and local_torch_wheel(root) is not None:
        args["TORCH_INDEX_URL"] = ""  # the local wheel in .wheels/ serves torch; no index needed
    return {**args, "REVISION": revision, **(extra or {})}


# --- build and push ------------------------------------------------------------------------------------


def _client():
    from devtools.registry import docker_client

    return docker_client()


def _hint(detail: str, last_step: str, component: str) -> str:
    text = detail.lower()
    if " FROM " in last_step or "pull access denied" in text or "manifest unknown" in text:
        return ("a base image is missing: set PYTHON_IMAGE, NODE_IMAGE and NGINX_IMAGE to images this machine "
                "has or can pull (on our machines: `../shared/tools/container-sandbox env`)")  # fmt: skip
    if "no matching distribution" in text or "could not find a version" in text:
        return ("the build cannot reach a package index: check the proxy and CA settings, or, for torch, "
                "put the CPU wheel in .wheels/ (PIP_FIND_LINKS is searched) and set TORCH_INDEX_URL=''")  # fmt: skip
    return f"run `docker build -f {dockerfile_path(component)} .` in the repository for the whole log"


def _follow(chunks, what: str, component: str, progress: Progress) -> str | None:
    """Follow a build or push stream; raise on its error (with the output's tail); return an image id."""
    image_id, tail = None, []
    for chunk in chunks:
        if "error" in chunk:
            detail = (chunk.get("errorDetail") or {}).get("message") or chunk["error"]
            last = "\n".join(f"  {line}" for line in tail[-12:])
            message = f"{what} failed: {detail.strip()}" + (f"\n{last}" if last else "")
            last_step = next((line for line in reversed(tail) if line.startswith("Step ")), "")
            raise DevtoolsError(message, _hint(detail + " ".join(tail), last_step, component))
        if "aux" in chunk and "ID" in chunk["aux"]:
            image_id = chunk["aux"]["ID"]
        for line in chunk.get("stream", "").splitlines():
            if line.strip():
                tail.append(line.rstrip())
            if line.startswith("Step "):
                progress(f"{what}: {line.strip()}")
            if line.startswith("Successfully built "):
                image_id = line.split()[-1]
    return image_id


def build_image(component: str, tag: str | None = None, build_args: dict[str, str] | None = None,
                progress: Progress = lambda msg: None, registry: str = REGISTRY, client=None,
                root: Path = REPO_ROOT, target: str | None = None) -> BuiltImage:  # fmt: skip
    """Build one image from its own minimal context, reusing the build cache."""
    from docker.errors import DockerException

    if component not in COMPONENTS:
        raise DevtoolsError(f"unknown image {component!r}", f"choose from {', '.join(COMPONENTS)}")
    client = client or _client()
    if component == "trainer":
        local_torch_wheel(root)  # before listing the context, so the wheel is part of it
    revision = _git(root, "rev-parse", "HEAD") or "unknown"
    with tempfile.TemporaryFile() as context:
        digest = write_context(root, context_files(component, root), context)
        args = image_build_args(component, build_args, revision, root)
        # Base images and other build args are part of what a content tag stands for.
        digest = hashlib.sha256(f"{digest} {sorted(args.items())} {target}".encode()).hexdigest()
        tag = tag or default_tag(component, digest, root)
        args["VERSION"] = (build_args or {}).get("VERSION", tag)
        ref = f"{image_name(component, registry)}:{tag}"
        size = context.seek(0, os.SEEK_END) / 1e6
        context.seek(0)
        progress(f"building {ref} (context {size:.1f} MB)")
        try:
            stream = client.api.build(
                fileobj=context, custom_context=True, dockerfile=dockerfile_path(component), tag=ref, rm=True,
                buildargs=args, target=target, decode=True,
            )  # fmt: skip
            image_id = _follow(stream, f"build of {component}", component, progress)
            image = client.images.get(image_id or ref)
        except DockerException as exc:
            raise DevtoolsError(f"build of {component} failed: {exc}", _hint(str(exc), "", component)) from None
    return BuiltImage(component, ref, tag, image.id, image.attrs["Size"] / 1e6, size)


def push_images(images: Iterable[BuiltImage], progress: Progress = lambda msg: None, client=None) -> list[BuiltImage]:
    """Push built images to their registry (the local one: localhost:5001)."""
    from docker.errors import DockerException

    client = client or _client()
    pushed = []
    for image in images:
        repository = image.ref.rsplit(":", 1)[0]
        progress(f"pushing {image.ref}")
        try:
            stream = client.api.push(repository, tag=image.tag, stream=True, decode=True)
            _follow(stream, f"push of {image.ref}", image.component, progress)
        except (DevtoolsError, DockerException) as exc:
            message = exc.message if isinstance(exc, DevtoolsError) else f"push of {image.ref} failed: {exc}"
            hint = f"is the registry at {repository.split('/')[0]} up? `devtools up` starts it ({REGISTRY})"
            raise DevtoolsError(message, hint) from None
        pushed.append(replace(image, pushed=True))
    return pushed


def build_images(
    names: Iterable[str] | None = None,
    tag: str | None = None,
    push: bool = False,
    build_args: dict[str, str] | None = None,
    progress: Progress = lambda msg: None,
    registry: str = REGISTRY,
    client=None,
) -> list[BuiltImage]:
    """Build (and with ``push`` push) the named images, all four by default, in a stable order."""
    names = list(names or COMPONENTS)
    for name in names:
        if name not in COMPONENTS:
            raise DevtoolsError(f"unknown image {name!r}", f"choose from {', '.join(COMPONENTS)}")
    client = client or _client()
    built = [build_image(name, tag, build_args, progress, registry, client) for name in names]
    return push_images(built, progress, client) if push else built
