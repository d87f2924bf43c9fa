"""The real promtool and prometheus (Debian's prometheus package), for the alert rules', the metrics' and the local
Prometheus' tests."""

from __future__ import annotations

import os
import shutil

import pytest

INSTALL = "apt-get install prometheus (make system-deps)"


def prometheus_tool(name: str) -> str:
    """The path of ``name`` (promtool or prometheus). Missing is a failure in CI and wherever apt-get could install
    it (make system-deps does); a skip, with one line, only on a machine without apt-get, where that script cannot
    bring it."""
    if path := shutil.which(name):
        return path
    if os.environ.get("CI") or shutil.which("apt-get"):
        pytest.fail(f"{name} not found: {INSTALL}")
    pytest.skip(f"{name} not found and no apt-get here to install it: {INSTALL}")


def promtool() -> str:
    return prometheus_tool("promtool")
