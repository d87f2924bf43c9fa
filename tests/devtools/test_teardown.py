"""`devtools down` (fault 2): it takes down only the runtime that is up (or the one --runtime names), and it asks
before anything is deleted for good (the local data directory; the kind namespace's volumes, the cluster, the
registry), unless --yes; without a terminal to ask, it refuses and does nothing.

The real CLI (click's CliRunner), a real local stack where one must run, kind and docker as stand-in executables
(tests/devtools/fake_tools.py), the real kubectl against the recording API server (tests/kube_api.py). The one
thing stood in for in-process is whether stdin is a terminal (``terminal``); the last test asks a real one.
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from devtools.cli import cli
from devtools.exit_codes import ExitCode
from devtools.http import port_in_use
from devtools.kind.cluster import CreatedClusters
from devtools.local import LocalRuntime
from devtools.paths import REPO_ROOT
from tests.devtools.conftest import local_config
from tests.devtools.fake_tools import FakeTools
from tests.kube_api import FakeKubeAPI

NAMESPACE = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "cartridge"}}


def down(*args: str, env: dict[str, str] | None = None, input: str | None = None):
    return CliRunner().invoke(cli, ["down", *args], prog_name="devtools", env=env, input=input)


@pytest.fixture(autouse=True)
def no_docker_engine(monkeypatch, tmp_path):
    """The Docker SDK finds no engine (so no container of the user's is ever looked at); tests that need
    containers give the kind runtime a stand-in engine."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")


@pytest.fixture
def terminal(monkeypatch):
    """stdin is a terminal: someone is there to answer."""
    monkeypatch.setattr("devtools.teardown.stdin_is_terminal", lambda: True)


@pytest.fixture
def data_dir(tmp_path) -> Path:
    """A local runtime's data, as a stack leaves it once stopped."""
    data = tmp_path / "data"
    for name in ("replay.db", "models/tictactoe/v000001.onnx", "checkpoints/trainer.pt", "logs/web.log"):
        (data / name).parent.mkdir(parents=True, exist_ok=True)
        (data / name).write_text("precious")
    return data


def kind_cluster(tmp_path, monkeypatch, name: str = "cartridge", created: bool = True):
    """A kind cluster ``name`` with the stack's namespace, answering the real kubectl as kind-NAME; with
    ``created`` devtools' record says it made it. Yields (tools, api); PATH and KUBECONFIG point at them."""
    tools = FakeTools(tmp_path / "tools", clusters=(name,))
    if created:
        CreatedClusters().write(name, [f"{name}-control-plane-id"])
    api = FakeKubeAPI([NAMESPACE])
    monkeypatch.setenv("PATH", tools.path)
    monkeypatch.setenv("KUBECONFIG", str(api.kubeconfig(tmp_path / "kubeconfig", context=f"kind-{name}")))
    return tools, api


@pytest.fixture
def kind(tmp_path, monkeypatch):
    tools, api = kind_cluster(tmp_path, monkeypatch)
    with api:
        yield tools, api


@pytest.fixture
def local_stack(tmp_path):
    runtime = LocalRuntime(local_config(tmp_path))
    runtime.up(detach=True, timeout=120)
    yield runtime
    runtime.down()


def test_after_only_the_local_runtime_down_leaves_the_kind_namespace_alone(local_stack, kind):
    """Fault 2: `down` stopped the local stack and deleted the kind namespace as well."""
    tools, api = kind
    data = str(local_stack.config.data_dir)
    both = down("--data-dir", data)
    assert api.calls("delete") == [] and not any("delete" in c for c in tools.calls())
    assert local_stack.running(), "with both runtimes up, down asks which instead of stopping either"
    assert both.exit_code == ExitCode.ERROR and "error: both runtimes have something to take down" in both.stderr
    hint = next(line for line in both.stderr.splitlines() if line.startswith("hint:"))
    assert "--runtime local" in hint
    result = down("--runtime", "local", "--data-dir", data)
    assert result.exit_code == 0, result.output
    assert not local_stack.running() and not any(port_in_use(c.port) for c in local_stack.config.components())
    assert api.calls("delete") == [] and tools.clusters == ["cartridge"], "the kind side was touched"
    assert Path(data, "replay.db").exists(), "down without --all keeps the data"


