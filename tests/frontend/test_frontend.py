"""The frontend's own Vitest suite (API client, game logic, chart scaling, Board component)."""

from __future__ import annotations

import os
import re
import subprocess


def test_vitest_suite_passes(frontend_dir):
    result = subprocess.run(
        ["npx", "vitest", "run", "--reporter=dot"],
        cwd=frontend_dir,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_COLOR": "1"},
    )
    output = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)  # CI=true turns colours on anyway
    assert result.returncode == 0, output[-4000:]
    ran = re.search(r"Tests\s+(\d+) passed", output)
    assert ran and int(ran.group(1)) >= 10, output[-2000:]


def test_production_build_is_small(frontend_dir):
    result = subprocess.run(
        ["npx", "vite", "build", "--outDir", "/tmp/cartridge-frontend-dist", "--emptyOutDir"],
        cwd=frontend_dir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    from pathlib import Path

    dist = Path("/tmp/cartridge-frontend-dist")
    assert (dist / "index.html").exists()
    total = sum(p.stat().st_size for p in dist.rglob("*") if p.is_file())
    assert total < 300_000, f"the built app is {total} bytes"
