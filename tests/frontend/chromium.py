"""Drives the frontend in real headless Chromium: services/frontend/e2e-browser/play.mjs (a game) and dashboard.mjs
(the Training tab), run by node.

The browser test (the Vite dev server) and the image test (the built SPA behind nginx and its CSP) both play
with it; each script prints one JSON line of what it saw, which this returns.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def play(frontend_dir: Path, frontend_url: str, artifacts: Path, **env: str) -> dict:
    """Run play.mjs against ``frontend_url``, screenshots into ``artifacts``; ``env`` adds the script's options
    (DOCS_IMAGES_DIR: where the README's screenshots go)."""
    return run_script("play.mjs", frontend_dir, frontend_url, artifacts, **env)


def read_dashboard(frontend_dir: Path, frontend_url: str, artifacts: Path, **env: str) -> dict:
    """Run dashboard.mjs: the Training tab at 360 and 1280 px and in the dark scheme, what each showed."""
    return run_script("dashboard.mjs", frontend_dir, frontend_url, artifacts, **env)


def run_script(script: str, frontend_dir: Path, frontend_url: str, artifacts: Path, **env: str) -> dict:
    run = subprocess.run(
        ["node", f"e2e-browser/{script}"],
        cwd=frontend_dir,
        capture_output=True,
        text=True,
        timeout=180,
        env={
            **os.environ,
            "FRONTEND_URL": frontend_url,
            "ARTIFACTS_DIR": str(artifacts),
            "CHROMIUM_PATH": CHROMIUM,
            **env,
        },
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])
