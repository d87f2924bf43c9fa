"""The frontend's npm dependencies: `npm ci` whenever package-lock.json changed since the last install.

A node_modules that merely exists is not enough: after a pull that adds a package (uPlot, say), Vite fails on
the first import of it ("Failed to resolve import"). npm ci writes its own node_modules/.package-lock.json, but
in its own shape, so the install is stamped with the digest of the lock it installed, and a different lock
installs again. Used by the local runtime's `up` and by the tests' frontend fixture.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

STAMP = Path("node_modules") / ".cartridge-package-lock.sha256"
NPM_CI = ("npm", "ci", "--no-audit", "--no-fund")


def lock_digest(frontend: Path) -> str:
    return hashlib.sha256((frontend / "package-lock.json").read_bytes()).hexdigest()


def installed_from_lock(frontend: Path) -> bool:
    """node_modules holds what package-lock.json says: the last `npm ci` here installed this very lock."""
    stamp = frontend / STAMP
    return stamp.is_file() and stamp.read_text().strip() == lock_digest(frontend)


def npm_ci(frontend: Path) -> subprocess.CompletedProcess:
    """`npm ci` (which empties node_modules first), stamped with the lock it installed once it succeeded."""
    digest = lock_digest(frontend)
    result = subprocess.run(NPM_CI, cwd=frontend, capture_output=True, text=True)
    if result.returncode == 0:
        (frontend / STAMP).parent.mkdir(exist_ok=True)  # a lock without dependencies leaves no node_modules
        (frontend / STAMP).write_text(digest + "\n")
    return result
