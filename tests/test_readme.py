"""The README a newcomer reads first, against what it describes: the two set-up commands, the screenshots the
browser test takes, the machine's needs as the code states them, the ports devtools binds, and the Makefile
targets it names. (tests/test_architecture_doc.py checks that every path it names exists.)
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from devtools import ports
from devtools.doctor import MIN_FREE_DISK_GB
from devtools.kind.names import KindNames
from devtools.local.config import LocalConfig
from devtools.local.runtime import LocalRuntime
from devtools.paths import REPO_ROOT
from devtools.pins import PINS
from devtools.runtimes import kind_runtime
from tests.frontend.screenshots import DOCS_IMAGES, README_SCREENSHOTS
from tests.k8s.test_capacity import RUNNER
from tests.locks import PYTHONS
from tests.test_architecture_doc import section

README = (REPO_ROOT / "README.md").read_text()


def table(text: str) -> dict[str, list[str]]:
    """A Markdown table's rows by their first cell (the rows that share one are joined, cell by cell)."""
    rows: dict[str, list[str]] = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")] if line.startswith("|") else []
        if len(cells) < 2 or set(cells[0]) <= set("-"):
            continue
        key = cells[0]
        rows[key] = [" ".join(pair) for pair in zip(rows[key], cells[1:], strict=True)] if key in rows else cells[1:]
    return rows


def test_the_quick_start_comes_first_with_the_two_set_up_commands():
    """The mission's contract: exactly two set-up commands on a fresh machine, one for the stack, one for tests."""
    assert re.findall(r"^## (.+)$", README, re.MULTILINE)[0] == "Quick start"
    block = re.search(r"```bash\n(.*?)```", section(README, "Quick start"), re.DOTALL).group(1)
    commands = [line.split("#")[0].strip() for line in block.splitlines() if line.split("#")[0].strip()]
    assert commands == ["make up", "make test"]


# The chart bench.plot_strength draws from docs/results/ (docs/benchmarks.md, "Strength per minute").
README_CHARTS = ("strength-connect4.png",)


def test_the_readme_shows_the_screenshots_the_browser_test_takes_and_the_strength_chart():
    shown = re.findall(r"!\[[^\]]+\]\(([^)]+)\)", README)
    images = (*README_SCREENSHOTS, *README_CHARTS)
    assert shown == [f"{DOCS_IMAGES.relative_to(REPO_ROOT)}/{name}" for name in images]
    for name in images:
        assert (DOCS_IMAGES / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"docs/images/{name} is not committed"


def test_the_machine_table_says_what_the_code_requires():
    rows = table(section(README, "What the machine needs"))
    python = " ".join(rows["everything"])
    assert tuple(re.findall(r"3\.\d+", python)) == PYTHONS
    engines = json.loads((REPO_ROOT / "services/frontend/package.json").read_text())["engines"]["node"]
    assert f"Node {engines.replace('>=', '>= ')}" in " ".join(rows["the frontend"])
    kind = " ".join(rows["the kind runtime"])
    for tool, pin in (("kind", "KIND_VERSION"), ("kubectl", "KUBECTL_VERSION"), ("Tilt", "TILT_VERSION")):
        assert f"{tool} {PINS[pin]}" in kind, f"{tool} is pinned at {PINS[pin]}"
    # The node tests/k8s/test_capacity.py fits the stack on (its memory less kind's 100Mi eviction threshold).
    assert f"{RUNNER.cpu_m // 1000} vCPU" in kind
    assert f"{round((RUNNER.memory_mib + 100) * 2**20 / 1e9)} GB of memory" in kind
    assert f"{MIN_FREE_DISK_GB:.0f} GB of free disk" in kind
    # What `make test` installs with apt: the packages scripts/install-system-deps.sh asks for, each named.
    script = (REPO_ROOT / "scripts/install-system-deps.sh").read_text()
    packages = {p for group in re.findall(r"need\+=\(([^)]*)\)", script) for p in group.split()}
    (apt_row,) = [" ".join([key, *cells]) for key, cells in rows.items() if "apt-get" in " ".join(cells)]
    assert packages and all(re.search(rf"\b{p}\b", apt_row) for p in packages), (packages, apt_row)
    assert "scripts/install-system-deps.sh" in apt_row and "system-deps" in (REPO_ROOT / "Makefile").read_text()


def test_the_urls_are_the_ports_devtools_binds_and_forwards():
    rows = table(section(README, "Quick start"))  # its "Where everything is" table
    frontend_local, frontend_kind = rows["the frontend (Play, Training)"]
    assert f"http://127.0.0.1:{ports.LOCAL_FRONTEND}" in frontend_local
    assert ports.KIND_URLS["frontend"] in frontend_kind
    web_local, web_kind = rows["the web API and `/stats`"]
    assert f"http://127.0.0.1:{ports.LOCAL_WEB}" in web_local and ports.KIND_URLS["web"] in web_kind
    assert rows["the Tilt UI"][1] == f"http://localhost:{ports.TILT_UI}"
    minio = rows["the MinIO console (the model store)"][1]
    assert ports.KIND_URLS["minio-console"] in minio
    # The console's login is k8s/local's development MinIO root.
    user, password = re.findall(r"`([^`]+)`", minio)
    literals = (REPO_ROOT / "k8s/local/kustomization.yaml").read_text()
    assert f"MINIO_ROOT_USER={user}\n" in literals and f"MINIO_ROOT_PASSWORD={password}\n" in literals
    prometheus_local, prometheus_kind = rows["Prometheus (`up --monitoring`)"]
    assert prometheus_local == f"http://127.0.0.1:{ports.LOCAL_PROMETHEUS}"
    assert prometheus_kind == ports.KIND_URLS["prometheus"]
    grafana = rows["Grafana (`up --monitoring`)"][1]
    assert grafana.startswith(ports.KIND_URLS["grafana"])
    user, password = re.findall(r"`([^`]+)`", grafana)  # k8s/local-monitoring's development login
    literals = (REPO_ROOT / "k8s/local-monitoring/kustomization.yaml").read_text()
    assert f"GF_SECURITY_ADMIN_USER={user}\n" in literals and f"GF_SECURITY_ADMIN_PASSWORD={password}\n" in literals
    others = rows["`/health` and `/metrics` of the others"][0]
    assert others == (
        f"trainer :{ports.LOCAL_TRAINER}, arena :{ports.LOCAL_ARENA}, actors :{ports.LOCAL_ACTOR_BASE} and up"
    )
    # No port anywhere in the README that devtools does not bind or forward.
    local = LocalRuntime(LocalConfig(data_dir=Path("/nonexistent"), monitoring=True))  # up --monitoring too
    kind = kind_runtime(lambda message: None, KindNames(), monitoring=True)  # up --runtime kind --monitoring too
    known = {*local.host_ports(), *kind.host_ports()}
    named = {int(p) for p in re.findall(r"(?:localhost|127\.0\.0\.1):(\d+)", README)}
    assert named and named <= known, named - known


def test_the_readme_says_what_a_user_does_not_which_issue_asked_for_it():
    assert not re.search(r"\bissues?\b", README, re.IGNORECASE)
    assert not re.search(r"#\d", README)


def test_every_make_target_the_pages_name_exists():
    targets = set(re.findall(r"^([\w-]+):", (REPO_ROOT / "Makefile").read_text(), re.MULTILINE))
    for page in ("README.md", "CONTRIBUTING.md"):
        named = set(re.findall(r"`make ([\w-]+)", (REPO_ROOT / page).read_text()))
        assert named and named <= targets, f"{page} names make targets that do not exist: {named - targets}"
