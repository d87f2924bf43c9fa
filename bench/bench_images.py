"""Image sizes, and the wall time of a rebuild after a one-line source change.

Builds the four images (reusing the cache), then changes one line of a Python source (and of the
frontend) in a temporary copy of the build context and rebuilds. Base images come from the
environment as for the tests (PYTHON_IMAGE, NODE_IMAGE, NGINX_IMAGE; container-sandbox env here).

    .venv/bin/python -m bench.bench_images
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from devtools.images import COMPONENTS, build_args, image_name
from devtools.registry import docker_client

REPO = Path(__file__).resolve().parents[1]
EDITS = {
    "actor": "services/cartridge/mcts.py",
    "trainer": "services/trainer/cartridge_trainer/training.py",
    "web": "services/web/cartridge_web/gameplay.py",
    "frontend": "services/frontend/src/lib/game.js",
}


def build(client, context: Path, component: str, tag: str) -> float:
    started = time.perf_counter()
    for chunk in client.api.build(path=str(context), dockerfile=f"services/{component}/Dockerfile",
                                  tag=f"{image_name(component)}:{tag}", buildargs=build_args(component),
                                  rm=True, decode=True):  # fmt: skip
        if "error" in chunk:
            raise RuntimeError(chunk["error"])
    return time.perf_counter() - started


def main() -> None:
    client = docker_client()
    with tempfile.TemporaryDirectory(prefix="cartridge-bench-images-") as tmp:
        context = Path(tmp) / "repo"
        files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
        for name in files + [str(p.relative_to(REPO)) for p in (REPO / ".wheels").glob("*.whl")]:
            target = context / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, target)
        rows = []
        for component in COMPONENTS:
            cold = build(client, context, component, "bench")
            size = client.images.get(f"{image_name(component)}:bench").attrs["Size"] / 1e6
            edited = context / EDITS[component]
            edited.write_text(
                edited.read_text() + ("\n# one-line change\n" if edited.suffix == ".py" else "\n// one\n")
            )
            rebuild = build(client, context, component, "bench")
            rows.append((component, size, cold, rebuild))
    print("legacy builder, 2 cores, base images from the environment\n")
    print(f"{'image':10} {'size MB':>8} {'build s (cache)':>16} {'rebuild after 1-line change s':>31}")
    for component, size, cold, rebuild in rows:
        print(f"{component:10} {size:8.0f} {cold:16.1f} {rebuild:31.1f}")


if __name__ == "__main__":
    main()