def test_the_runtime_that_is_up_is_the_one_taken_down_and_nothing_up_is_said(data_dir, kind, monkeypatch):
    tools, api = kind
    monkeypatch.setenv("CARTRIDGE_DATA_DIR", str(data_dir))  # the local runtime is not running there: only kind is up
    local_flag = down("--data-dir", str(data_dir), "--yes")
    assert local_flag.exit_code == 2 and api.calls("delete") == []
    assert "--data-dir applies to the local runtime only, and this runs the kind runtime" in local_flag.stderr
    result = down("--yes")
    assert result.exit_code == 0, result.output
    assert [(r.resource, r.name) for r in api.calls("delete")] == [("namespaces", "cartridge")]
    assert "kind runtime: deleted namespace cartridge" in result.stderr
    assert data_dir.exists() and tools.clusters == ["cartridge"]
    again = down("--yes")
    assert again.exit_code == 0
    assert f"nothing to take down: no local runtime in {data_dir} and no stack on a kind cluster cartridge" in (
        again.stderr
    )
    assert tools.clusters == ["cartridge"], "down without --all keeps the cluster"


def test_nothing_up_anywhere_is_said_and_nothing_is_touched(data_dir, tmp_path, monkeypatch):
    tools = FakeTools(tmp_path / "tools")
    monkeypatch.setenv("PATH", tools.path)
    result = down("--data-dir", str(data_dir))
    assert result.exit_code == 0
    assert f"nothing to take down: no local runtime in {data_dir}" in result.stderr
    assert "no stack on a kind cluster cartridge" in result.stderr
    assert not [call for call in tools.calls() if "delete" in call]


def test_local_all_without_a_terminal_and_without_yes_refuses_and_keeps_the_data(data_dir):
    """Fault 2: `down --all` deleted the replay, the models and the checkpoints without asking."""
    result = down("--all", "--data-dir", str(data_dir))
    assert (data_dir / "replay.db").read_text() == "precious" and (data_dir / "checkpoints" / "trainer.pt").exists()
    assert result.exit_code == 1
    message = result.stderr
    assert "with no terminal to ask, nothing was stopped or deleted" in message and str(data_dir) in message
    assert "\nhint: add --yes to delete without asking\n" in message


def test_local_all_answered_no_keeps_everything_and_yes_deletes(data_dir, terminal):
    kept = down("--all", "--data-dir", str(data_dir), input="n\n")
    assert (data_dir / "models" / "tictactoe" / "v000001.onnx").exists()
    assert kept.exit_code == 1 and "error: not confirmed: nothing was stopped or deleted" in kept.stderr
    assert (
        f"This deletes for good:\n  - {data_dir}: the local replay buffer, models, checkpoints and logs" in kept.stderr
    )
    assert "Delete? [y/N]" in kept.stderr
    deleted = down("--all", "--data-dir", str(data_dir), input="y\n")
    assert deleted.exit_code == 0, deleted.output
    assert not data_dir.exists()


def test_yes_deletes_without_asking(data_dir):
    result = down("--runtime", "local", "--all", "--yes", "--data-dir", str(data_dir))
    assert result.exit_code == 0 and not data_dir.exists() and "Delete?" not in result.output


def test_kind_all_asks_before_deleting_the_cluster_and_the_registry(kind, terminal, monkeypatch):
    """Fault 2: `down --all` deleted the cluster and the registry without asking."""
    from tests.devtools.kind.test_ownership import FakeDocker

    tools, api = kind
    engine = FakeDocker()
    engine.run("registry:3", name="kind-registry", labels={"dev.cartridge.role": "registry"})
    monkeypatch.setattr("devtools.kind.runtime.docker_client", lambda: engine)
    kept = down("--all", input="n\n")
    assert tools.clusters == ["cartridge"] and "kind-registry" in engine.by_name and api.calls("delete") == []
    assert kept.exit_code == 1
    assert "  - the kind cluster cartridge with everything in it" in kept.stderr
    assert "  - the registry kind-registry on localhost:5001 with the images in it" in kept.stderr
    deleted = down("--all", input="y\n")
    assert deleted.exit_code == 0, deleted.output
    assert tools.clusters == [] and "kind delete cluster --name cartridge" in tools.calls("kind")
    assert engine.removed == ["kind-registry"]


def test_kind_down_asks_before_the_namespace_and_its_volumes_go(kind, terminal):
    _, api = kind
    kept = down(input="n\n")
    assert api.calls("delete") == [] and kept.exit_code == 1
    assert "namespace cartridge in the kind cluster cartridge, with its volumes" in kept.stderr
    unanswered = CliRunner().invoke(cli, ["down"], prog_name="devtools")  # asked, and stdin ends: click aborts
    assert unanswered.exit_code == ExitCode.INTERRUPTED
    assert api.calls("delete") == []


def test_kind_all_without_a_terminal_refuses(kind):
    tools, api = kind
    result = down("--all", "--runtime", "kind")
    assert result.exit_code == 1 and "with no terminal to ask" in result.stderr
    assert tools.clusters == ["cartridge"] and api.calls("delete") == []


