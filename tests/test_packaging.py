"""The package's metadata as the build backend writes it: license, URLs, classifiers, readme.

The metadata is built by the real backend (setuptools, the version the lock installs) from a copy of
pyproject.toml, README.md and LICENSE, so the check reads what a wheel would carry, not the TOML.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tomllib
from email.message import Message
from email.parser import Parser

from packaging.requirements import Requirement

from devtools.paths import REPO_ROOT
from tests.locks import PYTHONS

# MD5 of the Apache License 2.0 as apache.org publishes it (https://www.apache.org/licenses/LICENSE-2.0.txt),
# the same file kind, Tilt, onnx and yarl ship.
APACHE_2_0_MD5 = "3b83ef96387f14655fc854ddc3c6bd57"


def build_metadata(tmp_path) -> tuple[Message, list[str]]:
    """METADATA of the wheel the backend would build, and the files in its dist-info's licenses/."""
    project = tmp_path / "project"
    project.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO_ROOT / name, project / name)
    out = tmp_path / "out"
    out.mkdir()
    build = (
        "import sys\nfrom setuptools.build_meta import prepare_metadata_for_build_wheel\n"
        "print(prepare_metadata_for_build_wheel(sys.argv[1]))"
    )
    run = subprocess.run([sys.executable, "-c", build, str(out)], cwd=project, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    dist_info = out / run.stdout.strip().splitlines()[-1]
    licenses = sorted(p.name for p in (dist_info / "licenses").iterdir())
    assert (dist_info / "licenses" / "LICENSE").read_bytes() == (REPO_ROOT / "LICENSE").read_bytes()
    return Parser().parsestr((dist_info / "METADATA").read_text()), licenses


def test_the_license_is_the_apache_2_0_text():
    assert hashlib.md5((REPO_ROOT / "LICENSE").read_bytes()).hexdigest() == APACHE_2_0_MD5


def test_the_built_metadata_says_apache_2_0_and_where_the_project_lives(tmp_path):
    metadata, licenses = build_metadata(tmp_path)
    assert metadata["License-Expression"] == "Apache-2.0" and metadata.get_all("License-File") == ["LICENSE"]
    assert licenses == ["LICENSE"]
    urls = dict(url.split(", ", 1) for url in metadata.get_all("Project-URL"))
    assert set(urls) == {"Homepage", "Documentation", "Source", "Issues", "Changelog"}
    assert all(url.startswith("https://github.com/cartridge-dev/cartridge") for url in urls.values())
    # The README is the long description, as Markdown (PyPI renders it).
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert metadata.get_payload().startswith("# Cartridge")


def test_the_classifiers_name_each_supported_python_and_no_license(tmp_path):
    metadata, _ = build_metadata(tmp_path)
    classifiers = metadata.get_all("Classifier")
    versions = [c.rsplit(" :: ", 1)[1] for c in classifiers if c.startswith("Programming Language :: Python :: 3.")]
    assert versions == list(PYTHONS)
    # An SPDX expression replaces the License :: classifiers; setuptools >= 77 refuses both at once.
    assert not [c for c in classifiers if c.startswith("License ::")]


def test_the_build_backend_reads_an_spdx_license():
    """`license = "Apache-2.0"` (PEP 639) needs setuptools 77.0 or later; an older backend fails the build."""
    (requirement,) = [
        Requirement(r) for r in tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    ]
    assert requirement.name == "setuptools"
    assert not requirement.specifier.contains("76.9") and requirement.specifier.contains("77.0.3")
