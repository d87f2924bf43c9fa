"""The state file (<data dir>/state.json): what runs, as pids, ports, URLs and states.

Written atomically by the supervisor; read by `status`, `logs` and `down` in other terminals.
"""

from __future__ import annotations

import json
import os
import threading
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


class StateFile:
    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / "state.json"
        self._lock = threading.Lock()

    def read(self) -> dict | None:
        try:
            return json.loads(self.path.read_text())
        except (FileNotFoundError, ValueError):
            return None

    def _write(self, data: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(self.path, json.dumps(data, indent=2).encode())

    def write_supervisor(self, pid: int, config: LocalConfig, skipped: dict[str, str]) -> None:
        with self._lock:
            self._write({"supervisor_pid": pid, "config": json.loads(config.to_json()), "skipped": skipped,
                         "components": {}})  # fmt: skip

    def write_components(self, components: dict) -> None:
        with self._lock:
            data = self.read() or {}
            data["components"] = components
            self._write(data)

    def remove(self) -> None:
        with self._lock:
            self.path.unlink(missing_ok=True)

    def running_supervisor(self) -> int | None:
        """The live supervisor's pid, or None (a stale file of a dead supervisor counts as none)."""
        data = self.read()
        pid = data.get("supervisor_pid") if data else None
        return pid if pid_alive(pid) else None
