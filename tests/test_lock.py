"""The Python locks (scripts/lock.sh writes them): every install of the project, the tests' and the images',
takes exact versions with hashes, the locks agree with pyproject.toml and with each other, and the
environment the tests run in is the one the lock describes."""

from __future__ import annotations

import platform
import re
import subprocess
import tomllib
from importlib import metadata

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from devtools.paths import REPO_ROOT
from tests.locks import IMAGE_LOCKS, LINT, LOCK, PYTHONS, TORCH, linux, pins, resolved


def pyproject_requirements() -> list[Requirement]:
    """pyproject's dependencies and every extra's, the project's own extras (dev) aside."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    listed = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    return [Requirement(r) for r in listed if canonicalize_name(Requirement(r).name) != "cartridge"]


@pytest.mark.parametrize("path", [LOCK, TORCH, LINT, *IMAGE_LOCKS], ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_entry_is_one_exact_version_with_its_hashes(path):
    entries = pins(path)
    assert entries, f"{path} lists nothing"
    for pin in entries:
        (specifier,) = pin.requirement.specifier
        assert specifier.operator == "==" and "*" not in specifier.version, f"{path.name}: {pin.requirement} is a range"
        assert pin.hashes, f"{path.name}: {pin.requirement} has no hash, and pip --require-hashes refuses it"


@pytest.mark.parametrize("python", PYTHONS)
def test_the_lock_satisfies_every_requirement_of_pyproject_on_each_supported_python(python):
    environment = linux(python)
    locked = resolved(LOCK, environment) | resolved(TORCH, environment)
    for requirement in pyproject_requirements():
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            continue
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{requirement} (pyproject.toml) is not in the lock for Python {python}: `make lock`"
        assert requirement.specifier.contains(locked[name], prereleases=True), (
            f"the lock has {name}=={locked[name]} for Python {python}, outside pyproject's {requirement}: `make lock`"
        )


def test_pyproject_admits_the_pythons_the_lock_is_written_for():
    requires = SpecifierSet(tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["requires-python"])
    admitted = [python for python in ("3.10", *PYTHONS, "3.14") if Version(python) in requires]
    assert admitted == list(PYTHONS), f"requires-python {requires} admits {admitted}; the lock is for {PYTHONS}"


@pytest.mark.parametrize("path", [*IMAGE_LOCKS, LINT], ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_the_images_and_the_linters_install_the_versions_the_tests_run(path):
    """The images' base is CPython 3.11 (the lint job's too): each of these locks pins what lock.txt has there."""
    environment = linux("3.11")
    tests = resolved(LOCK, environment)
    image = resolved(path, environment)
    differ = {
        name: (str(version), str(tests.get(name))) for name, version in image.items() if tests.get(name) != version
    }
    assert not differ, (
        f"{path.relative_to(REPO_ROOT)} pins differently from requirements/lock.txt (image, tests): {differ}"
    )


def test_torch_requirements_are_locked_and_torch_is_pinned_once():
    """torch.txt pins the version pyproject's trainer extra names, and the CPU wheel's own requirements,
    which torch.txt installs without (--no-deps), are in the lock at versions they accept."""
    (extra,) = [r for r in pyproject_requirements() if canonicalize_name(r.name) == "torch"]
    for pin in pins(TORCH):
        assert extra.specifier.contains(pin.version), f"torch.txt's {pin.requirement} is outside pyproject's {extra}"
    environment = linux(f"{platform.python_version_tuple()[0]}.{platform.python_version_tuple()[1]}")
    locked = resolved(LOCK, environment) | resolved(TORCH, environment)
    for requirement in map(Requirement, metadata.requires("torch") or []):
        if requirement.marker is not None and not requirement.marker.evaluate({**environment, "extra": ""}):
            continue
        name = canonicalize_name(requirement.name)
        assert name in locked and requirement.specifier.contains(locked[name], prereleases=True), (
            f"torch needs {requirement}; the lock has {locked.get(name)} (add it to requirements/lock.in)"
        )


def test_this_environment_is_the_lock():
    """What `make venv` installed is exactly what the locks say (a drifted venv fails here: `make venv`)."""
    here = default_environment()
    wanted = {pin.name: pin.version for path in (LOCK, TORCH) for pin in pins(path) if pin.applies(here)}
    installed = {canonicalize_name(d.metadata["Name"]): Version(d.version) for d in metadata.distributions()}
    drifted = {
        name: (str(version), str(installed.get(name)))
        for name, version in wanted.items()
        if installed.get(name) != version
    }
    assert not drifted, f"installed versions differ from the lock (locked, installed): {drifted}"


def test_the_base_images_dependabot_watches_are_the_dockerfiles_defaults():
    """.github/base-images/Dockerfile is the list Dependabot bumps (it reads no ARG in FROM): a bump there must
    reach the ARG defaults the images really build from, and every default must be watched."""
    watched = re.findall(r"^FROM (\S+)$", (REPO_ROOT / ".github/base-images/Dockerfile").read_text(), re.MULTILINE)
    defaults = [
        image
        for dockerfile in ("services/Dockerfile", "services/frontend/Dockerfile")
        for image in re.findall(r"^ARG \w+_IMAGE=(\S+)$", (REPO_ROOT / dockerfile).read_text(), re.MULTILINE)
    ]
    assert defaults and sorted(watched) == sorted(defaults), f"watched {watched}, the Dockerfiles build {defaults}"


def test_npm_installs_the_frontend_from_its_lock_everywhere():
    """package-lock.json decides what the frontend gets: every installer runs `npm ci`, none `npm install`."""
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
    installers = [
        path
        for path in tracked.splitlines()
        if path.endswith((".yml", ".sh", ".py", "Dockerfile", "Makefile", "Tiltfile"))
        and (REPO_ROOT / path).is_file()
        and path != "tests/test_lock.py"  # this file names what it looks for
    ]
    texts = {path: (REPO_ROOT / path).read_text(errors="replace") for path in installers}
    loose = [path for path, text in texts.items() if re.search(r"\bnpm (install|i|add)\b", text)]
    assert not loose, f"npm install outside the lock in {loose}: use npm ci"
    assert {"services/frontend/Dockerfile", "devtools/frontend_deps.py"} <= {
        p for p, t in texts.items() if "npm ci" in t
    }


def test_the_installed_package_carries_no_test_helper():
    """testkit/ (testcontainers, moto, kill -9 helpers, private SQL reads) sits beside tests/, e2e/ and bench/:
    the packages setuptools installs from pyproject's configuration hold none of them."""
    from setuptools import find_packages

    found = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    packages = [
        p for where in found["where"] for p in find_packages(where=str(REPO_ROOT / where), include=found["include"])
    ]
    assert "devtools" in packages and "cartridge" in packages
    helpers = [p for p in packages if p.split(".")[0] in ("testkit", "tests", "e2e", "bench") or "testkit" in p]
    assert not helpers, f"installed with the package: {helpers}"
