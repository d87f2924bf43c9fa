""".github/workflows/release.yml: what runs on a version tag, in what order, with which rights; and its shell
steps run here, as the runner runs them (`bash -e`), with docker and gh replaced by recorders.

tests/test_workflows.py holds every workflow, this one too, to actionlint, pinned actions and least privilege.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from devtools.kind.bake import COMPONENTS
from devtools.paths import REPO_ROOT
from tests.test_workflows import bake_steps, load

WORKFLOW = REPO_ROOT / ".github/workflows/release.yml"
JOBS = load(WORKFLOW)["jobs"]
DIGESTS = ("a" * 64, "b" * 64)


def step(job: str, name: str) -> dict:
    (found,) = [s for s in JOBS[job]["steps"] if s.get("name", "").startswith(name)]
    return found


def upstream(job: str) -> set[str]:
    """Every job ``job`` waits for, directly or through another."""
    needs = JOBS[job].get("needs", [])
    direct = {needs} if isinstance(needs, str) else set(needs)
    return direct.union(*(upstream(name) for name in direct))


def recorder(bin_dir: Path, name: str, stdout_for: dict[str, str] | None = None) -> Path:
    """A stand-in ``name`` on PATH: appends its arguments, one call a line, to bin_dir/<name>.calls, and prints
    the text of the first key of ``stdout_for`` found in its arguments."""
    log = bin_dir / f"{name}.calls"
    script = bin_dir / name
    cases = "".join(
        f"  *{json.dumps(key)}*) printf '%s' {json.dumps(text)} ;;\n" for key, text in (stdout_for or {}).items()
    )
    script.write_text(f'#!/usr/bin/env bash\necho "$*" >> {log}\ncase "$*" in\n{cases}esac\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return log


def run_step(found: dict, env: dict[str, str], cwd: Path, bin_dir: Path | None = None) -> subprocess.CompletedProcess:
    """A step's `run:` as GitHub runs it on Linux (bash -e), with the step's env given by the test."""
    path = f"{bin_dir}{os.pathsep}{os.environ['PATH']}" if bin_dir else os.environ["PATH"]
    return subprocess.run(
        ["bash", "-e", "-c", found["run"]],
        cwd=cwd,
        env={"PATH": path, "HOME": str(cwd), **env},
        capture_output=True,
        text=True,
    )


# --- what runs, in what order, with which rights ------------------------------------------------------------


def test_a_version_tag_and_nothing_else_starts_a_release():
    assert load(WORKFLOW)["on"] == {"push": {"tags": ["v*"]}}


def test_nothing_is_built_until_the_tag_is_the_version_and_the_notes_exist():
    check = step("version", "The tag is pyproject's version")
    assert check["env"] == {"TAG": "${{ github.ref_name }}"}
    assert 'python3 scripts/release.py check-tag "$TAG"' in check["run"]
    assert 'python3 scripts/release.py notes "$VERSION"' in step("version", "CHANGELOG.md has")["run"]
    assert JOBS["version"]["outputs"]["version"] == "${{ steps.check.outputs.version }}"
    assert all("version" in upstream(job) for job in JOBS if job != "version")
    assert "permissions" not in JOBS["version"]  # the workflow's read-only token


def test_only_the_image_jobs_write_packages_and_only_the_last_writes_contents():
    writes = {
        job: {scope for scope, level in spec.get("permissions", {}).items() if level == "write"}
        for job, spec in JOBS.items()
    }
    assert writes == {"version": set(), "build": {"packages"}, "merge": {"packages"}, "release": {"contents"}}
    assert upstream("release") == {"version", "build", "merge"}


def test_each_image_is_built_per_platform_with_the_version_and_pushed_by_digest_alone():
    build = JOBS["build"]
    matrix = build["strategy"]["matrix"]
    assert matrix["component"] == list(COMPONENTS) and matrix["arch"] == ["amd64", "arm64"]
    # arm64 under QEMU on the standard runner: GitHub's arm64 runners serve public repositories only.
    (qemu,) = [s for s in build["steps"] if s.get("uses", "").startswith("docker/setup-qemu-action")]
    assert build["runs-on"] == "ubuntu-24.04" and qemu["if"] == "matrix.arch != 'amd64'"
    (bake,) = bake_steps(build)
    settings = bake["with"]["set"].split("\n")
    # No tag is pushed here: the image goes up under its digest, named (name-canonical) but untagged.
    assert "push" not in bake["with"] and "load" not in bake["with"]
    assert "${{ matrix.component }}.output=type=image,push-by-digest=true,name-canonical=true,push=true" in settings
    assert "${{ matrix.component }}.tags=${{ env.IMAGE }}" in settings
    assert build["env"]["IMAGE"] == "ghcr.io/${{ github.repository_owner }}/cartridge-${{ matrix.component }}"
    # The version goes in as the build arg the Dockerfiles turn into the OCI version label.
    assert "${{ matrix.component }}.args.VERSION=${{ needs.version.outputs.version }}" in settings
    for dockerfile in ("services/Dockerfile", "services/frontend/Dockerfile"):
        assert 'org.opencontainers.image.version="${VERSION}"' in (REPO_ROOT / dockerfile).read_text()
    # Each pushed digest is scanned before it can be tagged; a critical finding fails the job and the release.
    scan = next(s for s in build["steps"] if s.get("uses", "").startswith("aquasecurity/trivy-action"))
    assert scan["with"]["image-ref"] == "${{ env.IMAGE }}@${{ steps.digest.outputs.digest }}"
    assert scan["with"]["exit-code"] == "1" and scan["with"]["severity"] == "CRITICAL"
    assert build["strategy"]["fail-fast"] is True


def test_checkouts_keep_no_credentials_and_run_steps_take_expressions_through_env_only():
    for job in JOBS.values():
        for found in job["steps"]:
            if found.get("uses", "").startswith("actions/checkout"):
                assert found["with"]["persist-credentials"] is False
            # An expression inside a script is pasted into it before bash runs: a tag name could inject code.
            assert "${{" not in found.get("run", ""), found["run"]


# --- the shell steps, run here --------------------------------------------------------------------------------


def test_the_build_records_the_digest_bake_reports(tmp_path):
    record = step("build", "The pushed digest")
    output = tmp_path / "output"
    metadata = {"web": {"containerimage.digest": f"sha256:{DIGESTS[0]}", "image.name": "ghcr.io/o/cartridge-web"}}
    env = {"METADATA": json.dumps(metadata), "COMPONENT": "web", "RUNNER_TEMP": str(tmp_path)}
    run = run_step(record, {**env, "GITHUB_OUTPUT": str(output)}, tmp_path)
    assert run.returncode == 0, run.stderr
    assert output.read_text() == f"digest=sha256:{DIGESTS[0]}\n"
    assert [p.name for p in (tmp_path / "digests").iterdir()] == [DIGESTS[0]]
    # Metadata without a digest (nothing was pushed) fails the job rather than record nothing.
    run = run_step(record, {**env, "METADATA": json.dumps({"web": {}}), "GITHUB_OUTPUT": str(output)}, tmp_path)
    assert run.returncode != 0


@pytest.mark.parametrize(
    ("version", "tags"),
    [("0.1.0", ["0.1.0", "0.1"]), ("1.0.0rc1", ["1.0.0rc1"])],  # a pre-release moves no major.minor tag
)
def test_the_merge_tags_one_index_of_both_digests(tmp_path, version, tags):
    digests = tmp_path / "digests"
    digests.mkdir()
    for digest in DIGESTS:
        (digests / digest).touch()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = recorder(bin_dir, "docker")
    image = "ghcr.io/o/cartridge-web"
    create = step("merge", "One multi-platform image")
    assert create["working-directory"] == "${{ runner.temp }}/digests"
    run = run_step(create, {"IMAGE": image, "VERSION": version}, digests, bin_dir)
    assert run.returncode == 0, run.stderr
    expected = [f"--tag {image}:{tag}" for tag in tags] + [f"{image}@sha256:{d}" for d in DIGESTS]
    assert calls.read_text() == f"buildx imagetools create {' '.join(expected)}\n"
    # One platform's digest missing: no image is tagged.
    (digests / DIGESTS[1]).unlink()
    calls.unlink()
    run = run_step(create, {"IMAGE": image, "VERSION": version}, digests, bin_dir)
    assert run.returncode != 0 and not calls.exists()


def image_json(label: str) -> str:
    """`imagetools inspect --format '{{json .Image}}'` of a two-platform index: each platform's image config."""
    config = {"config": {"Labels": {"org.opencontainers.image.version": label}}}
    return json.dumps({"linux/amd64": config, "linux/arm64": config})


