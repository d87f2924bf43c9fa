"""What every service process shares: signal handling and one-line start-up errors.

Expected failures (bad configuration, unreachable database or store, taken
port) end the process with one clear sentence on stderr and a non-zero exit
code, never a traceback.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path

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


def lower_priority(nice: int) -> int:
    """Raise every thread of this process to niceness ``nice`` (a thread already nicer keeps its own) and return
    the calling thread's niceness after. On Linux a nice value belongs to a thread, not the process (setpriority(2),
    "BUGS": the process ID is a thread ID there), and a new thread inherits its creator's: threads started before
    this call (numpy's OpenBLAS pool, at import) are each set by their /proc/self/task ID. Raising one's own
    niceness needs no privilege, so this never fails for want of one."""
    tasks = Path("/proc/self/task")
    tids = [int(tid) for tid in os.listdir(tasks)] if tasks.is_dir() else [0]
    for tid in tids:
        with contextlib.suppress(ProcessLookupError):  # a thread that ended meanwhile
            if os.getpriority(os.PRIO_PROCESS, tid) < nice:
                os.setpriority(os.PRIO_PROCESS, tid, nice)
    return os.getpriority(os.PRIO_PROCESS, 0)


def run_main(service: str, body: Callable[[], int | None]) -> int:
    """Run a service body, turning expected failures into one line and an exit code.

    With CARTRIDGE_RELOAD=1 (set by the Tiltfile for live_update) the body runs in a child process
    that is restarted whenever a Python source of the shared library or of this service changes.
    """
    if os.environ.get("CARTRIDGE_RELOAD") == "1":
        return _run_reloading(service, body)
    return _run_once(service, body)


def _run_once(service: str, body: Callable[[], int | None]) -> int:
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


def _run_reloading(service: str, body: Callable[[], int | None]) -> int:
    from watchfiles import PythonFilter, run_process

    library = Path(__file__).resolve().parent
    own_package = Path(sys.modules[body.__module__].__file__).resolve().parent
    # SIGTERM (Kubernetes stopping the pod) must stop the child too: turn it into the
    # KeyboardInterrupt that run_process handles by terminating its process.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    print(f"{service}: reloading on changes under {library} and {own_package}", file=sys.stderr)
    with contextlib.suppress(KeyboardInterrupt):
        run_process(library, own_package, target=_reload_target, args=(service, body), watch_filter=PythonFilter())
    return 0


def _reload_target(service: str, body: Callable[[], int | None]) -> None:
    sys.exit(_run_once(service, body))
