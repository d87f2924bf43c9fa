"""Plays the frontend in real headless Chromium: services/frontend/e2e-browser/play.mjs, run by node.

The browser test (the Vite dev server) and the image test (the built SPA behind nginx and its CSP) both play
with it; the script prints one JSON line of what it saw, which this returns.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def play(frontend_dir: Path, frontend_url: str, artifacts: Path, **env: str) -> dict:
    """Run play.mjs against ``frontend_url``, screenshots into ``artifacts``; ``env`` adds the script's options
    (PLAY_ONLY=1: the game alone; DOCS_IMAGES_DIR: where the README's screenshots go)."""
    run = subprocess.run(
        ["node", "e2e-browser/play.mjs"],
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
