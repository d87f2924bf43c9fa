"""The local runtime: seconds from `devtools up` to the first model served by the web, and from a
one-line source edit to the edited service's new process and to it healthy again (three edits, one
per Python service).

Runs on free ports in a temporary data dir, watching a temporary copy of services/.

    .venv/bin/python -m bench.bench_local_runtime
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from devtools.http import probe_json
from devtools.local import LocalConfig, LocalRuntime
from devtools.paths import REPO_ROOT
from testkit.support import free_port, wait_until

EDITS = {
    "web": "web/cartridge_web/app.py",
    "trainer": "trainer/cartridge_trainer/training.py",
    "actor-0": "actor/cartridge_actor/main.py",
}


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="cartridge-bench-local-"))
    sources = tmp / "services"
    shutil.copytree(
        REPO_ROOT / "services", sources, ignore=shutil.ignore_patterns("node_modules", "dist", "__pycache__")
    )
    config = LocalConfig(
        data_dir=tmp / "data",
        frontend=False,
        source_root=sources,
        web_port=free_port(),
        frontend_port=free_port(),
        trainer_port=free_port(),
        actor_base_port=free_port(),
    )
    runtime = LocalRuntime(config)
    web = f"http://127.0.0.1:{config.web_port}"
    try:
        started = time.perf_counter()
        runtime.up(detach=True, timeout=180)
        healthy = time.perf_counter() - started
        wait_until(lambda: (m := probe_json(f"{web}/api/model")) and m["has_model"], 300, "the first model", 0.1)
        first_model = time.perf_counter() - started
        reloads = {}
        for name, path in EDITS.items():
            before = {s.name: s.pid for s in runtime.status()}[name]
            edit_at = time.perf_counter()
            (sources / path).write_text((sources / path).read_text() + "\n# one-line change\n")

            def pid(name=name):
                return {s.name: s.pid for s in runtime.status()}.get(name)

            def back(name=name, before=before):
                status = {s.name: s for s in runtime.status()}[name]
                return status.pid not in (None, before) and status.healthy

            wait_until(lambda before=before, pid=pid: pid() not in (None, before), 60, f"{name} restarted", 0.02)
            restarted = time.perf_counter() - edit_at
            wait_until(back, 60, f"{name} healthy again", 0.05)
            reloads[name] = (restarted, time.perf_counter() - edit_at)
    finally:
        runtime.down()
        shutil.rmtree(tmp, ignore_errors=True)
    print("local runtime, tiny defaults, 2 cores (1 actor, trainer, web)\n")
    print(f"devtools up -> every component healthy : {healthy:6.1f} s")
    print(f"devtools up -> first model served      : {first_model:6.1f} s   (target: within a minute)")
    print("\nedit -> the service's new process started (target: within 2 s), and healthy (imports, model, port):")
    for name, (restarted, healthy_again) in reloads.items():
        print(f"  {name:8} restarted {restarted:5.1f} s   healthy {healthy_again:5.1f} s")


if __name__ == "__main__":
    main()
