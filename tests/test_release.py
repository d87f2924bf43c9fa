"""scripts/release.py, as release.yml runs it: the tag check and the release notes from CHANGELOG.md.

Run with ``python -I -S``: no site-packages, as on a runner where nothing is installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from devtools.kind.bake import COMPONENTS
from devtools.paths import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "release.py"
VERSION = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]


def release(*args: str, root: Path = REPO_ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-I", "-S", str(SCRIPT), "--root", str(root), *args], capture_output=True, text=True
    )


def refused(run: subprocess.CompletedProcess, *words: str) -> None:
    """Exit 1, nothing on stdout, and on stderr one sentence naming ``words`` and a hint."""
    assert run.returncode == 1 and run.stdout == "", run
    error, hint = run.stderr.splitlines()
    assert error.startswith("error: ") and error.endswith(".") and hint.startswith("hint: "), run.stderr
    for word in words:
        assert word in error, run.stderr


@pytest.fixture
def tree(tmp_path) -> Path:
    """A repository at version 1.2.3: pyproject, the real bake file, k8s/prod's kustomization at 1.2.3."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "cartridge"\nversion = "1.2.3"\n')
    shutil.copy(REPO_ROOT / "docker-bake.json", tmp_path)
    (tmp_path / "k8s" / "prod").mkdir(parents=True)
    prod = (REPO_ROOT / "k8s/prod/kustomization.yaml").read_text()
    (tmp_path / "k8s/prod/kustomization.yaml").write_text(prod.replace(f"newTag: {VERSION}", "newTag: 1.2.3"))
    return tmp_path


def test_this_tree_releases_its_own_version():
    """What release.yml checks first on a tag: here, for the version pyproject says now."""
    run = release("check-tag", f"v{VERSION}")
    assert run.returncode == 0 and run.stdout == f"{VERSION}\n", run.stderr
    assert release("check-tag", f"refs/tags/v{VERSION}").stdout == f"{VERSION}\n"


def test_a_tag_that_is_not_pyprojects_version_is_refused(tree):
    assert release("check-tag", "v1.2.3", root=tree).stdout == "1.2.3\n"
    refused(release("check-tag", "v1.2.4", root=tree), "v1.2.4", "1.2.4", "1.2.3")


@pytest.mark.parametrize("tag", ["1.2.3", "v1.2", "vnext", "v1.2.3-", "release-1.2.3"])
def test_a_tag_that_names_no_version_is_refused(tree, tag):
    refused(release("check-tag", tag, root=tree), repr(tag))


def test_k8s_prod_must_deploy_the_released_images(tree):
    kustomization = tree / "k8s/prod/kustomization.yaml"
    text = kustomization.read_text()
    kustomization.write_text(text.replace("cartridge-web\n    newTag: 1.2.3", "cartridge-web\n    newTag: 1.2.2"))
    refused(release("check-tag", "v1.2.3", root=tree), "cartridge-web:1.2.2")
    # An image the release publishes but k8s/prod does not pin is refused too.
    entry = re.search(r"  - name: cartridge-arena\n.*\n.*\n", text).group(0)
    kustomization.write_text(text.replace(entry, ""))
    refused(release("check-tag", "v1.2.3", root=tree), "cartridge-arena:(none)")


def test_the_tree_check_reads_every_released_image_from_k8s_prod():
    """The script's parsing of the real kustomization: each image of the bake file's default group."""
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import release as script
    finally:
        sys.path.remove(str(SCRIPT.parent))
    tags = script.prod_image_tags(REPO_ROOT)
    assert script.released_images(REPO_ROOT) == [f"cartridge-{c}" for c in COMPONENTS]
    assert {name: tags[name] for name in script.released_images(REPO_ROOT)} == dict.fromkeys(
        script.released_images(REPO_ROOT), VERSION
    )


CHANGELOG = """# Changelog

## [Unreleased]

### Added
- Something new.

## [1.2.30] - 2026-12-01

Not this one.

## [1.2.3] - 2026-11-01

### Fixed
- The [1.2.30] mix-up.

## [1.2.0] - 2026-10-01

### Added
- The first.

[Unreleased]: https://example.org/compare/v1.2.3...HEAD
[1.2.3]: https://example.org/releases/tag/v1.2.3
"""


@pytest.mark.parametrize(
    ("version", "notes"),
    [
        ("1.2.3", "### Fixed\n- The [1.2.30] mix-up.\n"),
        ("1.2.30", "Not this one.\n"),
        ("1.2.0", "### Added\n- The first.\n"),  # the last section ends at the link definitions
        ("Unreleased", "### Added\n- Something new.\n"),
    ],
)
def test_the_notes_are_the_versions_section_alone(tmp_path, version, notes):
    (tmp_path / "CHANGELOG.md").write_text(CHANGELOG)
    run = release("notes", version, root=tmp_path)
    assert run.returncode == 0 and run.stdout == notes, run.stderr


def test_a_version_without_a_section_or_with_an_empty_one_has_no_notes(tmp_path):
    (tmp_path / "CHANGELOG.md").write_text(CHANGELOG)
    refused(release("notes", "1.2", root=tmp_path), "no section for 1.2")
    (tmp_path / "CHANGELOG.md").write_text(CHANGELOG.replace("Not this one.\n", ""))
    refused(release("notes", "1.2.30", root=tmp_path), "1.2.30", "empty")


def test_the_changelog_keeps_the_format_and_has_notes_for_this_version():
    """Keep a Changelog: Unreleased first, then each version dated, newest first, each with its link."""
    text = (REPO_ROOT / "CHANGELOG.md").read_text()
    headings = re.findall(r"^## \[([^\]]+)\](.*)$", text, re.MULTILINE)
    assert headings[0] == ("Unreleased", "")
    versions = [name for name, _ in headings[1:]]
    assert all(re.fullmatch(r" - \d{4}-\d{2}-\d{2}", date) for _, date in headings[1:]), headings
    assert versions == sorted(versions, key=lambda v: tuple(map(int, v.split("."))), reverse=True)
    links = dict(re.findall(r"^\[([^\]]+)\]: (\S+)$", text, re.MULTILINE))
    assert set(links) == {"Unreleased", *versions}
    assert VERSION in versions, (
        f"CHANGELOG.md has no section for pyproject's version {VERSION}: the release has no notes"
    )
    run = release("notes", VERSION)
    assert run.returncode == 0 and len(run.stdout.splitlines()) >= 3, run.stderr
