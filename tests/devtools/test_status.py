"""`devtools status` and `doctor` through the CLI against a stack that runs: the kind runtime's through the real kubectl
and Kubernetes client talking to the recording API stand-in (tests/kube_api.py; kind itself is a shell script on
PATH, the one boundary that cannot run here), and the local runtime's for real. Every JSON and YAML document is
validated against its schema in devtools/schemas/, and each exit code against devtools.exit_codes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from devtools.cli import cli
from devtools.exit_codes import ExitCode
from devtools.kind.runtime import URLS
from devtools.pins import KIND_VERSION
from testkit.support import free_port, wait_until
from tests.devtools.conftest import schema
from tests.kube_api import FakeKubeAPI
from tests.test_kubectl_api import NAMESPACE, READY, cluster_objects, deployment

KUBECTL = shutil.which("kubectl")

# kind as a machine with cluster `cartridge` answers it; every other call is refused, so a test that reaches one
# says so instead of passing on an empty answer.
FAKE_KIND = f"""#!/bin/sh
case "$1 $2" in
  "version "*) echo "kind v{KIND_VERSION} go1.24.0 linux/amd64" ;;
  "get clusters") echo cartridge ;;
  *) echo "fake kind: $* is not answered here" >&2; exit 1 ;;
esac
"""


@pytest.fixture
def kind_stack(tmp_path, monkeypatch):
    """A kind cluster `cartridge` running the stack: kind answers from PATH, the API server is the recorder."""
    if KUBECTL is None:
        pytest.skip("no kubectl binary on PATH, and this tier runs the real one")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "kind").write_text(FAKE_KIND)
    (bin_dir / "kind").chmod(stat.S_IRWXU)
    (bin_dir / "kubectl").symlink_to(KUBECTL)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("CARTRIDGE_DATA_DIR", str(tmp_path / "no-local-runtime"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    # Tilt's port-forward of the web cannot run here: nothing answers /stats (and nothing else on this machine may).
    monkeypatch.setitem(URLS, "web", f"http://127.0.0.1:{free_port()}")
    with FakeKubeAPI(cluster_objects(), controllers=READY) as api:
        monkeypatch.setenv("KUBECONFIG", str(api.kubeconfig(tmp_path / "kubeconfig")))
        yield api


def status(*args: str):
    return CliRunner().invoke(cli, ["status", *args])


def test_status_on_kind_is_healthy_json_and_exits_0(kind_stack):
    result = status("-o", "json")
    assert result.exit_code == ExitCode.OK, result.output
    document = json.loads(result.stdout)
    jsonschema.validate(document, schema("status"))
    assert (document["runtime"], document["running"], document["healthy"]) == ("kind", True, True)
    assert {w["name"] for w in document["workloads"]} == {"postgres", "minio", "trainer", "actor", "arena", "web"} | {
        "frontend",
        "prometheus",
    }
    assert document["gateway"] == "http://172.18.0.5"
    assert document["stats"] is None


def test_an_unready_workload_on_kind_exits_unhealthy_in_every_output(kind_stack):
    """Fault 4: a stack with a component that is not healthy exited 0."""
    arena = deployment("arena")
    arena["status"].update(readyReplicas=0, availableReplicas=0)
    kind_stack.put(arena)
    table = status()
    assert table.exit_code == ExitCode.UNHEALTHY == 150, table.output
    assert "arena" in table.stdout and "not ready" in table.stdout
    as_yaml = status("-o", "yaml")
    assert as_yaml.exit_code == ExitCode.UNHEALTHY
    document = yaml.safe_load(as_yaml.stdout)
    jsonschema.validate(document, schema("status"))
    assert document["running"] and not document["healthy"]
    assert [w["name"] for w in document["workloads"] if not w["healthy"]] == ["arena"]


def test_a_cluster_without_the_stacks_workloads_runs_nothing(kind_stack):
    """After `devtools down` the cluster stays, its namespace goes: status says nothing runs, and exits so."""
    for key in [k for k in kind_stack.objects if k[1] == NAMESPACE and k[0] in ("deployments", "statefulsets")]:
        del kind_stack.objects[key]
    result = status("--json")
    assert result.exit_code == ExitCode.NOT_RUNNING, result.output
    document = json.loads(result.stdout)
    jsonschema.validate(document, schema("status"))
    assert (document["runtime"], document["running"], document["workloads"]) == ("kind", False, [])
    assert status().exit_code == ExitCode.NOT_RUNNING


# --- the local runtime, for real: one stack for status and doctor -------------------------------------------


@pytest.mark.slow
def test_status_and_doctor_of_a_running_local_stack(runtime, tmp_path, monkeypatch):
    runtime.up(detach=True, timeout=120)
    data_dir = str(runtime.config.data_dir)
    no_kind = tmp_path / "no-kind-tools"
    no_kind.mkdir()
    monkeypatch.setenv("PATH", str(no_kind))

    healthy = status("--data-dir", data_dir, "-o", "json")
    assert healthy.exit_code == ExitCode.OK, healthy.output
    document = json.loads(healthy.stdout)
    jsonschema.validate(document, schema("status"))
    assert (document["runtime"], document["running"], document["healthy"]) == ("local", True, True)
    by_name = {c["name"]: c for c in document["components"]}
    assert set(by_name) >= {"trainer", "web", "arena", "actor-0"}
    assert by_name["frontend"]["state"] == "skipped" and by_name["frontend"]["url"] == ""
    assert by_name["arena"]["url"] == f"http://127.0.0.1:{runtime.config.arena_port}"
    jsonschema.validate(yaml.safe_load(status("--data-dir", data_dir, "-o", "yaml").stdout), schema("status"))

    # A component that stops answering (SIGSTOP: alive, so the supervisor does not restart it) is unhealthy.
    arena = by_name["arena"]["pid"]
    os.kill(arena, signal.SIGSTOP)
    try:
        result = wait_until(
            lambda: (r := status("--data-dir", data_dir, "-o", "json")).exit_code == ExitCode.UNHEALTHY and r,
            30,
            "status to see the stopped arena",
        )
        stopped = json.loads(result.stdout)
        jsonschema.validate(stopped, schema("status"))
        # Only the arena is stopped; on a loaded machine a busy trainer may miss the 2 s health probe too.
        assert "arena" in [c["name"] for c in stopped["components"] if not c["healthy"]]
        assert status("--data-dir", data_dir).exit_code == ExitCode.UNHEALTHY
    finally:
        os.kill(arena, signal.SIGCONT)
    wait_until(lambda: status("--data-dir", data_dir).exit_code == ExitCode.OK, 60, "the arena to answer again")

    # Fault 4: doctor exited 1 when only the kind tools were missing. Its ports are this stack's: ours, not taken.
    monkeypatch.setenv("CARTRIDGE_DATA_DIR", data_dir)
    doctor = CliRunner().invoke(cli, ["doctor", "-o", "json"])
    assert doctor.exit_code == ExitCode.OK, doctor.output
    report = json.loads(doctor.stdout)
    jsonschema.validate(report, schema("doctor"))
    assert report["runtimes"]["local"]["can_run"] and not report["runtimes"]["kind"]["can_run"]
    ports = {c["name"]: c for c in report["checks"] if c["name"].startswith("port ")}
    arena_port = next(c for name, c in ports.items() if name.startswith(f"port {runtime.config.arena_port} "))
    assert arena_port["found"] == "held by the running local runtime's arena"
