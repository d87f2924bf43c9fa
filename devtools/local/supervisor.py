"""The supervisor: starts every component, restarts crashed ones with backoff, reloads on source changes.

It runs in the foreground under `devtools up` (Ctrl-C stops everything) or detached as
`python -m devtools.local.supervisor CONFIG_JSON`. Everything another terminal needs
(`devtools status`, `logs`, `down`) is in the state file it keeps current, and in the logs it writes: each
component's output, every line stamped with its time (devtools.local.logs), and a line of its own in that log
when the component exits or is reloaded, as `docker compose logs` shows "exited with code". The supervisor
reads the components' output itself (to stamp it), so a component that outlives a supervisor killed -9 has no
reader left: its next line fails (EPIPE) and it usually exits; the next `up` stops such orphans in any case.
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
from dataclasses import dataclass
from pathlib import Path

from .config import PYTHON_KINDS, Component, LocalConfig
from .logs import StampedFile, copy_stamped
from .state import ComponentRecord, StateFile, process_start

BACKOFF_START, BACKOFF_MAX = 1.0, 30.0
STOP_GRACE_SECONDS = 10.0
# A component that ran this long before dying is considered to have been healthy: backoff resets.
STABLE_AFTER_SECONDS = 30.0


def affected(changed: Path, source_root: Path, kinds: set[str]) -> set[str]:
    """Which component kinds must restart when ``changed`` (a path under or beside source_root) changes."""
    python_kinds = set(PYTHON_KINDS) & kinds
    if changed.name == "pyproject.toml":
        return python_kinds
    try:
        top = changed.resolve().relative_to(source_root.resolve()).parts[0]
    except (ValueError, IndexError):
        return set()
    if top == "cartridge":  # the shared library: every Python service imports it
        return python_kinds
    return {top} & python_kinds  # actor/, trainer/, web/, arena/; frontend/ is Vite's hot module replacement


def _is_source(path: str) -> bool:
    return path.endswith((".py", "pyproject.toml")) and "__pycache__" not in path


@dataclass
class Supervised:
    """One component as the supervisor tracks it: what the state file says of it, and its process."""

    spec: Component
    record: ComponentRecord
    proc: subprocess.Popen | None = None
    backoff: float = BACKOFF_START
    start_at: float = 0.0  # monotonic time of the next start
    started: float = 0.0  # monotonic time of the last start
    copier: threading.Thread | None = None  # copies the process's output into its log, stamped


class Supervisor:
    def __init__(self, config: LocalConfig) -> None:
        self.config = config
        self.logs = config.data_dir / "logs"
        self.components = {c.name: Supervised(c, self._record(c)) for c in config.components()}
        self.state = StateFile(config.data_dir)
        self.stop_event = threading.Event()
        self.reloads: queue.Queue[tuple[set[str], str]] = queue.Queue()

    def _record(self, c: Component) -> ComponentRecord:
        return ComponentRecord(c.name, c.kind, c.port, c.url, c.health_path, str(self.logs / f"{c.name}.log"))

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
            for name, tracked in self.components.items():
                if tracked.spec.kind in kinds:
                    self._say(f"reloading {name}: {path} changed")
                    self._stop(tracked)
                    self._note(tracked, f"reloaded: {path} changed")
                    tracked.record.state, tracked.start_at, tracked.backoff = "reloading", 0.0, BACKOFF_START
                    changed = True
        for name, tracked in self.components.items():
            proc, record = tracked.proc, tracked.record
            if proc is not None and proc.poll() is not None:
                if now - tracked.started > STABLE_AFTER_SECONDS:
                    tracked.backoff = BACKOFF_START
                record.restarts += 1
                tracked.proc, record.pid, record.start = None, None, None
                record.state = f"crashed (exit {proc.returncode}), restarting in {tracked.backoff:.0f}s"
                self._say(
                    f"{name} exited with code {proc.returncode}; restart {record.restarts} in "
                    f"{tracked.backoff:.0f}s (log: {record.log})"
                )
                self._note(
                    tracked, f"exited with code {proc.returncode}; restart {record.restarts} in {tracked.backoff:.0f}s"
                )
                tracked.start_at = now + tracked.backoff
                tracked.backoff = min(tracked.backoff * 2, BACKOFF_MAX)
                changed = True
            if tracked.proc is None and now >= tracked.start_at and not self.stop_event.is_set():
                self._start(tracked)
                changed = True
        if changed:
            self._write_state()

    def _start(self, tracked: Supervised) -> None:
        component, record = tracked.spec, tracked.record
        tracked.proc = subprocess.Popen(
            component.command,
            cwd=component.cwd,
            env={**os.environ, **component.env, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: stopping it stops its children too
        )
        # Read in this process, not the component's group: a kill -9 of the group loses no line it wrote.
        tracked.copier = threading.Thread(
            target=copy_stamped, args=(tracked.proc.stdout, Path(record.log)), name=f"log-{component.name}", daemon=True
        )
        tracked.copier.start()
        tracked.started = time.monotonic()
        record.pid, record.start = tracked.proc.pid, process_start(tracked.proc.pid)
        record.state = "running" if record.restarts == 0 else f"running (restarted {record.restarts}x)"

    def _stop(self, tracked: Supervised) -> None:
        proc = tracked.proc
        if proc is None:
            return
        tracked.proc = None
        if proc.poll() is not None:
            return
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait(5)

    @staticmethod
    def _note(tracked: Supervised, message: str) -> None:
        """A line of the supervisor's own in the component's log, after the last lines of the process it is about
        (their copier ends with the pipe; a child that keeps the pipe open is not waited for long)."""
        if tracked.copier is not None:
            tracked.copier.join(1)
        log = StampedFile(Path(tracked.record.log))
        try:
            log.write(f"[devtools] {tracked.spec.name} {message}".encode())
        finally:
            log.close()

    def _stop_all(self) -> None:
        procs = [t.proc for t in self.components.values() if t.proc is not None and t.proc.poll() is None]
        for tracked in self.components.values():
            tracked.record.state, tracked.proc = "stopping", None
        for proc in procs:
            _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for proc in procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(proc.pid, signal.SIGKILL)
                proc.wait(5)
        for tracked in self.components.values():  # their last lines reach the logs before the supervisor goes
            if tracked.copier is not None:
                tracked.copier.join(1)

    # -- hot reload ---------------------------------------------------------------------------

    def _watch_sources(self) -> None:
        from watchfiles import watch

        root = self.config.source_root
        paths = [str(root)]
        if (root.parent / "pyproject.toml").exists():
            paths.append(str(root.parent / "pyproject.toml"))
        kinds = {t.spec.kind for t in self.components.values()}
        for changes in watch(
            *paths, stop_event=self.stop_event, debounce=200, step=50, watch_filter=lambda _, path: _is_source(path)
        ):
            for _, path in changes:
                hit = affected(Path(path), root, kinds)
                if hit:
                    self.reloads.put((hit, os.path.relpath(path, root.parent)))

    # -- reporting ----------------------------------------------------------------------------

    def _write_state(self) -> None:
        self.state.write_components({name: tracked.record for name, tracked in self.components.items()})

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
