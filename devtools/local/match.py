"""`devtools match` on the local runtime: `python -m cartridge_arena.match` as a process of this machine."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

from devtools.match_run import MODULE, MatchRequest, log_line, recorded, result_from_lines
from devtools.process import Progress

from .config import LocalConfig


class LocalMatch:
    """The match process with the environment the local runtime gives its arena (its model store, its database,
    its small-stack settings), whether or not the stack runs now: the store and the database are files."""

    name = "local"

    def __init__(self, config: LocalConfig) -> None:
        self.config = config
        (arena,) = [c for c in config.components() if c.kind == "arena"]
        self.cwd = arena.cwd
        # JSON log lines, as in the cluster: log_line shows each as its event and fields, one short line a game.
        self.env = arena.env | {"LOG_FORMAT": "json"}

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", MODULE, *args]

    def play(self, request: MatchRequest, progress: Progress) -> dict:
        proc = subprocess.Popen(
            self.command(*request.play_args()),
            env=self.env,
            cwd=self.cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        # The log (stderr) is shown as it comes; stdout holds the one answer line.
        shown = threading.Thread(target=lambda: [progress(log_line(line)) for line in proc.stderr], daemon=True)
        shown.start()
        try:
            lines = proc.stdout.read().splitlines()
            proc.wait()
        except KeyboardInterrupt:
            proc.terminate()  # the match stops between games and reports nothing
            proc.wait(10)
            raise
        shown.join(5)
        return result_from_lines(lines, f"its log above (`{MODULE} play` in {self.config.data_dir})")

    def record(self, result: dict) -> dict:
        done = subprocess.run(
            self.command("record"),
            env=self.env,
            cwd=self.cwd,
            input=json.dumps(result),
            capture_output=True,
            text=True,
            timeout=120,
        )
        return recorded(done.stdout.splitlines(), done.stderr)
