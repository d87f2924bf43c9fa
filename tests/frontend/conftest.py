from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

FRONTEND = Path(__file__).resolve().parents[2] / "services" / "frontend"


@pytest.fixture(scope="session")
def frontend_dir() -> Path:
    """services/frontend with its npm dependencies installed (npm ci from the lock file)."""
    if shutil.which("npm") is None:
        pytest.fail("npm not found: install Node.js 20 and npm (make system-deps)")
    if not (FRONTEND / "node_modules" / ".package-lock.json").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=FRONTEND, check=True, capture_output=True)
    return FRONTEND
