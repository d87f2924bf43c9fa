"""The e2e suite's own machinery: the kind target's skip reasons and its self-healing port-forwards,
the latter against a stand-in `kubectl port-forward` (no cluster runs here) that listens like the real
one and exits the way the real one does when the pod behind the Service goes away."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from devtools.paths import REPO_ROOT
from e2e.conftest import kind_unavailable
from e2e.stacks import PortForward, accepts
from testkit.support import wait_until

FAKE_KUBECTL = f"""#!{sys.executable}
import os, socket, sys, time
port = int(sys.argv[-1].split(":")[0])
with open(os.environ["FAKE_KUBECTL_LOG"], "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\\n")
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", port))
server.listen()
server.settimeout(0.1)
end = time.monotonic() + float(os.environ.get("FAKE_KUBECTL_LIFETIME", "600"))
while time.monotonic() < end:
    try:
        server.accept()[0].close()
    except socket.timeout:
        pass
sys.exit(1)  # "lost connection to pod"
"""


@pytest.fixture
def kubectl(tmp_path, monkeypatch) -> tuple[Path, Path]:
    path, log = tmp_path / "kubectl", tmp_path / "kubectl.log"
    path.write_text(FAKE_KUBECTL)
    path.chmod(0o755)
    monkeypatch.setenv("FAKE_KUBECTL_LOG", str(log))
    return path, log


def starts(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def test_a_port_forward_is_ready_when_it_accepts_and_is_started_once(kubectl, tmp_path):
    path, log = kubectl
    with PortForward(path, tmp_path / "kubeconfig", "cartridge", "service/web", 8080) as port:
        assert accepts(port)
        time.sleep(2)
        assert starts(log) == [f"-n cartridge port-forward service/web {port}:8080"]
    assert not accepts(port), "kubectl port-forward still runs after the stack is down"


def test_a_port_forward_comes_back_after_kubectl_loses_the_pod(kubectl, tmp_path, monkeypatch):
    path, log = kubectl
    monkeypatch.setenv("FAKE_KUBECTL_LIFETIME", "1.5")
    with PortForward(path, tmp_path / "kubeconfig", "cartridge", "service/web", 8080) as port:
        wait_until(lambda: len(starts(log)) >= 3, 15, "kubectl port-forward to be restarted twice")
        wait_until(lambda: accepts(port), 5, "the forward to accept again")


def test_the_kind_target_skips_with_one_line_naming_the_missing_tool(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    reason = kind_unavailable()
    assert reason is not None and "\n" not in reason and "no kind binary on PATH" in reason


# --- the stack's set-up bound, apart from pytest-timeout's per-test timeout --------------------------------

SETUP_CONFTEST = """
import contextlib, time, pytest
from e2e.bounds import Steps, bounded, time_tests_only

@pytest.fixture(scope="session")
def stack():
    steps = Steps()
    with bounded({bound}, "the kind stack", steps) if {bound} else contextlib.nullcontext():
        steps("building images")
        time.sleep({sleep})
    yield

def pytest_collection_modifyitems(config, items):
    if {func_only}:
        time_tests_only(items, lambda item: True)
"""


def run_suite(pytester, bound: float, sleep: float, func_only: bool = True):
    pytester.makeini(f"[pytest]\ntimeout = 1\npythonpath = {REPO_ROOT}\n")
    pytester.makeconftest(SETUP_CONFTEST.format(bound=bound, sleep=sleep, func_only=func_only))
    pytester.makepyfile(test_stack="def test_uses_the_stack(stack):\n    assert True\n")
    return pytester.runpytest_subprocess("-p", "timeout")


def test_a_slow_first_deploy_is_bounded_by_the_stack_bound_not_the_per_test_timeout(pytester):
    result = run_suite(pytester, bound=20, sleep=2.5)  # set-up takes longer than the 1 s per-test timeout
    result.assert_outcomes(passed=1)


def test_the_per_test_timeout_would_have_killed_that_deploy_without_func_only(pytester):
    """The premise: pytest-timeout times a test's fixtures too, unless func_only."""
    result = run_suite(pytester, bound=0, sleep=2.5, func_only=False)
    assert result.ret != 0 and "Timeout" in result.stdout.str()


def test_a_stack_past_its_bound_fails_with_one_sentence_naming_the_last_step(pytester):
    result = run_suite(pytester, bound=1, sleep=30)
    result.assert_outcomes(errors=1)
    expected = "*StackSetupTimeout: the kind stack did not come up within 1 s (last step: building images)*"
    result.stdout.fnmatch_lines([expected])


def test_the_local_chaos_reads_the_committed_episodes_through_the_supervisors_stamps(tmp_path):
    """The supervisor writes a time before every line; the JSON the actor logged must still be read."""
    from devtools.local.logs import StampedFile
    from e2e.chaos import LocalChaos
    from e2e.stacks import LocalStack

    stack = LocalStack(tmp_path / "data", actors=2)
    (tmp_path / "data" / "logs").mkdir(parents=True)
    for actor, episode in (("actor-0", "e1"), ("actor-1", "e2")):
        log = StampedFile(tmp_path / "data" / "logs" / f"{actor}.log")
        log.write(b'{"event": "episode written", "episode_id": "%s", "level": "info"}\n' % episode.encode())
        log.write(b"Traceback (most recent call last):\n")
        log.close()
    assert LocalChaos(stack).committed() == {"e1", "e2"}
