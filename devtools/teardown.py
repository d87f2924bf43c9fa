"""`devtools down`'s question: what would be deleted for good is listed and confirmed before anything is done.

A person at a terminal answers y or n (n by default); `--yes` answers for them. Without a terminal and without
`--yes`, nothing is stopped or deleted, and the refusal says what would have been: a script never deletes data
by surprise.
"""

from __future__ import annotations

import sys

import click
from rich.console import Console
from rich.text import Text

from devtools.errors import DevtoolsError
from devtools.runtime import DownPlan


def stdin_is_terminal() -> bool:
    """Someone can answer a question: stdin is a terminal."""
    return sys.stdin.isatty()


def confirm_deletion(plans: list[DownPlan], *, assume_yes: bool, console: Console) -> None:
    """Return when nothing would be lost, ``assume_yes`` holds or the person answers y; else a DevtoolsError
    saying that nothing was done."""
    losses = [loss for plan in plans for loss in plan.deletes]
    if not losses or assume_yes:
        return
    if not stdin_is_terminal():
        raise DevtoolsError(
            f"`devtools down` would delete {'; and '.join(losses)}; with no terminal to ask, nothing was stopped "
            "or deleted",
            "add --yes to delete without asking",
        )
    console.print("This deletes for good:")
    for loss in losses:
        console.print(Text(f"  - {loss}"), highlight=False)
    if not click.confirm("Delete?", default=False, err=True):
        raise DevtoolsError("not confirmed: nothing was stopped or deleted", "answer y to go ahead, or add --yes")
