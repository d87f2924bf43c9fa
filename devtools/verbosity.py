"""How much devtools says, chosen once per invocation by `-q` or `-v` and handed to what needs it.

- quiet (`-q`): errors only. Notes and progress go; what a command is asked for (a status table, log lines,
  a doctor report, built image names) stays on stdout, as kind's and kubectl's `-q` keep a command's answer.
- normal: notes and progress on stderr; a failing tool's last line of output in the error.
- verbose (`-v`): also every line kind, docker and kubectl print, as they print it, instead of only the last
  line of stderr when they fail.

The CLI keeps one Reporter in click's context object (``ctx.obj``); runtimes get its ``progress`` and ``echo``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console
from rich.text import Text

from devtools.process import Echo


class Verbosity(enum.IntEnum):
    QUIET = 0
    NORMAL = 1
    VERBOSE = 2


@dataclass(frozen=True)
class Reporter:
    verbosity: Verbosity
    console: Console  # stderr
    show_progress: Callable[[str], None]  # how a step is drawn (the CLI's spinner, or a line without a terminal)

    @property
    def quiet(self) -> bool:
        return self.verbosity is Verbosity.QUIET

    @property
    def verbose(self) -> bool:
        return self.verbosity is Verbosity.VERBOSE

    def note(self, text: str) -> None:
        """A line for the person at the terminal (rich markup allowed): not with -q. Never broken by devtools:
        the terminal wraps it, and a log or a pipe keeps it as one line."""
        if not self.quiet:
            self.console.print(text, soft_wrap=True)

    def progress(self, message: str) -> None:
        """A step of a long command: not with -q."""
        if not self.quiet:
            self.show_progress(message)

    def quiet_or(self, progress: Callable[[str], None]) -> Callable[[str], None]:
        """``progress`` itself, or with -q a callback that says nothing."""
        return (lambda message: None) if self.quiet else progress

    def tool_line(self, line: str) -> None:
        """A line a tool printed, as text: a tool's `[...]` is not rich markup."""
        self.console.print(Text(line, style="dim"), highlight=False, soft_wrap=True)

    @property
    def echo(self) -> Echo | None:
        """Where the lines of kind, docker and kubectl go: with -v to the terminal as they come, else nowhere
        (run_command keeps them for its error message)."""
        return self.tool_line if self.verbose else None