def test_down_reaches_the_cluster_the_options_name(tmp_path, monkeypatch):
    """Two checkouts: `--cluster two` (or CARTRIDGE_CLUSTER=two) takes down that cluster's stack, through its
    own kube context kind-two; the kubeconfig has no other, so any other context would fail."""
    tools, api = kind_cluster(tmp_path, monkeypatch, name="two")
    with api:
        result = down("--runtime", "kind", "--yes", env={"CARTRIDGE_CLUSTER": "two"})
    assert result.exit_code == 0, result.output
    assert [(r.resource, r.name) for r in api.calls("delete")] == [("namespaces", "cartridge")]
    assert "kind get clusters" in tools.calls("kind") and tools.clusters == ["two"]


def test_a_real_terminal_is_asked(data_dir):
    """No stand-in: the question goes to a pseudo-terminal, and only the answer y deletes."""
    for answer, deleted in (("n", False), ("y", True)):
        shown = ask_in_a_terminal(["down", "--runtime", "local", "--all", "--data-dir", str(data_dir)], answer)
        assert "Delete? [y/N]" in shown and str(data_dir) in shown
        assert data_dir.exists() is not deleted, shown


def ask_in_a_terminal(args: list[str], answer: str, timeout: float = 60) -> str:
    """Run `devtools ARGS` with a pseudo-terminal as stdin, stdout and stderr; answer once the question shows."""
    controller, terminal = pty.openpty()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "services"), str(REPO_ROOT)])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "devtools.cli", *args], stdin=terminal, stdout=terminal, stderr=terminal, env=env
    )
    os.close(terminal)
    shown, answered, deadline = b"", False, time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(controller, 4096)
                except OSError:  # the other end closed: the process is gone
                    break
                shown += chunk
            if not answered and b"[y/N]" in shown:
                os.write(controller, answer.encode() + b"\n")
                answered = True
            if proc.poll() is not None and not ready:
                break
        assert proc.wait(timeout=10) is not None
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(controller)
    return shown.decode(errors="replace")


def test_another_checkouts_cluster_keeps_the_shared_cloud_provider(tmp_path, monkeypatch):
    """cloud-provider-kind is one container for every kind cluster: taking down `cartridge` while the cluster
    `two` runs removes only cartridge's Envoy proxy; once it is the last cluster, the provider goes too."""
    from devtools.kind.addons import CPK_CLUSTER_LABEL, CloudProviderSpec
    from tests.devtools.kind.test_ownership import FakeDocker

    tools, api = kind_cluster(tmp_path, monkeypatch)
    tools.state.write_text(
        tools.state.read_text().replace('"clusters": ["cartridge"]', '"clusters": ["cartridge", "two"]')
    )
    engine = FakeDocker()
    provider = CloudProviderSpec()
    engine.run(provider.image, name=provider.name, labels=provider.labels)
    engine.run("envoy", name="kindccm-cartridge", labels={CPK_CLUSTER_LABEL: "cartridge"})
    engine.run("envoy", name="kindccm-two", labels={CPK_CLUSTER_LABEL: "two"})
    monkeypatch.setattr("devtools.kind.runtime.docker_client", lambda: engine)
    with api:
        first = down("--runtime", "kind", "--yes")
        assert first.exit_code == 0, first.output
        assert engine.removed == ["kindccm-cartridge"] and provider.name in engine.by_name
        tools.state.write_text(tools.state.read_text().replace('"cartridge", "two"', '"cartridge"'))
        engine.run("envoy", name="kindccm-cartridge", labels={CPK_CLUSTER_LABEL: "cartridge"})
        second = down("--runtime", "kind", "--yes")
    assert second.exit_code == 0, second.output
    assert provider.name in engine.removed[1:] and "kindccm-two" in engine.by_name


def test_a_data_directory_with_brackets_is_said_as_it_is(tmp_path):
    """Paths are text, not rich markup: `[b]` in a data directory neither vanishes nor breaks the command, in the
    refusal (printed by the CLI's main, so run as a process) or in what was done."""
    data = tmp_path / "stack [b]"
    (data / "models").mkdir(parents=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "services"), str(REPO_ROOT)])}
    refused = subprocess.run(
        [sys.executable, "-m", "devtools.cli", "down", "--runtime", "local", "--all", "--data-dir", str(data)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert refused.returncode == 1 and f"would delete {data}:" in " ".join(refused.stderr.split()), refused.stderr
    result = down("--runtime", "local", "--all", "--yes", "--data-dir", str(data))
    assert result.exit_code == 0, result.output
    assert f"local runtime: deleted {data}: the local replay buffer" in result.stderr and not data.exists()
