"""One definition of every image: docker-bake.json, read by the Tiltfile, devtools and images.yml alike.

Each consumer is asked what it would build: the Tiltfile evaluated in the Starlark stand-in (its
docker_build calls), devtools.kind.images (its definitions and the `docker buildx bake` command it runs), and
images.yml (the bake targets of its matrix). They must name the same images, contexts, Dockerfiles and
targets, and a change in docker-bake.json must reach all three.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from devtools.kind.bake import BAKE_FILE, COMPONENTS, image_definitions, passthrough_args
from devtools.kind.images import PlannedImage, bake_command
from devtools.paths import REPO_ROOT
from tests.test_tiltfile import evaluate_tiltfile, load_workflow


def tilt_builds(root: Path = REPO_ROOT, env: dict[str, str] | None = None) -> dict[str, dict]:
    """What the Tiltfile at ``root`` hands docker_build, by component."""
    result = evaluate_tiltfile(tiltfile=root / "Tiltfile", env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    builds = {}
    for (ref, context), kw in json.loads(result.stdout)["docker_build"]:
        builds[ref.rsplit("/", 1)[-1].removeprefix("cartridge-")] = {
            "repository": ref,
            "context": context,
            "dockerfile": kw["dockerfile"],
            "target": kw.get("target") or None,
            "args": kw.get("build_args", {}),
        }
    return builds


def devtools_builds(group: str, root: Path = REPO_ROOT) -> dict[str, dict]:
    return {
        c: {
            "repository": d.repository,
            "context": d.context,
            "dockerfile": d.dockerfile,
            "target": d.target,
            "args": d.args,
        }
        for c, d in image_definitions(group, root, environ={}).items()
    }


def test_tilt_builds_exactly_the_dev_images_devtools_reads_from_the_bake_file():
    assert tilt_builds() == devtools_builds("dev")
    assert sorted(COMPONENTS) == ["actor", "arena", "frontend", "trainer", "web"]


def test_release_and_dev_images_differ_only_where_the_bake_file_says():
    release, dev = devtools_builds("default"), devtools_builds("dev")
    for component in COMPONENTS:
        same = {k: v for k, v in release[component].items() if k not in ("args", "target")}
        assert same == {k: v for k, v in dev[component].items() if k not in ("args", "target")}
    assert dev["actor"]["args"] == {"APP_OWNER": "10001:10001"} and release["actor"]["args"] == {}
    assert (release["frontend"]["target"], dev["frontend"]["target"]) == ("runtime", "dev")


def test_images_yml_builds_the_bake_files_release_targets():
    doc = load_workflow(REPO_ROOT / ".github/workflows/images.yml")
    bake = json.loads((REPO_ROOT / BAKE_FILE).read_text())
    for job in doc["jobs"].values():
        targets = job["strategy"]["matrix"]["component"]
        assert targets == bake["group"]["default"]["targets"]
        assert all(t in bake["target"] and bake["target"][t]["dockerfile"] for t in targets)


def test_devtools_bakes_the_same_targets_it_builds_without_buildkit():
    definitions = image_definitions()
    planned = [
        PlannedImage(definitions[c], f"{definitions[c].repository}:t1", "t1", {"REVISION": "abc"}, 0.0)
        for c in COMPONENTS
    ]
    command = bake_command(planned, push=True)
    assert command[:5] == ["docker", "buildx", "bake", "--file", str(REPO_ROOT / BAKE_FILE)]
    assert command[5:10] == ["actor", "arena", "trainer", "web", "frontend"] and command[-1] == "--push"
    assert "actor.tags=localhost:5001/cartridge-actor:t1" in command
    assert "--set=frontend.args.REVISION=abc" in command


def test_an_edit_to_the_bake_file_reaches_tilt_and_devtools_alike(tmp_path):
    """Change the frontend's Dockerfile path and a build arg in a copy of the repository's definitions:
    both consumers follow, so neither keeps a private copy."""
    for name in ("Tiltfile", BAKE_FILE, "kind-config.yaml", "k8s", "services/frontend/Dockerfile"):
        source, target = REPO_ROOT / name, tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if source.is_dir() else shutil.copy)(source, target)
    bake = json.loads((tmp_path / BAKE_FILE).read_text())
    bake["target"]["frontend"]["dockerfile"] = "services/frontend/Other.Dockerfile"
    bake["target"]["_python-dev"]["args"]["EXTRA"] = "1"
    (tmp_path / BAKE_FILE).write_text(json.dumps(bake))
    tilt, devtools = tilt_builds(tmp_path), devtools_builds("dev", tmp_path)
    assert tilt == devtools
    assert tilt["frontend"]["dockerfile"] == "services/frontend/Other.Dockerfile"
    assert tilt["trainer"]["args"]["EXTRA"] == "1"


def test_base_images_from_the_environment_reach_tilt_as_they_reach_devtools():
    assert passthrough_args() == ("PYTHON_IMAGE", "NODE_IMAGE", "NGINX_IMAGE", "TORCH_INDEX_URL")
    builds = tilt_builds(env={"PYTHON_IMAGE": "mirror/python:3.11", "TORCH_INDEX_URL": ""})
    assert builds["actor"]["args"]["PYTHON_IMAGE"] == "mirror/python:3.11"
    assert builds["trainer"]["args"]["TORCH_INDEX_URL"] == "none"  # set but empty still counts: the offline wheel
    assert "PYTHON_IMAGE" not in tilt_builds()["actor"]["args"]


def torch_install(index: str | None, tmp_path: Path) -> str:
    """What services/Dockerfile's trainer install step runs with TORCH_INDEX_URL as the build hands it over
    (None: not given, so the ARG's default), its make-venv.sh replaced by one that prints its arguments."""
    text = (REPO_ROOT / "services/Dockerfile").read_text().replace("\\\n", " ")
    default = re.search(r"^ARG TORCH_INDEX_URL=(\S+)$", text, re.MULTILINE)[1]
    (run,) = [
        line.removeprefix("RUN ") for line in text.splitlines() if line.startswith("RUN") and "TORCH_INDEX_URL" in line
    ]
    (tmp_path / "make-venv.sh").write_text('echo "$@"\n')
    script = run.replace("/tmp/make-venv.sh", str(tmp_path / "make-venv.sh"))
    env = {"PATH": os.environ["PATH"], "TORCH_INDEX_URL": default if index is None else index}
    return subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True, env=env).stdout


