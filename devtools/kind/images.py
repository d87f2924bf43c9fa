"""Build and push the service images: localhost:5001/cartridge-<name>:<tag>.

What each image is (context, Dockerfile, target, build args, repository) is written once, in
docker-bake.json at the repository root; the Tiltfile (read_json), images.yml (docker/bake-action) and
this module read it, and tests/test_image_definitions.py holds the three to the same answer.

One code path for `devtools images build [--push]` and `devtools up --no-tilt`. Where `docker buildx`
exists the images are built with BuildKit by `docker buildx bake` on that file, in the engine's own
builder, so Tilt's builds (BuildKit too) and ours share one cache. Without buildx (Docker's legacy
builder, e.g. an engine without the plugin) each image is built through the Docker API from the same
definitions; it is then sent only the files its Dockerfile COPYs (after .dockerignore), with normalised
owners and modes, since the legacy builder uploads the whole context (the trainer's 180 MB torch wheel
included) where BuildKit fetches only what COPY reads.

Base images are build args read from the environment (PYTHON_IMAGE, NODE_IMAGE, NGINX_IMAGE), so
mirrors and offline machines substitute them; an offline trainer build uses a local torch wheel copied
into .wheels/. The default tag is the git revision when the image's sources are clean, else
``<rev>-dirty-<digest of its context>``: the same sources give the same tag (nothing to roll out) and an
edit gives a new one (so `kubectl apply` rolls it out).
"""

from __future__ import annotations

import contextlib
import enum
import fnmatch
import glob
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from devtools.errors import DevtoolsError
from devtools.kind.bake import (
    BAKE_FILE,
    COMPONENTS,
    PASSTHROUGH_ARGS,
    REGISTRY,
    ImageDefinition,
    image_definitions,
    image_name,
)
from devtools.paths import REPO_ROOT
from devtools.process import Echo, Progress, run_command
from devtools.progress import Detail, Step

# Passed through from the environment when set; the Dockerfiles' defaults are the upstream images.
TORCH_WHEEL = "torch-2.13.0+cpu-*.whl"
# Tilt cannot pass an empty build arg (it becomes unset: tilt-dev/tilt v0.37.6 internal/tiltfile/docker.go), so no
# builder does: an environment's empty value is unset, except these, whose empty value means something and is
# spelled so services/Dockerfile reads it (the Tiltfile's EMPTY_BUILD_ARG; tests/test_image_definitions.py).
EMPTY_BUILD_ARG = {"TORCH_INDEX_URL": "none"}


@dataclass(frozen=True)
class BuiltImage:
    component: str
    ref: str  # repository:tag
    tag: str
    image_id: str
    size_mb: float
    context_mb: float = 0.0
    pushed: bool = False


# --- the build context ------------------------------------------------------------------------------


def copy_sources(dockerfile_text: str, target: str | None = None) -> list[str]:
    """The context paths (globs allowed) a Dockerfile's COPY and ADD instructions read: with ``target``, those
    of every stage up to and including it, since the legacy builder builds each stage before the target."""
    sources: list[str] = []
    in_target = False
    for line in dockerfile_text.replace("\\\n", " ").splitlines():
        words = line.split()
        if words[:1] == ["FROM"]:
            if in_target:
                break
            in_target = target is not None and len(words) >= 4 and words[2].upper() == "AS" and words[3] == target
            continue
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

    definition = image_definitions(root=root, environ={})[component]
    dockerfile = definition.dockerfile
    ignore = root / ".dockerignore"
    patterns = [p.strip() for p in ignore.read_text().splitlines() if p.strip() and not p.startswith("#")]
    sources = copy_sources((root / dockerfile).read_text(), definition.target)

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
    definition = image_definitions(root=root, environ={})[component]
    text = (root / definition.dockerfile).read_text()
    paths = [s for s in copy_sources(text, definition.target) if not s.startswith(".wheel")]
    dirty = _git(root, "status", "--porcelain", "--", definition.dockerfile, *paths)
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


def image_build_args(
    component: str, extra: dict[str, str] | None = None, revision: str = "unknown", root: Path = REPO_ROOT
) -> dict[str, str]:
    """Build args: base images from the environment, the revision label, then ``extra`` on top."""
    set_values = {name: os.environ[name] for name in PASSTHROUGH_ARGS if os.environ.get(name) is not None}
    args = {name: value or EMPTY_BUILD_ARG.get(name, "") for name, value in set_values.items()}
    args = {name: value for name, value in args.items() if value}  # an empty one is unset, as under Tilt
    if component == "trainer" and "TORCH_INDEX_URL" not in set_values and local_torch_wheel(root) is not None:
        args["TORCH_INDEX_URL"] = EMPTY_BUILD_ARG["TORCH_INDEX_URL"]  # the local wheel in .wheels/ serves torch
    return {**args, "REVISION": revision, **(extra or {})}


