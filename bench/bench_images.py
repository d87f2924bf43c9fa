"""Image sizes, and the wall time of a rebuild after a one-line source change.

For each image: build it (reusing the cache), then append one line to one of its source files in a
temporary copy of the build context and rebuild, twice: with devtools' per-image context (the files the
Dockerfile COPYs) and with the whole .dockerignore'd repository root (what `docker build .` sends).
The repository itself is never modified. Base images come from the environment as for the tests
(PYTHON_IMAGE, NODE_IMAGE, NGINX_IMAGE: `container-sandbox env` here).

    .venv/bin/python -m bench.bench_images [actor trainer web frontend]
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

from devtools.docker_engine import docker_client
from devtools.kind.bake import BAKE_FILE, COMPONENTS, image_definitions, image_name
from devtools.kind.images import build_image, context_files, image_build_args
from devtools.paths import REPO_ROOT

EDITS = {
    "actor": "services/cartridge/mcts.py",
    "trainer": "services/trainer/cartridge_trainer/training.py",
    "web": "services/web/cartridge_web/gameplay.py",
    "frontend": "services/frontend/src/lib/game.js",
}


def copy_context(target: Path) -> None:
    names = {".dockerignore", BAKE_FILE, *(name for c in COMPONENTS for name in context_files(c, REPO_ROOT))}
    for name in names:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / name, target / name)


def one_line_change(context: Path, component: str, n: int) -> None:
    path = context / EDITS[component]
    comment = "#" if path.suffix == ".py" else "//"
    # A line never written before, so no earlier run's cache can serve it.
    path.write_text(path.read_text() + f"{comment} one-line change {n} {uuid.uuid4().hex}\n")


def timed(fn) -> tuple[float, object]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def whole_root_build(client, context: Path, component: str) -> None:
    """What `docker build -f <its Dockerfile> --target <its target> .` does: the whole root minus .dockerignore."""
    definition = image_definitions(root=context)[component]
    args = {**definition.args, **image_build_args(component, root=context)}
    stream = client.api.build(
        path=str(context),
        dockerfile=definition.dockerfile,
        target=definition.target,
        rm=True,
        decode=True,
        tag=f"{image_name(component)}:bench",
        buildargs=args,
    )
    for chunk in stream:
        if "error" in chunk:
            raise SystemExit(f"{component}: {chunk['error']}")


def main(names: list[str]) -> None:
    client = docker_client()
    rows = []
    with tempfile.TemporaryDirectory(prefix="cartridge-bench-images-") as tmp:
        context = Path(tmp)
        copy_context(context)
        for component in names:

            def build(c=component):
                return build_image(c, tag="bench", client=client, root=context)

            def build_root(c=component):
                return whole_root_build(client, context, c)

            cached, image = timed(build)
            build_root()  # its own cache (tar headers differ), so the timed rebuild below is a fair one
            one_line_change(context, component, 1)
            rebuild, _ = timed(build)
            one_line_change(context, component, 2)
            rebuild_root, _ = timed(build_root)
            rows.append((component, image.size_mb, image.context_mb, cached, rebuild, rebuild_root))
    print(f"legacy builder; base images from the environment; {len(names)} image(s)\n")
    print(
        f"{'image':9} {'size MB':>8} {'context MB':>11} {'no-change s':>12} {'1-line rebuild s':>17} "
        f"{'same, whole-root context s':>27} {'ratio':>6}"
    )
    for component, size, context_mb, cached, rebuild, rebuild_root in rows:
        print(
            f"{component:9} {size:8.0f} {context_mb:11.2f} {cached:12.1f} {rebuild:17.1f} {rebuild_root:27.1f} "
            f"{rebuild_root / rebuild:5.1f}x"
        )


if __name__ == "__main__":
    main(sys.argv[1:] or list(COMPONENTS))
