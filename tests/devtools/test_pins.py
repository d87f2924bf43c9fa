"""devtools/pins.json: the one place for every pinned version and digest, and what reads it."""

from __future__ import annotations

import json
import re
import subprocess

from devtools import pins, tool_versions
from devtools.kind.registry import RegistrySpec
from devtools.paths import REPO_ROOT

IMAGES = ("KIND_NODE_IMAGE", "REGISTRY_IMAGE", "CLOUD_PROVIDER_KIND_IMAGE", "METRICS_SERVER_IMAGE")


def test_every_pinned_image_names_its_digest_and_every_pin_its_source():
    for name in IMAGES:
        assert re.fullmatch(r"[\w./-]+:[\w.-]+@sha256:[0-9a-f]{64}", pins.PINS[name]), name
    for name in ("KIND_VERSION", "KUBECTL_VERSION", "TILT_VERSION", "METRICS_SERVER_VERSION"):
        assert re.fullmatch(r"\d+\.\d+\.\d+", pins.PINS[name]), name
    sources = json.loads(pins.PINS_FILE.read_text())["sources"]
    assert set(sources) == set(pins.PINS), "say where each pin comes from"


def test_the_versions_agree_with_each_other():
    # kind's release names its node image; kubectl is within one minor version of that Kubernetes.
    node = re.search(r":v(\d+\.\d+)\.\d+@", pins.KIND_NODE_IMAGE).group(1)
    assert pins.KUBECTL_VERSION.startswith(node + ".")
    assert tool_versions.satisfies(pins.KUBECTL_VERSION, tool_versions.TOOLS["kubectl"].wanted)
    assert f":v{pins.METRICS_SERVER_VERSION}@" in pins.METRICS_SERVER_IMAGE
    assert pins.GATEWAY_API_VERSION == "v1.5.0" and (REPO_ROOT / "k8s/schemas/gateway-api-v1.5.0").is_dir()


def test_the_registry_is_kinds_registry_3_by_digest_unless_overridden(monkeypatch):
    monkeypatch.delenv("REGISTRY_IMAGE", raising=False)
    assert RegistrySpec().image == pins.REGISTRY_IMAGE and pins.REGISTRY_IMAGE.startswith("registry:3@sha256:")
    monkeypatch.setenv("REGISTRY_IMAGE", "local/registry:2")
    assert RegistrySpec().image == "local/registry:2"


def test_no_pinned_value_is_written_twice_in_the_repository():
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    for name, value in pins.PINS.items():
        needle = value.split("@sha256:")[-1] if "@sha256:" in value else None
        if needle is None:
            continue  # plain version numbers also appear in prose; digests must not
        holders = [
            p
            for p in tracked
            if p != "devtools/pins.json"
            and (REPO_ROOT / p).is_file()
            and needle in (REPO_ROOT / p).read_text(errors="ignore")
        ]
        assert holders == [], f"{name}'s digest is also written in {holders}"


def test_pytest_kinds_working_directory_is_ignored():
    result = subprocess.run(
        ["git", "check-ignore", ".pytest-kind/cartridge/kubeconfig"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, ".pytest-kind/ is not in .gitignore"
