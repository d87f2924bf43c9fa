"""The local runtime for real: a supervisor, the real services, real ports, real file edits."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading

import pytest

from devtools.errors import DevtoolsError
from devtools.http import port_in_use, probe_json
from devtools.local import LocalRuntime
from devtools.local.state import pid_alive
from devtools.local.supervisor import affected
from devtools.paths import REPO_ROOT
from testkit.support import wait_until
from tests.devtools.conftest import local_config

# One service's restart on an edit; the restart itself is measured by bench/bench_local_runtime.py, so this
# is only a generous bound, for a loaded 2-core machine.
RESTART_BOUND_S = 30


def pids(runtime: LocalRuntime) -> dict[str, int]:
    return {s.name: s.pid for s in runtime.status() if s.pid}


def test_up_generates_episodes_publishes_a_model_and_down_leaves_nothing(runtime):
    statuses = runtime.up(detach=True, timeout=120)
    assert {s.name for s in statuses} >= {"trainer", "web", "actor-0"} and all(s.healthy for s in statuses)
    web = f"http://127.0.0.1:{runtime.config.web_port}"
    first = probe_json(f"{web}/stats")["episodes"]
    wait_until(lambda: probe_json(f"{web}/stats")["episodes"] > first, 60, "episodes to rise")
    model = wait_until(lambda: (m := probe_json(f"{web}/api/model")) and m["has_model"] and m, 120, "a served model")
    assert model["version"] >= 1
    children = list(pids(runtime).values())
    supervisor = runtime.state.running_supervisor()
    assert runtime.down() is True
    assert not pid_alive(supervisor) and not any(pid_alive(p) for p in children)
    ports = [c.port for c in runtime.config.components()]
    assert not any(port_in_use(p) for p in ports)
    assert runtime.status() == [] and runtime.state.read() is None


def test_up_twice_changes_nothing(runtime):
    runtime.up(detach=True, timeout=120)
    before = pids(runtime)
    supervisor = runtime.state.running_supervisor()
    runtime.up(detach=True, timeout=120)
    assert pids(runtime) == before and runtime.state.running_supervisor() == supervisor


def test_a_taken_port_is_a_clear_error_and_nothing_starts(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        runtime = LocalRuntime(local_config(tmp_path, web_port=taken))
        with pytest.raises(DevtoolsError) as err:
            runtime.up(detach=True)
    assert f"port {taken} for web is already in use" in err.value.message and "--web-port" in err.value.hint
    assert runtime.state.read() is None and not runtime.running()


# Appended to the watched copy of the web's app.py: a route that exists only in the edited code.
EDIT = """

_create_app_before_the_edit = create_app


def create_app(*args, **kwargs):  # edited by the hot-reload test
    app = _create_app_before_the_edit(*args, **kwargs)
    app.get("/hot-reload-probe")(lambda: {"edited": True})
    return app
