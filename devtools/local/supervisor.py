"""The supervisor: starts every component, restarts crashed ones with backoff, reloads on source changes.

It runs in the foreground under `devtools up` (Ctrl-C stops everything) or detached as
`python -m devtools.local.supervisor CONFIG_JSON`. Everything another terminal needs
(`devtools status`, `logs`, `down`) is in the state file it keeps current.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from .config import LocalConfig
from .state import StateFile

BACKOFF_START, BACKOFF_MAX = 1.0, 30.0
STOP_GRACE_SECONDS = 10.0
# A component that ran this long before dying is considered to have been healthy: backoff resets.
STABLE_AFTER_SECONDS = 30.0


def affected(changed: Path, source_root: Path, kinds: set[str]) -> set[str]:
    """Which component kinds must restart when ``changed`` (a path under or beside source_root) changes."""
    python_kinds = {"actor", "trainer", "web"} & kinds
    if changed.name == "pyproject.toml":
        return python_kinds
    try:
        top = changed.resolve().relative_to(source_root.resolve()).parts[0]
    except (ValueError, IndexError):
        return set()
    if top == "cartridge":  # the shared library: every Python service imports it
        return python_kinds
    return {top} & python_kinds  # actor/, trainer/, web/; frontend/ is Vite's hot module replacement


def _is_source(path: str) -> bool:
    return path.endswith((".py", "pyproject.toml")) and "__pycache__" not in path


class Supervisor:
    def __init__(self, config: LocalConfig) -> None:
        self.config = config
        self.components = {c.name: c for c in config.components()}
        self.state = StateFile(config.data_dir)
        self.logs = config.data_dir / "logs"
        self.procs: dict[str, subprocess.Popen | None] = dict.fromkeys(self.components)
        self.status: dict[str, str] = dict.fromkeys(self.components, "starting")
        self.restarts: dict[str, int] = dict.fromkeys(self.components, 0)
        self.backoff: dict[str, float] = dict.fromkeys(self.components, BACKOFF_START)
        self.start_at: dict[str, float] = dict.fromkeys(self.components, 0.0)
        self.started: dict[str, float] = dict.fromkeys(self.components, 0.0)
        self.stop_event = threading.Event()
        self.reloads: queue.Queue[tuple[set[str], str]] = queue.Queue()

    # -- lifecycle ----------------------------------------------------------------------------

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, lambda *_: self.stop_event.set())
        self.logs.mkdir(parents=True, exist_ok=True)
        skipped = {} if self.config.frontend_available()[0] else {"frontend": self.config.frontend_available()[1]}
        self.state.write_supervisor(os.getpid(), self.config, skipped)
        threading.Thread(target=self._watch_sources, name="source-watcher", daemon=True).start()
        self._say(f"supervising {', '.join(self.components)} (data in {self.config.data_dir})")
        try:
            while not self.stop_event.is_set():
                self._tick()
                self.stop_event.wait(0.1)
        finally:
            self._stop_all()
            self.state.remove()
            self._say("stopped every component")
        return 0

    def _tick(self) -> None:
        now = time.monotonic()
        changed = False
        while not self.reloads.empty():
            kinds, path = self.reloads.get()
            for name, component in self.components.items():
                if component.kind in kinds:
                    self._say(f"reloading {name}: {path} changed")
                    self._stop(name)
                    self.status[name], self.start_at[name] = "reloading", 0.0
                    self.backoff[name] = BACKOFF_START
                    changed = True
        for name in self.components:
            proc = self.procs[name]
            if proc is not None and proc.poll() is not None:
                ran = now - self.started[name]
                if ran > STABLE_AFTER_SECONDS:
                    self.backoff[name] = BACKOFF_START
                self.restarts[name] += 1
                self.procs[name] = None
                self.status[name] = f"crashed (exit {proc.returncode}), restarting in {self.backoff[name]:.0f}s"
                self._say(f"{name} exited with code {proc.returncode}; restart {self.restarts[name]} in "
                          f"{self.backoff[name]:.0f}s (log: {self.logs / (name + '.log')})")  # fmt: skip
                self.start_at[name] = now + self.backoff[name]
                self.backoff[name] = min(self.backoff[name] * 2, BACKOFF_MAX)
                changed = True
            if self.procs[name] is None and now >= self.start_at[name] and not self.stop_event.is_set():
                self._start(name)
                changed = True
        if changed:
            self._write_state()

    def _start(self, name: str) -> None:
        component = self.components[name]
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it from here
        try:
            self.procs[name] = subprocess.Popen(
                component.command,
                cwd=component.cwd,
                env={**os.environ, **component.env, "PYTHONUNBUFFERED": "1"},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: stopping it stops its children too
            )
        finally:
            log.close()
        self.started[name] = time.monotonic()
        self.status[name] = "running" if self.restarts[name] == 0 else f"running (restarted {self.restarts[name]}x)"

    def _stop(self, name: str) -> None:
        proc = self.procs[name]
        if proc is None:
            return
        self.procs[name] = None
        if proc.poll() is not None:
            return
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait(5)

    def _stop_all(self) -> None:
        self.status = dict.fromkeys(self.components, "stopping")
        procs = [(n, p) for n, p in self.procs.items() if p is not None and p.poll() is None]
        for _, proc in procs:
            _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for _, proc in procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(proc.pid, signal.SIGKILL)
                proc.wait(5)
        self.procs = dict.fromkeys(self.components)

    # -- hot reload ---------------------------------------------------------------------------

    def _watch_sources(self) -> None:
        from watchfiles import watch

        root = self.config.source_root
        paths = [str(root)]
        if (root.parent / "pyproject.toml").exists():
            paths.append(str(root.parent / "pyproject.toml"))
        kinds = {c.kind for c in self.components.values()}
        for changes in watch(*paths, stop_event=self.stop_event, debounce=200, step=50,
                             watch_filter=lambda _, path: _is_source(path)):  # fmt: skip
            for _, path in changes:
                hit = affected(Path(path), root, kinds)
                if hit:
                    self.reloads.put((hit, os.path.relpath(path, root.parent)))

    # -- reporting ----------------------------------------------------------------------------

    def _write_state(self) -> None:
        self.state.write_components(
            {
                name: {
                    "kind": c.kind,
                    "pid": self.procs[name].pid if self.procs[name] else None,
                    "port": c.port,
                    "url": c.url,
                    "health_path": c.health_path,
                    "state": self.status[name],
                    "restarts": self.restarts[name],
                    "log": str(self.logs / f"{name}.log"),
                }
                for name, c in self.components.items()
            }
        )

    @staticmethod
    def _say(message: str) -> None:
        print(f"[devtools] {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


def main() -> None:
    config = LocalConfig.from_json(sys.argv[1])
    sys.exit(Supervisor(config).run())


if __name__ == "__main__":
    main()
