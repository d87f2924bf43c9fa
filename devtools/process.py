"""Running the command-line tools devtools drives (kind, kubectl, docker): one call, one kind of failure."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence

from devtools.errors import DevtoolsError

Runner = Callable[..., subprocess.CompletedProcess]  # run_command's signature; tests substitute a stand-in


def run_command(args: Sequence[str], *, input: str | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run a CLI; a missing tool or a failure becomes a DevtoolsError naming the command."""
    try:
        result = subprocess.run(list(args), input=input, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise DevtoolsError(f"{args[0]} is not installed", "run `devtools doctor` to see where to get it") from None
    except subprocess.TimeoutExpired:
        raise DevtoolsError(f"`{' '.join(args)}` did not finish within {timeout:.0f} s", "run it by hand") from None
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise DevtoolsError(
            f"`{' '.join(args[:4])}` failed: {detail[-1] if detail else f'exit code {result.returncode}'}",
            "run the command by hand for the full output",
        )
    return result
