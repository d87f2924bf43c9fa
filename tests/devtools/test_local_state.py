"""The local runtime's state file: typed records, and pids trusted only with their process's start time.

Real processes stand in for a supervisor and its children; a "recycled pid" is a live process whose start
time is not the one recorded, which `down` and `up` must never signal.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from devtools.errors import DevtoolsError
from devtools.local import LocalConfig, LocalRuntime
from devtools.local.state import ComponentRecord, StateFile, SupervisorRecord, process_start, same_process
from testkit.support import free_port


@pytest.fixture
def sleeper():
    """A live process in its own session (as the supervisor starts its children)."""
    procs = []

    def start() -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.kill()
        proc.wait()


def record_with(
    data_dir, supervisor: subprocess.Popen, start_offset: int, child: subprocess.Popen | None, child_offset: int = 0
) -> None:
    config = LocalConfig(
        data_dir=data_dir, web_port=free_port(), trainer_port=free_port(), actor_base_port=free_port(), frontend=False
    )
    components = {}
    if child is not None:
        start = process_start(child.pid) + child_offset
        components["actor-0"] = ComponentRecord(
            "actor-0", "actor", free_port(), "http://127.0.0.1:1", "/health", "actor-0.log", child.pid, start
        )
    record = SupervisorRecord(
        supervisor.pid, process_start(supervisor.pid) + start_offset, json.loads(config.to_json()), {}, components
    )
    StateFile(data_dir)._write(record)


def test_the_state_file_round_trips_typed_records(tmp_path, sleeper):
    proc = sleeper()
    record_with(tmp_path, proc, 0, proc)
    read = StateFile(tmp_path).read()
    assert isinstance(read, SupervisorRecord) and isinstance(read.components["actor-0"], ComponentRecord)
    assert read.pid == proc.pid and read.alive and read.components["actor-0"].alive


def test_a_file_of_another_format_reads_as_no_state(tmp_path):
    (tmp_path / "state.json").write_text(json.dumps({"supervisor_pid": 1, "components": {}}))
    assert StateFile(tmp_path).read() is None


def test_start_time_tells_a_recycled_pid_from_the_recorded_process(sleeper):
    proc = sleeper()
    start = process_start(proc.pid)
    assert start is not None and same_process(proc.pid, start)
    assert not same_process(proc.pid, start - 1), "another process that got the same pid must not count"
    proc.kill()
    proc.wait()
    assert not same_process(proc.pid, start) and process_start(proc.pid) is None


def test_down_never_signals_a_recycled_pid(tmp_path, sleeper):
    supervisor, child = sleeper(), sleeper()
    record_with(tmp_path, supervisor, start_offset=-5, child=child, child_offset=-5)  # both pids "reused"
    runtime = LocalRuntime.attach(tmp_path)
    assert not runtime.running()
    assert runtime.down() is False
    time.sleep(0.3)
    assert supervisor.poll() is None and child.poll() is None, "down killed a process it did not start"
    assert StateFile(tmp_path).read() is None  # the stale state is forgotten


def test_down_stops_the_orphans_of_a_dead_supervisor_when_they_are_the_recorded_processes(tmp_path, sleeper):
    supervisor, child = sleeper(), sleeper()
    record_with(tmp_path, supervisor, start_offset=0, child=child)
    supervisor.kill()
    supervisor.wait()  # the supervisor died (kill -9); its child runs on
    LocalRuntime.attach(tmp_path).down()
    child.wait(10)
    assert child.returncode is not None and os.path.exists(tmp_path) and StateFile(tmp_path).read() is None


def test_up_is_not_healthy_while_the_supervisor_has_listed_no_component_yet(tmp_path):
    """The supervisor writes its record (and the skipped frontend, counted healthy) before its components':
    `up` returned at once in that moment, and the e2e chaos suite found a stack that was not up."""
    config = LocalConfig(
        data_dir=tmp_path, web_port=free_port(), trainer_port=free_port(), actor_base_port=free_port(), frontend=False
    )
    StateFile(tmp_path).write_supervisor(os.getpid(), config, {"frontend": "disabled (--no-frontend)"})
    with pytest.raises(
        DevtoolsError, match=r"the local runtime did not become ready within 1 s \(trainer \(not started\)"
    ):
        LocalRuntime(config).wait_healthy(timeout=1)
