"""The state file (<data dir>/state.json): one typed record for the supervisor and one per component.

Written atomically by the supervisor; read by `status`, `logs` and `down` in other terminals. A pid in it
is only trusted together with its process's start time: after a reboot or a long time the kernel may
have given that pid to an unrelated process, which `down` and `up` must never signal.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cartridge.fsutil import write_atomically

from .config import LocalConfig


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped) is not alive for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True


def process_start(pid: int | None) -> int | None:
    """When the process started, in clock ticks since boot (/proc/<pid>/stat field 22); None if none runs.
    Together with the pid it names one process: a recycled pid has a later start."""
    if not pid:
        return None
    try:
        with open(f"/proc/{pid}/stat") as f:
            # The command name (field 2) may hold spaces and parentheses: split after its closing ")".
            return int(f.read().rsplit(") ", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def same_process(pid: int | None, start: int | None) -> bool:
    """``pid`` is alive and is still the process that started at ``start`` (not a recycled pid)."""
    return pid_alive(pid) and start is not None and process_start(pid) == start


@dataclass
class ComponentRecord:
    name: str
    kind: str  # actor | trainer | web | frontend
    port: int
    url: str
    health_path: str
    log: str
    pid: int | None = None
    start: int | None = None  # process_start(pid) when it was launched
    state: str = "starting"
    restarts: int = 0

    @property
    def alive(self) -> bool:
        return same_process(self.pid, self.start)


@dataclass
class SupervisorRecord:
    pid: int
    start: int | None
    config: dict
    skipped: dict[str, str] = field(default_factory=dict)
    components: dict[str, ComponentRecord] = field(default_factory=dict)

    @property
    def alive(self) -> bool:
        return same_process(self.pid, self.start)

    @classmethod
    def from_json(cls, data: dict) -> SupervisorRecord:
        components = {name: ComponentRecord(**c) for name, c in data.get("components", {}).items()}
        return cls(data["pid"], data.get("start"), data["config"], data.get("skipped", {}), components)


class StateFile:
    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / "state.json"
        self._lock = threading.Lock()

    def read(self) -> SupervisorRecord | None:
        """The record, or None when there is none or it is not one we can read (an older format)."""
        try:
            return SupervisorRecord.from_json(json.loads(self.path.read_text()))
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return None

    def _write(self, record: SupervisorRecord) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(self.path, json.dumps(asdict(record), indent=2).encode())

    def write_supervisor(self, pid: int, config: LocalConfig, skipped: dict[str, str]) -> None:
        with self._lock:
            self._write(SupervisorRecord(pid, process_start(pid), json.loads(config.to_json()), skipped))

    def write_components(self, components: dict[str, ComponentRecord]) -> None:
        with self._lock:
            record = self.read()
            if record is not None:
                record.components = components
                self._write(record)

    def remove(self) -> None:
        with self._lock:
            self.path.unlink(missing_ok=True)

    def running_supervisor(self) -> int | None:
        """The live supervisor's pid, or None (a stale file, or a pid now used by another process)."""
        record = self.read()
        return record.pid if record is not None and record.alive else None