def test_the_merge_checks_the_version_label_and_records_the_index_digest(tmp_path):
    verify = step("merge", "The image says its version")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    index = "sha256:" + "c" * 64
    recorder(bin_dir, "docker", {".Image": image_json("0.1.0"), ".Manifest": json.dumps({"digest": index})})
    env = {"IMAGE": "ghcr.io/o/cartridge-web", "VERSION": "0.1.0", "RUNNER_TEMP": str(tmp_path)}
    run = run_step(verify, env, tmp_path, bin_dir)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "refs" / "cartridge-web").read_text() == f"ghcr.io/o/cartridge-web@{index}\n"
    # An image that says another version (a build arg lost on the way) stops the release.
    (tmp_path / "refs" / "cartridge-web").unlink()
    recorder(bin_dir, "docker", {".Image": image_json("dev"), ".Manifest": json.dumps({"digest": index})})
    assert run_step(verify, env, tmp_path, bin_dir).returncode != 0
    assert not (tmp_path / "refs" / "cartridge-web").exists()


@pytest.mark.parametrize(("version", "prerelease"), [("0.1.0", False), ("1.0.0rc1", True)])
def test_the_release_has_the_changelogs_section_and_every_image_by_digest(tmp_path, version, prerelease):
    refs = tmp_path / "refs"
    refs.mkdir()
    for component in COMPONENTS:
        (refs / f"cartridge-{component}").write_text(f"ghcr.io/o/cartridge-{component}@sha256:{'d' * 64}\n")
    (tmp_path / "CHANGELOG.md").write_text(
        f"# Changelog\n\n## [Unreleased]\n\n## [{version}] - 2026-12-06\n\n### Added\n- Everything.\n"
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # A copy of the script finds its repository from its own path: here, the test's changelog.
    (tmp_path / "scripts").mkdir()
    shutil.copy(REPO_ROOT / "scripts" / "release.py", tmp_path / "scripts")
    notes_step = step("release", "The release notes")
    assert notes_step["env"] == {"VERSION": "${{ needs.version.outputs.version }}"}
    run = run_step(notes_step, {"VERSION": version, "RUNNER_TEMP": str(tmp_path)}, tmp_path)
    assert run.returncode == 0, run.stderr
    notes = (tmp_path / "notes.md").read_text()
    assert notes.startswith("### Added\n- Everything.\n\n### Images\n\n")
    assert [line for line in notes.splitlines() if line.startswith("- `ghcr.io")] == [
        f"- `ghcr.io/o/cartridge-{c}@sha256:{'d' * 64}`" for c in sorted(COMPONENTS)
    ]
    calls = recorder(bin_dir, "gh")
    publish = step("release", "Publish the release")
    env = {"VERSION": version, "RUNNER_TEMP": str(tmp_path), "TAG": f"v{version}", "GITHUB_REPOSITORY": "o/cartridge"}
    assert run_step(publish, env, tmp_path, bin_dir).returncode == 0
    expected = (
        f"release create v{version} --repo o/cartridge --verify-tag --title v{version} --notes-file {tmp_path}/notes.md"
    )
    assert calls.read_text() == expected + (" --prerelease" if prerelease else "") + "\n"
