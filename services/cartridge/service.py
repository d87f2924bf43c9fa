"""What every service process shares: signal handling and one-line start-up errors.

Expected failures (bad configuration, unreachable database or store, taken
port) end the process with one clear sentence on stderr and a non-zero exit
code, never a traceback.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable

from .modelstore import ModelStoreUnavailable
from .replay import ReplayUnavailable
from .settings import SettingsError

EXIT_CONFIG = 2
EXIT_UNAVAILABLE = 3


class StopFlag:
    """Set by SIGTERM/SIGINT; long loops check it between units of work."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.signal_name: str | None = None

    def install(self) -> StopFlag:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: object) -> None:
        self.signal_name = signal.Signals(signum).name
        self._event.set()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        return self._event.wait(seconds)


def run_main(service: str, body: Callable[[], int | None]) -> int:
    """Run a service body, turning expected failures into one line and an exit code."""
    try:
        return body() or 0
    except SettingsError as exc:
        print(f"{service}: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except (ReplayUnavailable, ModelStoreUnavailable) as exc:
        print(f"{service}: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except OSError as exc:
        if exc.errno is not None and "cannot listen" in str(exc):
            print(f"{service}: {exc}", file=sys.stderr)
            return EXIT_UNAVAILABLE
        raise
