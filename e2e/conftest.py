"""pytest e2e/ [--target local|kind]: the stack comes up once per session; on a failure the logs,
`devtools status` (local) or pods, events and describe output (kind) are saved under artifacts/e2e/."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e.stacks import REPO, KindStack, LocalStack

ARTIFACTS = REPO / "artifacts" / "e2e"


def pytest_addoption(parser):
    parser.addoption(
        "--target",
        choices=("local", "kind"),
        default="local",
        help="local: the local runtime in a temp dir (default); kind: a kind cluster via pytest-kind",
    )


def pytest_collection_modifyitems(config, items):
    if config.getoption("--target") == "kind" and shutil.which("kind") is None:
        skip = pytest.mark.skip(reason="--target kind: no kind binary on PATH (CI's e2e.yml installs the pinned one)")
        for item in items:
            if item.fspath and Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
                item.add_marker(skip)


@pytest.fixture(scope="session")
def stack(request) -> Iterator[LocalStack | KindStack]:
    target = request.config.getoption("--target")
    workdir = Path(tempfile.mkdtemp(prefix=f"cartridge-e2e-{target}-"))
    stack = LocalStack(workdir / "data") if target == "local" else KindStack(workdir)
    stack.up()
    request.config._cartridge_stack = stack
    try:
        yield stack
    finally:
        stack.down()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call" and report.failed:
        stack = getattr(item.config, "_cartridge_stack", None)
        if stack is not None:
            stack.collect(ARTIFACTS / item.name)
    return report
