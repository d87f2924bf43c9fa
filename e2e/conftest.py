"""pytest e2e/ [--target local|kind]: the stack comes up once per session; on a failure the logs,
`devtools status` (local) or pods, events and describe output (kind) are saved under artifacts/e2e/."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.paths import REPO_ROOT
from e2e.bounds import SETUP_SECONDS, Steps, bounded, time_tests_only
from e2e.stacks import KindStack, LocalStack
from testkit.support import docker_unavailable, restore_sigint

restore_sigint()  # before any test starts a process it may Ctrl-C

ARTIFACTS = REPO_ROOT / "artifacts" / "e2e"


def pytest_addoption(parser):
    parser.addoption(
        "--target",
        choices=("local", "kind"),
        default="local",
        help="local: the local runtime in a temp dir (default); kind: a kind cluster via pytest-kind",
    )
    parser.addoption(
        "--stack-timeout",
        type=float,
        default=None,
        help="seconds the stack may take to come up, apart from each test's own timeout "
        f"(default: {', '.join(f'{k} {v:.0f}' for k, v in SETUP_SECONDS.items())})",
    )
    parser.addoption(
        "--storage",
        choices=("local", "cluster"),
        default="local",
        help="the local target's storage: local (SQLite, a models directory; default) or cluster (PostgreSQL "
        "in a container and the S3 test server, the pair the cluster runs); kind always runs the cluster's",
    )


def local_storage(config) -> str:
    """The local target's --storage; skips with one line when the cluster pair cannot run here."""
    storage = config.getoption("--storage")
    if storage == "cluster" and not os.environ.get("CARTRIDGE_TEST_POSTGRES_URL") and (reason := docker_unavailable()):
        pytest.skip(f"--storage cluster needs PostgreSQL's container: {reason}")
    return storage


def kind_unavailable() -> str | None:
    """Why the kind target cannot run here, in one line (None when it can)."""
    for tool in ("kind", "kubectl", "docker"):
        if shutil.which(tool) is None:
            return f"--target kind: no {tool} binary on PATH (CI's e2e.yml installs the pinned tools)"
    try:
        import pytest_kind  # noqa: F401
    except ImportError:
        return "--target kind: pytest-kind is not installed (pip install -e '.[dev]')"
    if subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode != 0:
        return "--target kind: the Docker daemon does not answer (`docker info` fails)"
    return None


def in_e2e(item) -> bool:
    return bool(item.fspath) and Path(str(item.fspath)).is_relative_to(Path(__file__).parent)


def pytest_collection_modifyitems(config, items):
    time_tests_only(items, in_e2e)  # the stack's set-up has its own bound (--stack-timeout)
    # The chaos suite brings up a stack of its own for minutes: it runs when asked for (-m chaos), not in every e2e run.
    if "chaos" not in (config.getoption("markexpr") or ""):
        chaos = [item for item in items if item.get_closest_marker("chaos")]
        if chaos:
            config.hook.pytest_deselected(items=chaos)
            items[:] = [item for item in items if not item.get_closest_marker("chaos")]
    if config.getoption("--target") != "kind" or (reason := kind_unavailable()) is None:
        return
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if in_e2e(item):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def stack(request) -> Iterator[LocalStack | KindStack]:
    target = request.config.getoption("--target")
    storage = local_storage(request.config) if target == "local" else "cluster"
    workdir = Path(tempfile.mkdtemp(prefix=f"cartridge-e2e-{target}-"))
    stack = LocalStack(workdir / "data", storage=storage) if target == "local" else KindStack(workdir)
    # Registered before up(): a stack that fails to come up still leaves its logs and status behind.
    request.config._cartridge_stack = stack
    seconds = request.config.getoption("--stack-timeout") or SETUP_SECONDS[target]
    steps = Steps()
    try:
        with bounded(seconds, f"the {target} stack", steps):
            stack.up(progress=steps)
        yield stack
    finally:
        stack.down()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    # "setup" covers the stack failing to come up (the fixture's error is reported at setup).
    if report.when in ("setup", "call") and report.failed:
        stack = getattr(item.config, "_cartridge_stack", None)
        if stack is not None:
            stack.collect(ARTIFACTS / f"{item.name}-{report.when}")
    return report
