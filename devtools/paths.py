"""Where the repository is: the one place that computes it. devtools, tests, e2e, bench and testkit import it.

devtools is installed editable (`pip install -e .`), so this file stays in the checkout it was installed from.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
