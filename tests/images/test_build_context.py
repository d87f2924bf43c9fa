"""devtools.kind.images without a Docker engine: the per-image context, content tags, local wheels, errors."""

from __future__ import annotations

import os
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest

from devtools.errors import DevtoolsError
from devtools.kind.images import build_images, default_tag, image_build_args, local_torch_wheel, write_context
from devtools.paths import REPO_ROOT

DOCKERFILE = "FROM x AS actor\nCOPY services/cartridge /app/services/cartridge\nCOPY services/actor/pkg /app/pkg\n"
BAKE = (REPO_ROOT / "docker-bake.json").read_text()  # the image definitions


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def repo(tmp_path) -> Path:
    """A small git repository shaped like ours: an actor Dockerfile and the sources it copies."""
    for name, text in {
        "services/Dockerfile": DOCKERFILE,
        "services/cartridge/a.py": "a = 1\n",
        "services/actor/pkg/main.py": "main = 1\n",
        "README.md": "readme\n",
        "docker-bake.json": BAKE,
    }.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    return tmp_path


def digest_of(root: Path, files: list[str]) -> str:
    with tempfile.TemporaryFile() as out:
        return write_context(root, files, out)


def test_context_tar_has_root_owner_and_plain_modes_whatever_the_checkout(tmp_path):
    (tmp_path / "secret.py").write_text("x = 1\n")
    (tmp_path / "secret.py").chmod(0o600)  # as a strict umask leaves it: unreadable for uid 10001
    (tmp_path / "run.sh").write_text("#!/bin/sh\n")
    (tmp_path / "run.sh").chmod(0o700)
    with tempfile.TemporaryFile() as out:
        write_context(tmp_path, ["secret.py", "run.sh"], out)
        with tarfile.open(fileobj=out) as tar:
            members = {m.name: m for m in tar.getmembers()}
    assert {n: oct(m.mode) for n, m in members.items()} == {"secret.py": "0o644", "run.sh": "0o755"}
    assert {(m.uid, m.gid, m.uname, m.gname) for m in members.values()} == {(0, 0, "", "")}


def test_context_digest_follows_content_not_timestamps(repo):
    files = ["services/cartridge/a.py", "services/actor/pkg/main.py"]
    first = digest_of(repo, files)
    os.utime(repo / "services/cartridge/a.py", (1, 1))
    assert digest_of(repo, files) == first
    (repo / "services/cartridge/a.py").write_text("a = 2\n")
    assert digest_of(repo, files) != first


def test_tag_is_the_revision_until_the_image_sources_change(repo):
    rev = git(repo, "rev-parse", "--short=12", "HEAD")
    assert default_tag("actor", "d" * 64, repo) == rev
    (repo / "README.md").write_text("not in the actor's context\n")
    assert default_tag("actor", "d" * 64, repo) == rev
    (repo / "services/cartridge/a.py").write_text("a = 2\n")
    assert default_tag("actor", "d" * 64, repo) == f"{rev}-dirty-{'d' * 12}"
    (repo / "services/cartridge/new.py").write_text("")  # untracked, but in the context all the same
    git(repo, "checkout", "-q", "--", "services/cartridge/a.py")
    assert default_tag("actor", "e" * 64, repo) == f"{rev}-dirty-{'e' * 12}"


def test_tag_outside_git_is_the_content_digest(tmp_path):
    (tmp_path / "services").mkdir(parents=True)
    (tmp_path / "services/Dockerfile").write_text(DOCKERFILE)
    (tmp_path / "docker-bake.json").write_text(BAKE)
    assert default_tag("actor", "f" * 64, tmp_path) == f"dev-{'f' * 12}"


def test_a_local_torch_wheel_from_pip_find_links_makes_the_trainer_build_offline(tmp_path, monkeypatch):
    links = tmp_path / "links"
    links.mkdir()
    wheel = links / "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"
    wheel.write_bytes(b"wheel")
    root = tmp_path / "repo"
    root.mkdir()
    monkeypatch.delenv("TORCH_INDEX_URL", raising=False)
    monkeypatch.setenv("PIP_FIND_LINKS", f"file://{links}")
    assert local_torch_wheel(root) == root / ".wheels" / wheel.name
    assert (root / ".wheels" / wheel.name).read_bytes() == b"wheel"
    assert image_build_args("trainer", root=root)["TORCH_INDEX_URL"] == "none"  # no index: services/Dockerfile
    assert "TORCH_INDEX_URL" not in image_build_args("actor", root=root)
    monkeypatch.setenv("TORCH_INDEX_URL", "https://mirror.example/whl/cpu")  # an explicit choice wins
    assert image_build_args("trainer", root=root)["TORCH_INDEX_URL"] == "https://mirror.example/whl/cpu"


def test_base_images_pass_through_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("PYTHON_IMAGE", "mirror.example/python:3.11.11-slim-bookworm")
    monkeypatch.delenv("NODE_IMAGE", raising=False)
    args = image_build_args("web", {"APP_OWNER": "10001:10001"}, "abc", root=tmp_path)
    assert args["PYTHON_IMAGE"] == "mirror.example/python:3.11.11-slim-bookworm"
    assert args["REVISION"] == "abc" and args["APP_OWNER"] == "10001:10001" and "NODE_IMAGE" not in args


def test_an_unknown_image_name_is_refused_before_docker_is_asked(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(DevtoolsError) as error:
        build_images(["actor", "nope"])
    assert str(error.value) == "unknown image 'nope'"
    assert error.value.hint == "choose from actor, arena, trainer, web, frontend"


def test_a_daemon_that_does_not_answer_is_one_sentence_and_a_hint(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(DevtoolsError) as error:
        build_images(["actor"])
    assert str(error.value).startswith("the Docker daemon does not answer")
    assert "start Docker" in error.value.hint
