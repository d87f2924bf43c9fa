"""A test run started in the background of a script (`.ci/run &`) still Ctrl-Cs the processes it starts."""

from __future__ import annotations

import subprocess
import sys

import pytest

from devtools.paths import REPO_ROOT

# What a process started by the run sees: is SIGINT Python's KeyboardInterrupt handler (not ignored)?
CHILD = "import signal; print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)"


@pytest.mark.parametrize("restore", [False, True])
def test_a_run_started_as_a_background_command_gives_its_processes_ctrl_c_back(restore):
    run = (
        f"import subprocess, sys; {'from testkit.support import restore_sigint; restore_sigint(); ' if restore else ''}"
    )
    run += f"print(subprocess.run([sys.executable, '-c', {CHILD!r}], capture_output=True, text=True).stdout.strip())"
    # A non-interactive sh starts `cmd &` with SIGINT ignored, as a script that backgrounds .ci/run would.
    out = subprocess.run(
        ["sh", "-c", f'"{sys.executable}" -c "$RUN" & wait'],
        env={"RUN": run, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO_ROOT,
    )
    assert out.returncode == 0, out.stderr
    # Without restore_sigint the child inherits the ignored signal: the case the conftests guard against.
    assert out.stdout.strip() == str(restore)
