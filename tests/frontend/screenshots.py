"""The screenshots the browser test takes for the README, so they show the pages as they are.

tests/frontend/test_browser.py writes them on every run; tests/test_readme.py checks the README shows each.
"""

from __future__ import annotations

from devtools.paths import REPO_ROOT

DOCS_IMAGES = REPO_ROOT / "docs" / "images"
# name: what it shows
README_SCREENSHOTS = {
    "play.png": "the Play tab: a game against the served model, its search shading the board",
    "dashboard.png": "the Training tab: loss, episodes, model versions, ratings and the arena's scores",
}
