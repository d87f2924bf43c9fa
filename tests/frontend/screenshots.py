"""The screenshots the browser test takes for the README, so they show the pages as they are.

tests/frontend/test_browser.py takes them on every run, into artifacts/ (a test run leaves the checkout as it was);
`make screenshots` runs it with UPDATE_SCREENSHOTS=1, which writes them over docs/images/ to be committed.
tests/test_readme.py checks the README shows each.
"""

from __future__ import annotations

import os
from pathlib import Path

from devtools.paths import REPO_ROOT

DOCS_IMAGES = REPO_ROOT / "docs" / "images"


def screenshot_dir() -> Path:
    """Where this run writes the README's screenshots: docs/images/ only when asked to update them."""
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        return DOCS_IMAGES
    return REPO_ROOT / "artifacts" / "readme-screenshots"


# name: what it shows
README_SCREENSHOTS = {
    "play.png": "the Play tab: a game against the served model, its search shading the board",
    "dashboard.png": "the Training tab at 1280 px: loss, throughput, iteration time, rating, optimal moves, scores",
}
