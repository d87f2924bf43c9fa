"""LocalRuntime: up (foreground or detached), down, status and logs over the supervisor and its state file."""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from devtools.errors import DevtoolsError
from devtools.frontend_deps import installed_from_lock, npm_ci
from devtools.http import port_in_use, probe_json
from devtools.logs import LogQuery, LogStream
from devtools.paths import REPO_ROOT
from devtools.progress import Done, Finished, Step
from devtools.runtime import DownPlan, Phase, StackView, health_cell, stats_caption
from devtools.wait import WaitTimeout, wait_until_ready

from . import prometheus
from .config import LocalConfig
from .logs import LocalLogs
from .state import StateFile
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
    """The Runtime (devtools.runtime) of every service as a supervised process on this machine."""

    name = "local"

    def __init__(
        self, config: LocalConfig, progress: Callable[[str], None] = lambda msg: None, detach: bool = True
    ) -> None:
        self.config = config
        self.state = StateFile(config.data_dir)
        self.progress = progress
        self.detach = detach

    def up_phases(self) -> list[Phase]:
        """Starting (detached, or the supervisor in this terminal), after a line saying so when the frontend is
        skipped; the URLs come once the stack is healthy (``urls``), the frontend's only when something serves it."""
        frontend, why_not = self.config.frontend_available()
        skipped = self.config.frontend and not frontend  # not said when --no-frontend asked for it
        said = [Phase(f"frontend skipped: {why_not}", lambda: None, spinner=False)] if skipped else []

        def foreground() -> None:  # the supervisor runs in this terminal until Ctrl-C: no spinner over it
            self.up(detach=False)

        def start() -> StackView:
            self.up(detach=True)
            return self.view()

        return [*said, Phase("starting the local runtime", foreground if not self.detach else start)]

    def urls(self) -> str:
        """Where the stack answers, as `up` says once it is healthy: the frontend only when it runs."""
        urls = f"web http://127.0.0.1:{self.config.web_port}"
        if self.config.frontend_available()[0]:
            urls += f"  ·  frontend http://127.0.0.1:{self.config.frontend_port}"
        if self.config.monitoring:
            urls += f"  ·  prometheus http://127.0.0.1:{self.config.prometheus_port}"
        return urls

    def host_ports(self) -> dict[int, str]:
        """The ports of 127.0.0.1 this configuration binds, by component (`devtools doctor` checks them)."""
        return {c.port: c.name for c in self.config.components()}

    @classmethod
    def attach(cls, data_dir: Path, progress: Callable[[str], None] = lambda msg: None) -> LocalRuntime:
        """The runtime as `up` configured it (ports, actors), read from the state file in ``data_dir``."""
        record = StateFile(data_dir).read()
        config = LocalConfig.from_json(json.dumps(record.config)) if record is not None else None
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

    def up(self, detach: bool = True, timeout: float = 120.0) -> list[ComponentStatus]:
        """Start the stack and wait until every component is healthy (at most ``timeout`` seconds); when it already
        runs, change nothing and report it (idempotent). Without ``detach`` the supervisor runs here until Ctrl-C
        (or until the wait runs out: then it stops everything and raises)."""
        if self.running():
            self.progress("the local runtime is already running; nothing to do")
            return self.status()
        if self.state.read() is not None:
            # A supervisor that died (kill -9, a reboot) left its state: stop the children it recorded
            # before forgetting them, so none keeps a port bound.
            self.progress(Step("Cleaning up after a supervisor that is gone"))
            self.down()
        if self.config.monitoring:
            prometheus.require()
        self.check_ports()
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        if self.config.monitoring:
            prometheus.write_files(self.config.data_dir, {c.name: (c.kind, c.port) for c in self.config.components()})
        self.install_frontend_dependencies()
        self.progress(Step(f"Starting {', '.join(c.name for c in self.config.components())}"))
        if not detach:
            return self._supervise_here(timeout)
        log = open(self.config.data_dir / "supervisor.log", "ab")  # noqa: SIM115 - handed to the child
        with log:
            subprocess.Popen(
                [sys.executable, "-m", "devtools.local.supervisor", self.config.to_json()],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=str(REPO_ROOT),
            )
        statuses = self.wait_healthy(timeout)
        self.progress(Finished())
        return statuses

    def _supervise_here(self, timeout: float) -> list[ComponentStatus]:
        """The supervisor in this process (its signal handlers need the main thread); a thread waits until the
        stack is healthy and reports it, or stops the supervisor when the wait runs out."""
        supervisor = Supervisor(self.config)
        failed: list[BaseException] = []
        urls = self.urls()

        healthy = threading.Event()

        def watch() -> None:
            try:
                self.wait_healthy(timeout)
                self.progress(Finished(f"{urls}  ·  Ctrl-C stops everything"))
                healthy.set()
            except BaseException as exc:  # handed to the main thread, which raises it
                failed.append(exc)
                supervisor.stop_event.set()

        # The same context: `up --timeout`'s deadline (devtools.wait) bounds the wait in that thread too.
        threading.Thread(target=contextvars.copy_context().run, args=(watch,), name="up-wait", daemon=True).start()
        supervisor.run()
        if failed:
            raise failed[0]
        if not healthy.is_set():  # Ctrl-C before the stack was up: the step did not finish
            raise KeyboardInterrupt
        return []

    def install_frontend_dependencies(self) -> None:
        """`npm ci` on a fresh checkout and whenever package-lock.json changed since (devtools.frontend_deps), so
        the Vite dev server starts with what the lock says."""
        frontend = self.config.frontend_dir
        if not self.config.frontend_available()[0] or installed_from_lock(frontend):
            return
        self.progress(Step("Installing the frontend's npm dependencies (npm ci: package-lock.json is new here)"))
        result = npm_ci(frontend)
        if result.returncode != 0:
            raise DevtoolsError(
                f"npm ci failed in {frontend}: {(result.stderr or result.stdout).strip().splitlines()[-1:]}",
                "run `npm ci` there by hand to see why, or start without the frontend: --no-frontend",
            )

    def wait_healthy(self, timeout: float) -> list[ComponentStatus]:
        started = time.monotonic()
        statuses: list[ComponentStatus] = []
        # The supervisor records itself (and the skipped frontend) before its first tick records the components:
        # healthy means every configured component is there and healthy, not every one recorded so far.
        expected = [c.name for c in self.config.components()]  # in start order, for the message

        healthy: set[str] = set()

        def why_not() -> str | None:
            if not self.running() and self.state.read() is None and time.monotonic() > started + 5:
                raise DevtoolsError(
                    "the supervisor exited during start-up",
                    f"see {self.config.data_dir / 'supervisor.log'}",
                )
            statuses[:] = self.status()
            for s in statuses:  # each component's own line, as it becomes healthy
                if s.healthy and s.name not in healthy and s.state != "skipped":
                    healthy.add(s.name)
                    self.progress(Done(f"{s.name} healthy"))
            listed = {s.name for s in statuses}
            missing = [name for name in expected if name not in listed]
            if not missing and all(s.healthy for s in statuses):
                return None
            unhealthy = [f"{s.name} ({s.state}, /health not ok yet)" for s in statuses if not s.healthy]
            return ", ".join([*(f"{name} (not started)" for name in missing), *unhealthy]) or "supervisor"

        hint = f"see the logs in {self.config.data_dir / 'logs'} (`devtools logs NAME`)"
        wait_until_ready("the local runtime", why_not, timeout, hint=hint, progress=self.progress, interval=0.5)
        return statuses

    # -- down ---------------------------------------------------------------------------------

    def down_plan(self, everything: bool = False) -> DownPlan:
        """What down(everything) would stop and delete here."""
        record = self.state.read()
        stops: tuple[str, ...] = ()
        if record is not None and record.alive:
            stops = (f"the local runtime (supervisor {record.pid} and its {len(record.components)} processes)",)
        elif record is not None and any(c.alive for c in record.components.values()):
            stops = ("the processes a stopped supervisor of the local runtime left running",)
        elif record is not None:
            stops = ("the local runtime's state from a supervisor that is gone",)
        data = self.config.data_dir
        deletes = (f"{data}: the local replay buffer, models, checkpoints and logs",) if everything else ()
        return DownPlan(self.name, stops, deletes if data.exists() else ())

    def down(self, everything: bool = False) -> bool:
        """Stop the supervisor and every component; verify no process and no port is left. With
        ``everything`` the data directory goes too. True when something was running. A recorded pid is
        signalled only while its process is still the one recorded (same start time): never a recycled pid."""
        record = self.state.read()
        was_running = record is not None and record.alive
        if was_running:
            pid = record.pid
            self.progress(f"stopping supervisor {pid}")
            os.kill(pid, signal.SIGTERM)
            try:
                wait_until_ready(
                    f"supervisor {pid}'s exit", lambda: "still running" if record.alive else None, 30, interval=0.1
                )
            except WaitTimeout:
                os.kill(pid, signal.SIGKILL)
        # Children of a supervisor that was killed -9 are stopped here.
        orphans = False
        for component in record.components.values() if record is not None else ():
            if component.alive:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(component.pid, signal.SIGKILL)
                    orphans = True
        self.state.remove()
        stopped_something = was_running or orphans
        busy = [c.port for c in self.config.components() if port_in_use(c.port)] if stopped_something else []

        def still_bound() -> str | None:
            busy[:] = [p for p in busy if port_in_use(p)]
            return f"still bound: {busy}" if busy else None

        hint = "see `ss -ltnp` for what holds them"
        wait_until_ready("the stopped stack's ports", still_bound, 10, hint=hint, interval=0.2)
        if everything:
            import shutil

            shutil.rmtree(self.config.data_dir, ignore_errors=True)
        return was_running

    # -- status and logs ----------------------------------------------------------------------

    def status(self) -> list[ComponentStatus]:
        record = self.state.read()
        if record is None or not record.alive:
            return []
        statuses = []
        for name, c in record.components.items():
            alive = c.alive
            health = probe_json(c.url + c.health_path) if alive else None
            healthy = bool(health) and health.get("status") == "ok"
            state = c.state if alive or "crashed" in c.state else "stopped"
            statuses.append(ComponentStatus(name, c.kind, c.pid, state, c.restarts, healthy, c.url))
        for name, reason in record.skipped.items():
            statuses.append(ComponentStatus(name, name, None, "skipped", 0, True, "", reason))
        return statuses

    def stats(self) -> dict | None:
        return probe_json(f"http://127.0.0.1:{self.config.web_port}/stats")

    def view(self) -> StackView:
        running = self.running()
        # Not running: no /stats either, even if something else answers on the configured web port.
        statuses, stats = self.status(), self.stats() if running else None
        # Healthy: every component the configuration runs is listed (a skipped one with its reason) and healthy.
        listed = {s.name for s in statuses}
        complete = all(c.name in listed for c in self.config.components())
        rows = [
            (
                s.name,
                str(s.pid or ""),
                s.state if not s.detail else f"{s.state}: {s.detail}",
                str(s.restarts),
                "[dim]—[/]" if s.state == "skipped" else health_cell(s.healthy),
                s.url,
            )
            for s in statuses
        ]
        return StackView(
            "Cartridge (local runtime)",
            ("component", "pid", "state", "restarts", "health", "url"),
            rows,
            stats_caption(stats),
            {"runtime": self.name, "components": [s.__dict__ for s in statuses], "stats": stats},
            running=running,
            healthy=running and complete and all(s.healthy for s in statuses),
        )

    def logs(self, query: LogQuery) -> LogStream:
        """The components' logs (devtools.local.logs): the last lines as one timeline, then new lines with
        ``query.follow``, those of components that start later too."""
        if query.previous:
            raise DevtoolsError(
                "--previous is for the kind runtime: a local component's runs all go to one log",
                "the lines before a restart are those above its `[devtools] NAME exited with code` line",
            )
        logs = LocalLogs(self.config.data_dir / "logs")
        configured = [c.name for c in self.config.components()]
        known = list(query.components) or [*configured, *(n for n in logs.names() if n not in configured)]
        return LogStream(known, logs.lines(query))
