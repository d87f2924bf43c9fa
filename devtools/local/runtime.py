"""LocalRuntime: up (foreground or detached), down, status and logs over the supervisor and its state file."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from devtools.errors import DevtoolsError
from devtools.http import port_in_use, probe_json

from .config import LocalConfig
from .state import StateFile, pid_alive
from .supervisor import Supervisor


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    kind: str
    pid: int | None
    state: str
    restarts: int
    healthy: bool
    url: str
    detail: str = ""


class LocalRuntime:
    def __init__(self, config: LocalConfig, progress: Callable[[str], None] = lambda msg: None) -> None:
        self.config = config
        self.state = StateFile(config.data_dir)
        self.progress = progress

    @classmethod
    def attach(cls, data_dir: Path, progress: Callable[[str], None] = lambda msg: None) -> LocalRuntime:
        """The runtime as `up` configured it (ports, actors), read from the state file in ``data_dir``."""
        data = StateFile(data_dir).read()
        config = LocalConfig.from_json(json.dumps(data["config"])) if data and "config" in data else None
        return cls(config or LocalConfig(data_dir=data_dir), progress)

    # -- up -----------------------------------------------------------------------------------

    def running(self) -> bool:
        return self.state.running_supervisor() is not None

    def check_ports(self) -> None:
        for component in self.config.components():
            if port_in_use(component.port):
                raise DevtoolsError(
                    f"port {component.port} for {component.name} is already in use",
                    f"stop what holds it (`ss -ltnp 'sport = :{component.port}'`), run `devtools down` if it is an "
                    "earlier stack, or pick other ports (--web-port, --frontend-port)",
                )

    def up(self, detach: bool, timeout: float = 120.0) -> list[ComponentStatus]:
        """Start the stack; when it already runs, change nothing and report it (idempotent)."""
        if self.running():
            self.progress("the local runtime is already running; nothing to do")
            return self.status()
        if self.state.read() is not None:
            # A supervisor that died (kill -9, a reboot) left its state: stop the children it recorded
            # before forgetting them, so none keeps a port bound.
            self.progress("cleaning up after a supervisor that is gone")
            self.down()
        self.check_ports()
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        self.install_frontend_dependencies()
        if not detach:
            Supervisor(self.config).run()
            return []
        log = open(self.config.data_dir / "supervisor.log", "ab")  # noqa: SIM115 - handed to the child
        with log:
            subprocess.Popen(
                [sys.executable, "-m", "devtools.local.supervisor", self.config.to_json()],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                cwd=str(Path(__file__).resolve().parents[2]),
            )  # fmt: skip
        return self.wait_healthy(timeout)

    def install_frontend_dependencies(self) -> None:
        """`npm ci` once, so the Vite dev server can start on a fresh checkout."""
        frontend = self.config.frontend_dir
        if not self.config.frontend_available()[0] or (frontend / "node_modules" / ".package-lock.json").exists():
            return
        self.progress("installing the frontend's npm dependencies (npm ci, once)")
        result = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=frontend, capture_output=True, text=True)
        if result.returncode != 0:
            raise DevtoolsError(
                f"npm ci failed in {frontend}: {(result.stderr or result.stdout).strip().splitlines()[-1:]}",
                "run `npm ci` there by hand to see why, or start without the frontend: --no-frontend",
            )

    def wait_healthy(self, timeout: float) -> list[ComponentStatus]:
        deadline = time.monotonic() + timeout
        statuses: list[ComponentStatus] = []
        while time.monotonic() < deadline:
            if not self.running() and self.state.read() is None and time.monotonic() > deadline - timeout + 5:
                raise DevtoolsError(
                    "the supervisor exited during start-up",
                    f"see {self.config.data_dir / 'supervisor.log'}",
                )
            statuses = self.status()
            if statuses and all(s.healthy for s in statuses):
                return statuses
            pending = ", ".join(s.name for s in statuses if not s.healthy) or "supervisor"
            self.progress(f"waiting for {pending}")
            time.sleep(0.5)
        names = ", ".join(f"{s.name} ({s.state})" for s in statuses if not s.healthy)
        raise DevtoolsError(
            f"not healthy after {timeout:.0f} s: {names}",
            f"see the logs in {self.config.data_dir / 'logs'} (`devtools logs NAME`)",
        )

    # -- down ---------------------------------------------------------------------------------

    def down(self, remove_data: bool = False) -> bool:
        """Stop the supervisor and every component; verify no process and no port is left."""
        data = self.state.read()
        pid = self.state.running_supervisor()
        was_running = pid is not None
        if pid is not None:
            self.progress(f"stopping supervisor {pid}")
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 30
            while pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
        # Children of a supervisor that was killed -9 are stopped here.
        orphans = False
        for component in (data or {}).get("components", {}).values():
            child = component.get("pid")
            if pid_alive(child):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child, signal.SIGKILL)
                    orphans = True
        self.state.remove()
        stopped_something = was_running or orphans
        busy = [c.port for c in self.config.components() if port_in_use(c.port)] if stopped_something else []
        deadline = time.monotonic() + 10
        while busy and time.monotonic() < deadline:
            time.sleep(0.2)
            busy = [p for p in busy if port_in_use(p)]
        if busy:
            raise DevtoolsError(f"ports still bound after down: {busy}", "see `ss -ltnp` for what holds them")
        if remove_data:
            import shutil

            shutil.rmtree(self.config.data_dir, ignore_errors=True)
        return was_running

    # -- status and logs ----------------------------------------------------------------------

    def status(self) -> list[ComponentStatus]:
        data = self.state.read()
        if not data or not pid_alive(data.get("supervisor_pid")):
            return []
        statuses = []
        for name, c in data.get("components", {}).items():
            alive = pid_alive(c.get("pid"))
            health = probe_json(c["url"] + c["health_path"]) if alive else None
            healthy = bool(health) and health.get("status") == "ok"
            state = c["state"] if alive or "crashed" in c["state"] else "stopped"
            statuses.append(ComponentStatus(name, c["kind"], c.get("pid"), state, c["restarts"], healthy, c["url"]))
        for name, reason in data.get("skipped", {}).items():
            statuses.append(ComponentStatus(name, name, None, "skipped", 0, True, "", reason))
        return statuses

    def stats(self) -> dict | None:
        return probe_json(f"http://127.0.0.1:{self.config.web_port}/stats")

    def log_path(self, component: str) -> Path:
        path = self.config.data_dir / "logs" / f"{component}.log"
        if not path.exists():
            known = sorted(p.stem for p in (self.config.data_dir / "logs").glob("*.log"))
            raise DevtoolsError(f"no log for {component!r}", f"known components: {', '.join(known) or 'none yet'}")
        return path

    def follow(self, path: Path, stop: Callable[[], bool] = lambda: False) -> Iterator[str]:
        with open(path, errors="replace") as f:
            f.seek(0, os.SEEK_END)
            while not stop():
                line = f.readline()
                if line:
                    yield line
                else:
                    time.sleep(0.2)
