"""The formatter is accepted: ruff formats the code, `make test` holds the lint, and the few exceptions give reasons."""

from __future__ import annotations

import re
import subprocess

from devtools.paths import REPO_ROOT

MAX_MARKERS = 10
# A marker switches ruff's formatter off: for one statement (skip) or for a block (off ... on).
MARKER = re.compile(r"#\s*fmt:\s*(skip|off|on)\b")


def tracked_python_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "*.py"], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    return [name for name in listed.stdout.split() if (REPO_ROOT / name).exists()]


def markers(files: list[str]) -> list[tuple[str, int, str]]:
    found = []
    for name in files:
        for number, line in enumerate((REPO_ROOT / name).read_text().splitlines(), start=1):
            if MARKER.search(line):
                found.append((name, number, line))
    return found


def unexplained(found: list[tuple[str, int, str]]) -> list[str]:
    """A marker's reason is more comment on its line, after the marker (the marker, two spaces, `# why`)."""
    problems = []
    for name, number, line in found:
        after = line[MARKER.search(line).end() :].strip(" -:;,()")
        if len(after.split()) < 3:
            problems.append(f"{name}:{number}: `fmt:` marker without a reason after it")
    return problems


def make_prerequisites(target: str) -> list[str]:
    text = (REPO_ROOT / "Makefile").read_text()
    match = re.search(rf"^{re.escape(target)}:([^\n=]*)$", text, re.MULTILINE)
    assert match, f"the Makefile has no `{target}` target"
    return match.group(1).split()


def make_recipe(target: str) -> str:
    text = (REPO_ROOT / "Makefile").read_text()
    match = re.search(rf"^{re.escape(target)}:[^\n]*\n((?:\t[^\n]*\n)+)", text, re.MULTILINE)
    assert match, f"the Makefile's `{target}` target has no recipe"
    return match.group(1)


def test_at_most_ten_formatter_markers_each_with_its_reason():
    found = markers(tracked_python_files())
    assert len(found) <= MAX_MARKERS, f"{len(found)} `fmt:` markers (at most {MAX_MARKERS}): let ruff format the code"
    assert unexplained(found) == []


def test_a_marker_without_a_reason_is_refused():
    marker = "# fmt" + ": skip"  # spelled in two, so this file holds no marker of its own
    assert unexplained([("a.py", 3, f"x = 1  {marker}")]) == ["a.py:3: `fmt:` marker without a reason after it"]
    assert unexplained([("a.py", 3, f"x = 1  {marker}  # aligned: rows are the table's columns")]) == []


def test_make_test_runs_the_linter_and_the_formatter_check_first():
    assert "lint" in make_prerequisites("test")
    recipe = make_recipe("lint")
    assert "ruff check ." in recipe
    assert "ruff format --check ." in recipe
