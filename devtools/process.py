"""Running the command-line tools devtools drives (kind, kubectl, docker): one call, one kind of failure."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from devtools.errors import DevtoolsError

Runner = Callable[..., subprocess.CompletedProcess]  # run_command's signature; tests substitute a stand-in
Echo = Callable[[str], None]  # receives each line a tool prints (`devtools -v`)
Progress = Callable[[str], None]  # receives each step of a long command, for the person at the terminal


def run_command(
    args: Sequence[str],
    *,
    input: str | None = None,
    timeout: float | None = 600,
    echo: Echo | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess:
    """Run a CLI; a missing tool or a failure becomes a DevtoolsError naming the command. With ``echo`` every
    line the tool prints, on stdout or stderr, is handed to it as it comes (the result still holds all of it)."""
    try:
        if echo is None:
            result = subprocess.run(
                list(args), input=input, capture_output=True, text=True, timeout=timeout, check=False, cwd=cwd
            )
        else:
            result = _run_echoing(list(args), input, timeout, echo, cwd)
    except FileNotFoundError:
        raise DevtoolsError(f"{args[0]} is not installed", "run `devtools doctor` to see where to get it") from None
    except subprocess.TimeoutExpired:
        raise DevtoolsError(f"`{' '.join(args)}` did not finish within {timeout:.0f} s", "run it by hand") from None
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        hint = "the output is above" if echo else "run the command by hand for the full output, or add -v"
        raise DevtoolsError(
            f"`{' '.join(args[:4])}` failed: {detail[-1] if detail else f'exit code {result.returncode}'}", hint
        )
    return result


def _run_echoing(
    args: list[str], input: str | None, timeout: float | None, echo: Echo, cwd: Path | None
) -> subprocess.CompletedProcess:
    """subprocess.run's capture, read line by line while the tool runs: one thread per pipe, so neither fills up
    while the other is read, and ``echo`` gets lines in the order each stream wrote them."""
    stdin = subprocess.PIPE if input is not None else None
    captured: dict[str, list[str]] = {"stdout": [], "stderr": []}
    lock = threading.Lock()  # one line at a time reaches ``echo``

    def pump(stream, lines: list[str]) -> None:
        for line in stream:
            lines.append(line)
            with lock:
                echo(line.rstrip("\n"))

    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    with subprocess.Popen(args, stdin=stdin, text=True, cwd=cwd, **pipes) as proc:
        readers = [
            threading.Thread(target=pump, args=(proc.stdout, captured["stdout"]), daemon=True),
            threading.Thread(target=pump, args=(proc.stderr, captured["stderr"]), daemon=True),
        ]
        for reader in readers:
            reader.start()
        if input is not None:
            try:
                proc.stdin.write(input)
                proc.stdin.close()
            except BrokenPipeError:  # the tool exited without reading it all; its exit code says why
                pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        finally:
            for reader in readers:
                reader.join(5)
    return subprocess.CompletedProcess(args, proc.returncode, "".join(captured["stdout"]), "".join(captured["stderr"]))