def test_an_empty_torch_index_means_no_index_under_tilt_and_devtools_alike(tmp_path, monkeypatch):
    """The offline recipe TORCH_INDEX_URL='': Tilt turns an empty build arg into an unset one (the stand-in does as
    tilt-dev/tilt v0.37.6 internal/tiltfile/docker.go does), which would install from the Dockerfile's default
    index. Both builders hand the Dockerfile the same value, and it means no index there."""
    from devtools.kind.images import image_build_args

    tilt = tilt_builds(env={"TORCH_INDEX_URL": ""})["trainer"]["args"].get("TORCH_INDEX_URL")
    monkeypatch.setenv("TORCH_INDEX_URL", "")
    devtools = image_build_args("trainer", root=tmp_path).get("TORCH_INDEX_URL")
    assert tilt == devtools, f"Tilt hands the Dockerfile {tilt!r}, devtools {devtools!r}"
    assert "--extra-index-url" not in torch_install(tilt, tmp_path)
    # And an index set, or none set, still reaches pip.
    assert "--extra-index-url https://mirror.example/cpu" in torch_install("https://mirror.example/cpu", tmp_path)
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in torch_install(None, tmp_path)


def test_no_builder_hands_docker_an_empty_build_arg(tmp_path, monkeypatch):
    """An empty base image is unset under Tilt (the Dockerfile's default); devtools leaves it out as well."""
    from devtools.kind.images import image_build_args

    env = {"PYTHON_IMAGE": "", "NODE_IMAGE": "", "NGINX_IMAGE": "", "TORCH_INDEX_URL": ""}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for component, build in tilt_builds(env=env).items():
        ours = {k: v for k, v in image_build_args(component, root=tmp_path).items() if k in env}
        assert ours == {k: v for k, v in build["args"].items() if k in env}, component
        assert "" not in ours.values(), component
