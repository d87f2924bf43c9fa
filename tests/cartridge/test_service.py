"""cartridge.service: one-line start-up errors, CARTRIDGE_RELOAD=1 restarting a service on a source change, and
lowering a process's priority."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import urllib.request

from devtools.paths import REPO_ROOT
from testkit.support import free_port, wait_until


def health(port: str) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
            return json.load(response)
    except OSError:
        return None


def test_reload_mode_restarts_the_service_when_its_source_changes(tmp_path, start_service):
    # A private copy of the sources, first on PYTHONPATH, so the edit never touches the repository.
    src = tmp_path / "src"
    shutil.copytree(REPO_ROOT / "services/cartridge", src / "cartridge", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(
        REPO_ROOT / "services/actor/cartridge_actor",
        src / "cartridge_actor",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    port = str(free_port())
    env = {
        "PYTHONPATH": f"{src}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "CARTRIDGE_RELOAD": "1",
        "ENV_ID": "tictactoe",
        "MCTS_MAX_SIMS": "8",
        "REPLAY_URL": f"sqlite:///{tmp_path}/replay.db",
        "MODEL_STORE_URL": f"file://{tmp_path}/models",
        "HTTP_PORT": port,
    }
    actor = start_service("cartridge_actor", env, "actor")
    first = wait_until(lambda: health(port), 60, "the actor's /health")
    assert first["pid"] != actor.proc.pid, "the service should run in a child of the reloader"

    main = src / "cartridge_actor" / "main.py"
    main.write_text(main.read_text() + "\n# edited by the reload test\n")
    second = wait_until(lambda: (h := health(port)) and h["pid"] != first["pid"] and h, 60, "a restarted actor")
    assert second["status"] == "ok"
    assert actor.proc.poll() is None, "the reloader itself must keep running"

    assert actor.stop(timeout=20) is not None
    assert health(port) is None, "the child still answers after the reloader stopped"


def test_lower_priority_sets_threads_made_before_it_and_threads_made_after_inherit_it():
    # In a child process: niceness can only be raised, and the test run's own must stay as it is.
    script = textwrap.dedent(
        """
        import json, os, threading
        from cartridge.service import lower_priority
        from testkit.support import thread_nice

        gate = threading.Event()
        before = threading.Thread(target=gate.wait)
        before.start()
        first = lower_priority(7)
        after = threading.Thread(target=gate.wait)
        after.start()
        ids = {"main": threading.get_native_id(), "before": before.native_id, "after": after.native_id}
        seen = thread_nice()
        again = lower_priority(3)  # a thread already nicer keeps its own
        gate.set()
        print(json.dumps({"first": first, "again": again, "nice": {k: seen[v] for k, v in ids.items()}}))
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result == {"first": 7, "again": 7, "nice": {"main": 7, "before": 7, "after": 7}}
