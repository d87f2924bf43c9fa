"""docs/architecture.md, the README, CONTRIBUTING.md and docs/benchmarks.md against the tree, so they cannot drift.

- every path they write in backticks exists (the architecture page's Layout, Owners and Data flow; the other
  pages whole);
- every package (a tracked __init__.py) and every tracked top-level directory has its line in the layout;
- every name in the owners table is defined in a module its row names (a rename that forgets the page fails).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from devtools.paths import REPO_ROOT

DOC = REPO_ROOT / "docs" / "architecture.md"
README = REPO_ROOT / "README.md"
CONTRIBUTING = REPO_ROOT / "CONTRIBUTING.md"
BENCHMARKS = REPO_ROOT / "docs" / "benchmarks.md"
# Directories the stack and the tests make at run time (gitignored): a page may name them before they exist.
MADE_AT_RUN_TIME = (".cartridge/", "artifacts/", ".wheels/")
FILE_SUFFIXES = {".py", ".json", ".yaml", ".yml", ".toml", ".txt", ".sh", ".md"}
FILE_NAMES = {"Tiltfile", "Makefile", "Dockerfile"}
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def section(text: str, title: str) -> str:
    """The text under ``## title``, up to the next second-level heading."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    assert match, f"no '## {title}' section"
    return match.group(1)


def code_spans(text: str) -> list[str]:
    return re.findall(r"`([^`\n]+)`", text)


def is_path(token: str) -> bool:
    """A repository path as these pages write one: `dir/`, `dir/file.py`, `Tiltfile`, `docker-bake.json`.
    URL paths (`/stats`), commands (`make up`), options (`--target`), images and addresses (`registry:3`,
    `127.0.0.1:5001`), patterns (`services/{a,b}/x.txt`, `$XDG_STATE_HOME/...`) and paths outside the
    repository (`../shared/...`) are not."""
    if " " in token or token.startswith(("/", "-", ".venv", "../")) or "://" in token:
        return False
    if any(char in token for char in "<{$:"):
        return False
    return "/" in token or Path(token).suffix in FILE_SUFFIXES or token in FILE_NAMES


def doc_paths(text: str) -> list[str]:
    return [token for token in code_spans(text) if is_path(token) and not token.startswith(MADE_AT_RUN_TIME)]


def tracked() -> list[str]:
    try:
        out = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the tracked files are unknown")
    return out.splitlines()


def layout_lines() -> dict[str, str]:
    """The layout's entries: the path each `- ` line starts with, and the line."""
    lines = {}
    for line in section(DOC.read_text(), "Layout").splitlines():
        if match := re.match(r"- `([^`]+)`", line):
            lines[match.group(1)] = line
    return lines


def owner_rows() -> list[tuple[str, list[str], list[str]]]:
    """(concept, owner paths, names) for each row of the owners table."""
    rows = []
    for line in section(DOC.read_text(), "Owners").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in ("concept", "") or set(cells[0]) <= set("-"):
            continue
        concept, owners, holds = cells
        names = [t for t in code_spans(holds) if not is_path(t) and IDENTIFIER.fullmatch(t)]
        rows.append((concept, code_spans(owners), names))
    return rows


def defines(source: str, name: str) -> bool:
    """A def, a class, or an assignment (module constant, class attribute, dataclass field) of ``name``."""
    pattern = rf"^\s*(?:async\s+def|def|class)\s+{name}\b|^\s*{name}\s*(?::[^=\n]+)?="
    return re.search(pattern, source, re.MULTILINE) is not None


def python_sources(owner: str) -> list[Path]:
    path = REPO_ROOT / owner
    if path.is_dir():
        return sorted(path.rglob("*.py"))
    return [path] if path.suffix == ".py" else []


@pytest.mark.parametrize(
    ("page", "titles"),
    [(DOC, ("Layout", "Owners", "Data flow")), (README, None), (CONTRIBUTING, None), (BENCHMARKS, None)],
    ids=["docs/architecture.md", "README.md", "CONTRIBUTING.md", "docs/benchmarks.md"],
)
def test_every_path_the_pages_name_exists(page, titles):
    """``titles``: the sections to read (None: the whole page)."""
    text = page.read_text()
    named = [p for part in ([text] if titles is None else [section(text, t) for t in titles]) for p in doc_paths(part)]
    assert named, f"{page.name}: no paths found; has the page's format changed?"
    missing = sorted({p for p in named if not (REPO_ROOT / p).exists()})
    assert missing == [], f"{page.relative_to(REPO_ROOT)} names paths that do not exist: {missing}"


def test_the_layout_has_a_line_for_every_package_and_top_level_directory():
    files = tracked()
    listed = {entry.rstrip("/") for entry in layout_lines()}
    packages = {str(Path(f).parent) for f in files if Path(f).name == "__init__.py" and not f.startswith("tests/")}
    assert sorted(packages - listed) == [], "packages without a line in docs/architecture.md's layout"
    top_level = {f.split("/")[0] for f in files if "/" in f}
    covered = {entry.split("/")[0] for entry in listed}
    assert sorted(top_level - covered) == [], "top-level directories without a line in docs/architecture.md's layout"


def test_every_name_in_the_owners_table_is_defined_where_its_row_says():
    rows = owner_rows()
    assert len(rows) >= 20, "the owners table was not found or lost rows"
    wrong = []
    for concept, owners, names in rows:
        assert owners, f"owners row {concept!r} names no module"
        sources = "\n".join(p.read_text() for owner in owners for p in python_sources(owner))
        wrong += [f"{concept}: {name}" for name in names if not all(defines(sources, part) for part in name.split("."))]
    assert wrong == [], f"names in docs/architecture.md's owners table not defined in their row's modules: {wrong}"


def test_the_checks_see_what_they_should():
    """The parsers themselves: paths, not routes or commands; names, not paths."""
    assert doc_paths("`devtools/kind/` `Tiltfile` `/stats` `make up` `--target local|kind` `Settings`") == [
        "devtools/kind/",
        "Tiltfile",
    ]
    others = "`registry:3` `127.0.0.1:5001` `services/{a,b}/x.txt` `$XDG_STATE_HOME/x.json` `../shared/tools/x`"
    assert doc_paths(others + " `.cartridge/local/` `artifacts/e2e/` `docs/images/play.png`") == [
        "docs/images/play.png"
    ]
    assert defines("class Actor:\n", "Actor") and defines("    env_id: str = x\n", "env_id")
    assert not defines("from x import Actor\n", "Actor")