"""


def test_editing_a_service_restarts_only_that_service_and_runs_the_edit(runtime, watched_sources):
    runtime.up(detach=True, timeout=120)
    before = pids(runtime)
    web = f"http://127.0.0.1:{runtime.config.web_port}"
    assert probe_json(f"{web}/hot-reload-probe") is None  # not there before the edit
    app = watched_sources / "web" / "cartridge_web" / "app.py"
    app.write_text(app.read_text() + EDIT)
    wait_until(lambda: pids(runtime).get("web") not in (None, before["web"]), RESTART_BOUND_S, "web to restart")
    after = pids(runtime)
    assert after["trainer"] == before["trainer"] and after["actor-0"] == before["actor-0"]
    wait_until(lambda: all(s.healthy for s in runtime.status()), 60, "the restarted web to be healthy")
    assert probe_json(f"{web}/hot-reload-probe") == {"edited": True}, "the restarted web does not run the edit"


def test_editing_the_shared_library_restarts_every_python_service(runtime, watched_sources):
    runtime.up(detach=True, timeout=120)
    before = pids(runtime)
    (watched_sources / "cartridge" / "settings.py").touch()
    os.utime(watched_sources / "cartridge" / "settings.py")
    with open(watched_sources / "cartridge" / "settings.py", "a") as f:
        f.write("\n")
    # The supervisor restarts them one after the other: one restart's bound for each.
    wait_until(
        lambda: all(pids(runtime).get(n) not in (None, before[n]) for n in before),
        RESTART_BOUND_S * len(before),
        f"all of {sorted(before)} to restart",
    )


def test_up_after_the_supervisor_was_killed_stops_its_orphans_first(runtime):
    runtime.up(detach=True, timeout=120)
    orphans = list(pids(runtime).values())
    supervisor = runtime.state.running_supervisor()
    os.kill(supervisor, signal.SIGKILL)
    wait_until(lambda: not pid_alive(supervisor), 10, "the supervisor to die")
    assert any(pid_alive(p) for p in orphans), "the scenario: services outlive a supervisor killed -9"
    statuses = runtime.up(detach=True, timeout=120)  # no "port already in use": the orphans are stopped first
    assert all(s.healthy for s in statuses)
    assert not any(pid_alive(p) for p in orphans)


def test_a_killed_service_is_restarted_and_counted(runtime):
    runtime.up(detach=True, timeout=120)
    victim = pids(runtime)["actor-0"]
    os.kill(victim, signal.SIGKILL)
    wait_until(
        lambda: (s := {x.name: x for x in runtime.status()}["actor-0"]).restarts == 1 and s.pid != victim,
        30,
        "actor-0 to be restarted",
    )
    wait_until(lambda: {x.name: x for x in runtime.status()}["actor-0"].healthy, 60, "actor-0 healthy again")
    assert "restarted 1x" in {x.name: x for x in runtime.status()}["actor-0"].state


def test_ctrl_c_on_a_foreground_up_stops_everything(tmp_path):
    config = local_config(tmp_path)
    # Only the web's port can be chosen on the command line: the trainer, arena and actor use the defaults.
    proc = devtools_cli(
        "up",
        "--runtime",
        "local",
        "--no-frontend",
        "--data-dir",
        str(config.data_dir),
        "--web-port",
        str(config.web_port),
    )
    said: list[str] = []
    threading.Thread(target=lambda: said.extend(proc.stderr), daemon=True).start()
    runtime = LocalRuntime.attach(config.data_dir)
    try:
        # Ctrl-C once `up` says the stack is up, as a person at the terminal would.
        wait_until(lambda: any("Ctrl-C stops everything" in line for line in said), 120, "up to say the stack is up")
        assert all(s.healthy for s in runtime.status())
        children = list(pids(runtime).values())
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
        assert not any(pid_alive(p) for p in children)
        assert not port_in_use(config.web_port)
    finally:
        if proc.poll() is None:
            proc.kill()
        runtime.down()


def devtools_cli(*args: str) -> subprocess.Popen:
    """`python -m devtools.cli ARGS` of this checkout, its output read as text."""
    pythonpath = os.pathsep.join(filter(None, (os.getcwd(), os.environ.get("PYTHONPATH"))))
    return subprocess.Popen(
        [sys.executable, "-m", "devtools.cli", *args],
        env={**os.environ, "PYTHONPATH": pythonpath},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_logs_follow_shows_every_component_behind_its_name_and_stops_on_ctrl_c(runtime):
    runtime.up(detach=True, timeout=120)
    follow = devtools_cli("logs", "-f", "-n", "2", "--data-dir", str(runtime.config.data_dir))
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line.rstrip("\n")) for line in follow.stdout], daemon=True).start()

    def until(wanted, what: str) -> list[str]:
        seen: list[str] = []
        wait_until(lambda: seen.extend(drain(lines)) or wanted(seen), 60, what)
        return seen

    try:
        # Each component behind its name, padded to the widest of trainer, web, arena, actor-0.
        seen = until(lambda s: {line.split(" | ")[0] for line in s} >= {"trainer", "web    ", "actor-0"}, "3 sources")
        assert all(line[7:10] == " | " for line in seen), seen
        victim = pids(runtime)["actor-0"]
        os.kill(victim, signal.SIGKILL)
        # New lines: the supervisor's own, then the restarted actor's first.
        seen = until(lambda s: any(line.startswith("actor-0 | ") and "actor started" in line for line in s), "restart")
        assert "actor-0 | [devtools] actor-0 exited with code -9; restart 1 in 1s" in seen
        follow.send_signal(signal.SIGINT)
        assert follow.wait(10) == 130
        assert "Traceback" not in follow.stderr.read()
    finally:
        follow.kill()


def drain(lines: queue.Queue[str]) -> list[str]:
    got = []
    while not lines.empty():
        got.append(lines.get())
    return got


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("cartridge/mcts.py", {"actor", "trainer", "web", "arena"}),
        ("cartridge/arena/loop.py", {"actor", "trainer", "web", "arena"}),
        ("actor/cartridge_actor/main.py", {"actor"}),
        ("arena/cartridge_arena/main.py", {"arena"}),
        ("trainer/cartridge_trainer/training.py", {"trainer"}),
        ("web/cartridge_web/app.py", {"web"}),
        ("frontend/src/App.svelte", set()),
        ("../pyproject.toml", {"actor", "trainer", "web", "arena"}),
        ("../README.md", set()),
    ],
)
def test_which_services_a_change_restarts(tmp_path, path, expected):
    root = tmp_path / "services"
    root.mkdir()
    assert affected(root / path, root, {"actor", "trainer", "web", "arena", "frontend"}) == expected


def test_the_frontend_dev_server_runs_and_proxies_to_the_web(tmp_path):
    runtime = LocalRuntime(local_config(tmp_path, frontend=True))
    try:
        statuses = {s.name: s for s in runtime.up(detach=True, timeout=180)}
        assert statuses["frontend"].healthy
        frontend = f"http://127.0.0.1:{runtime.config.frontend_port}"
        assert probe_json(f"{frontend}/stats")["env_id"] == "tictactoe"  # Vite's proxy to the local web
    finally:
        runtime.down()
    assert not port_in_use(runtime.config.frontend_port), "the Vite dev server outlived down"


def test_doctor_counts_the_running_stacks_own_ports_as_fine(runtime):
    from devtools.doctor import held_by_cartridge, port_checks
    from devtools.kind.runtime import KindOptions, KindRuntime

    kind = KindRuntime(KindOptions(repo_root=REPO_ROOT))
    runtime.up(detach=True, timeout=120)
    web = runtime.config.web_port
    ours = held_by_cartridge(runtime, kind)
    assert ours[web] == "the running local runtime's web"
    (check,) = port_checks({"local": {web: "web"}}, ours)
    assert check.ok and check.found == "held by the running local runtime's web"
    runtime.down()
    (check,) = port_checks({"local": {web: "web"}}, held_by_cartridge(runtime, kind))
    assert check.ok and check.found == "free"
    with socket.socket() as stranger:
        stranger.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the web's connections may be in TIME_WAIT
        stranger.bind(("127.0.0.1", web))
        stranger.listen()
        (check,) = port_checks({"local": {web: "web"}}, held_by_cartridge(runtime, kind))
        assert not check.ok and check.found == "taken" and "ss -ltnp" in check.fix
        assert check.status == "problem" and check.needed_by == ("local",)
