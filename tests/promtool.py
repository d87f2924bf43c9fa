"""The real promtool (Debian's prometheus package), for the alert rules' and the metrics' tests."""

from __future__ import annotations

import os
import shutil

import pytest

INSTALL = "apt-get install prometheus (make system-deps)"


def promtool() -> str:
    """promtool's path. Missing is a failure in CI and wherever apt-get could install it (make system-deps does);
    a skip, with one line, only on a machine without apt-get, where that script cannot bring it."""
    if path := shutil.which("promtool"):
        return path
    if os.environ.get("CI") or shutil.which("apt-get"):
        pytest.fail(f"promtool not found: {INSTALL}")
    pytest.skip(f"promtool not found and no apt-get here to install it: {INSTALL}")