# --- build and push ------------------------------------------------------------------------------------


def _client():
    from devtools.docker_engine import docker_client

    return docker_client()


def _hint(detail: str, last_step: str, component: str) -> str:
    text = detail.lower()
    if " FROM " in last_step or "pull access denied" in text or "manifest unknown" in text:
        return (
            "a base image is missing: set PYTHON_IMAGE, NODE_IMAGE and NGINX_IMAGE to images this machine "
            "has or can pull (on our machines: `../shared/tools/container-sandbox env`)"
        )
    if "no matching distribution" in text or "could not find a version" in text:
        return (
            "the build cannot reach a package index: check the proxy and CA settings, or, for torch, "
            "put the CPU wheel in .wheels/ (PIP_FIND_LINKS is searched) and set TORCH_INDEX_URL=''"
        )
    definition = image_definitions(environ={})[component]
    target = f" --target {definition.target}" if definition.target else ""
    return f"run `docker build -f {definition.dockerfile}{target} .` in the repository for the whole log"


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
                progress(Detail(f"{what}: {line.strip()}"))
            if line.startswith("Successfully built "):
                image_id = line.split()[-1]
    return image_id


def buildx_available() -> bool:
    """`docker buildx` answers: BuildKit builds through bake (developer machines, Actions)."""
    try:
        return subprocess.run(["docker", "buildx", "version"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@dataclass(frozen=True)
class PlannedImage:
    definition: ImageDefinition
    ref: str  # repository:tag
    tag: str
    args: dict[str, str]  # the definition's args, the environment's base images, revision and version
    context_mb: float


def plan_image(
    definition: ImageDefinition,
    *,
    tag: str | None = None,
    build_args: dict[str, str] | None = None,
    root: Path = REPO_ROOT,
    context=None,
) -> PlannedImage:
    """Tag and build args of one image; ``context`` (a file) receives the legacy builder's tar."""
    component = definition.component
    if component == "trainer":
        local_torch_wheel(root)  # before listing the context, so the wheel is part of it
    revision = _git(root, "rev-parse", "HEAD") or "unknown"
    with contextlib.nullcontext(context) if context is not None else tempfile.TemporaryFile() as tar:
        digest = write_context(root, context_files(component, root), tar)
        size = tar.seek(0, os.SEEK_END) / 1e6
        tar.seek(0)
    args = {**definition.args, **image_build_args(component, build_args, revision, root)}
    # Base images and other build args are part of what a content tag stands for.
    digest = hashlib.sha256(f"{digest} {sorted(args.items())} {definition.target}".encode()).hexdigest()
    tag = tag or default_tag(component, digest, root)
    args["VERSION"] = (build_args or {}).get("VERSION", tag)
    return PlannedImage(definition, f"{definition.repository}:{tag}", tag, args, size)


def bake_command(planned: Iterable[PlannedImage], push: bool, root: Path = REPO_ROOT) -> list[str]:
    """`docker buildx bake` for these images: the bake file's targets, our tags and build args on top."""
    planned = list(planned)
    command = ["docker", "buildx", "bake", "--file", str(root / BAKE_FILE), *(p.definition.name for p in planned)]
    for image in planned:
        command += ["--set", f"{image.definition.name}.tags={image.ref}"]
        command += [f"--set={image.definition.name}.args.{k}={v}" for k, v in sorted(image.args.items())]
    return [*command, "--push" if push else "--load"]


def _built(image: PlannedImage, client, pushed: bool) -> BuiltImage:
    found = client.images.get(image.ref)
    return BuiltImage(
        image.definition.component, image.ref, image.tag, found.id, found.attrs["Size"] / 1e6, image.context_mb, pushed
    )


def bake_images(
    planned: list[PlannedImage],
    *,
    push: bool,
    progress: Progress,
    client,
    root: Path = REPO_ROOT,
    run=subprocess.run,
    echo: Echo | None = None,
) -> list[BuiltImage]:
    """Build (and push) with BuildKit through `docker buildx bake`, one invocation for every image; with ``echo``
    (`devtools -v`) BuildKit's output goes to it line by line as it builds."""
    # One step: bake builds the images side by side and says which finished only in its own output.
    progress(
        Step(f"{'Building and pushing' if push else 'Building'} {', '.join(p.ref for p in planned)} (buildx bake)")
    )
    if echo is not None:  # the whole log is shown as it comes: a failure's message needs only its last line
        run_command(bake_command(planned, push, root), cwd=root, timeout=None, echo=echo)
        result = None
    else:
        result = run(bake_command(planned, push, root), cwd=root, capture_output=True, text=True)
    if result is not None and result.returncode != 0:
        tail = "\n".join(f"  {line}" for line in (result.stderr or result.stdout).strip().splitlines()[-12:])
        hint = f"run `docker buildx bake --file {BAKE_FILE}` in the repository for the whole log"
        raise DevtoolsError(f"docker buildx bake failed:\n{tail}", hint)
    if push:  # --push leaves no image in the engine's store: pull what was pushed for id and size
        for image in planned:
            client.images.pull(image.ref)
    return [_built(image, client, push) for image in planned]


def build_image(
    component: str,
    *,
    tag: str | None = None,
    build_args: dict[str, str] | None = None,
    progress: Progress = lambda msg: None,
    registry: str | None = None,
    client=None,
    root: Path = REPO_ROOT,
    target: str | None = None,
    group: str = "default",
) -> BuiltImage:
    """Build one image with the legacy builder, from its own minimal context, reusing the build cache.

    ``tag``: default_tag's; ``build_args`` on top of the definition's and the environment's; ``registry``
    replaces the bake file's (localhost:5001); ``client``: the Docker client (docker_client() by default);
    ``root``: the repository (or a copy of it); ``target`` and ``group``: the Dockerfile stage and bake group."""
    from docker.errors import DockerException

    definitions = image_definitions(group, root)
    if component not in definitions:
        raise DevtoolsError(f"unknown image {component!r}", f"choose from {', '.join(definitions)}")
    definition = definitions[component]
    if registry is not None:
        definition = replace(definition, repository=image_name(component, registry))
    if target is not None:
        definition = replace(definition, target=target)
    client = client or _client()
    with tempfile.TemporaryFile() as context:
        image = plan_image(definition, tag=tag, build_args=build_args, root=root, context=context)
        progress(Step(f"Building {image.ref} (context {image.context_mb:.1f} MB)"))
        try:
            stream = client.api.build(
                fileobj=context,
                custom_context=True,
                dockerfile=definition.dockerfile,
                tag=image.ref,
                rm=True,
                buildargs=image.args,
                target=definition.target,
                decode=True,
            )
            _follow(stream, f"build of {component}", component, progress)
            return _built(image, client, pushed=False)
        except DockerException as exc:
            raise DevtoolsError(f"build of {component} failed: {exc}", _hint(str(exc), "", component)) from None


def push_images(images: Iterable[BuiltImage], progress: Progress = lambda msg: None, client=None) -> list[BuiltImage]:
    """Push built images to their registry (the local one: localhost:5001)."""
    from docker.errors import DockerException

    client = client or _client()
    pushed = []
    for image in images:
        repository = image.ref.rsplit(":", 1)[0]
        progress(Step(f"Pushing {image.ref}"))
        try:
            stream = client.api.push(repository, tag=image.tag, stream=True, decode=True)
            _follow(stream, f"push of {image.ref}", image.component, progress)
        except (DevtoolsError, DockerException) as exc:
            message = exc.message if isinstance(exc, DevtoolsError) else f"push of {image.ref} failed: {exc}"
            hint = f"is the registry at {repository.split('/')[0]} up? `devtools up` starts it ({REGISTRY})"
            raise DevtoolsError(message, hint) from None
        pushed.append(replace(image, pushed=True))
    return pushed


class Builder(enum.Enum):
    """Which builder build_images uses."""

    AUTO = "auto"  # BuildKit where `docker buildx` answers (buildx_available), else the legacy builder
    BUILDKIT = "buildkit"  # `docker buildx bake`
    LEGACY = "legacy"  # the Docker API's classic build, one image at a time from its minimal context

    def uses_buildkit(self) -> bool:
        return buildx_available() if self is Builder.AUTO else self is Builder.BUILDKIT


def build_images(
    names: Iterable[str] | None = None,
    *,
    tag: str | None = None,
    push: bool = False,
    build_args: dict[str, str] | None = None,
    progress: Progress = lambda msg: None,
    registry: str | None = None,
    client=None,
    builder: Builder = Builder.AUTO,
    echo: Echo | None = None,
) -> list[BuiltImage]:
    """Build (and with ``push`` push) the named images, all of them by default, in a stable order: with BuildKit
    (bake) where buildx exists, else with the legacy builder (``builder`` chooses), from the same definitions.
    ``echo`` receives BuildKit's output line by line (`devtools -v`)."""
    names = list(names or COMPONENTS)
    for name in names:
        if name not in COMPONENTS:
            raise DevtoolsError(f"unknown image {name!r}", f"choose from {', '.join(COMPONENTS)}")
    client = client or _client()
    if builder.uses_buildkit():
        definitions = image_definitions()
        if registry is not None:
            definitions = {n: replace(d, repository=image_name(n, registry)) for n, d in definitions.items()}
        planned = [plan_image(definitions[n], tag=tag, build_args=build_args) for n in names]
        return bake_images(planned, push=push, progress=progress, client=client, echo=echo)
    built = [
        build_image(name, tag=tag, build_args=build_args, progress=progress, registry=registry, client=client)
        for name in names
    ]
    return push_images(built, progress, client) if push else built
