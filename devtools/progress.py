"""Progress of long steps, shown the way kind shows it (kind pkg/internal/cli/status.go and spinner.go).

Each step gets a line of its own that ends with a check mark (or a cross) and the time it took:

     ✓ Registry kind-registry on 127.0.0.1:5001 (0.3s)
     ✓ Cluster cartridge (kindest/node:v1.33.1) (41.8s)
     • Starting trainer, web, arena, actor-0 ...
       ✓ web healthy (2.1s)

On a terminal that takes escape codes (kind's rule: a tty, no NO_COLOR, TERM not dumb) the current step's line
is a spinner that also shows what the step waits for (the why-not-yet reason of cartridge.waiting) and redraws
in place; elsewhere (CI, a pipe, a file) output is line-oriented and complete: a line when a step starts, one
when it ends, and the reason it waits for each time that changes, never a spinner.

The runtimes speak to a ``StepReporter`` through their existing progress callback, ``Callable[[str], None]``:
what they pass says what it is by its type, and is still a str to any other callback (e2e's Steps, a list):

- ``Step(title)``: a step begins (the one before ends, ✓);
- ``Done(title)``: a part of the current step is done, a line of its own with its time since the step began (each
  component healthy, each workload rolled out: parts that finish side by side, not one after the other);
- ``Waiting`` (cartridge.waiting) and ``Detail``: what the step is doing now: on the spinner, or a line when it
  changes; a Waiting's ``what`` replaces nothing, the step's title stays;
- ``Finished(note)``: the steps are over; the note (if any) is printed and the spinner stops, before another
  program takes the terminal (Tilt, the supervisor's own lines);
- any other str: a note, printed under the current step.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from rich.console import Console
from rich.live import Live
from rich.spinner import Spinner
from rich.text import Text

from devtools.logs import smart_terminal
from devtools.wait import Waiting

__all__ = ["Detail", "Done", "Finished", "Step", "StepReporter", "Waiting", "format_elapsed"]


class Step(str):
    """A step begins."""


class Done(str):
    """A part of the current step is done."""


class Detail(str):
    """What the current step is doing now (a build's `Step 3/12`), not worth a line of its own on a terminal."""


class Finished(str):
    """The steps are over: print this note (if not empty) and stop the spinner."""


def format_elapsed(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}m{secs:02d}s"


class _Line:
    """The spinner's line: the frame, the step, its time so far, and what it waits for, cut to the width."""

    def __init__(self, reporter: StepReporter) -> None:
        self.reporter = reporter
        self.spinner = Spinner("dots")

    def __rich__(self) -> Text:
        # No lock: Live draws from its own thread while holding its lock, and the reporter prints (which takes
        # Live's lock) while holding its own. A draw that sees a step change half-way is redrawn 1/8 s later.
        r = self.reporter
        title, detail, started = r.current, r.detail, r.started
        if title is None:
            return Text("")
        line = Text.assemble(
            self.spinner.render(time.monotonic()),
            " ",
            title,
            (f" ({format_elapsed(r.clock() - started)})", "dim"),
            (f"  {detail}" if detail else "", "dim"),
            no_wrap=True,
            overflow="ellipsis",
        )
        line.truncate(max(r.console.width - 1, 20), overflow="ellipsis")
        return line


class StepReporter:
    """The progress callback of `devtools up` (and `images build`): steps, their parts and what they wait for,
    on ``console`` (stderr). ``smart`` chooses the spinner (default: kind's rule for the console's stream);
    ``clock`` the time. Thread-safe: the local runtime's foreground wait reports from a thread of its own."""

    def __init__(self, console: Console, *, smart: bool | None = None, clock: Callable[[], float] = time.monotonic):
        self.console = console
        self.smart = smart_terminal(console.file) if smart is None else smart
        self.clock = clock
        self.lock = threading.RLock()
        self.current: str | None = None  # the step under way
        self.started = 0.0
        self.detail = ""  # what it waits for now
        self.failed: str | None = None  # the step that was under way when an error ended the steps
        self.live: Live | None = None

    # -- the callback --------------------------------------------------------------------------------------

    def __call__(self, message: str) -> None:
        with self.lock:
            if isinstance(message, Step):
                self.end(ok=True)
                self.current, self.started, self.detail = str(message), self.clock(), ""
                if self.smart:
                    self._start_spinner()
                else:
                    self._print(f" • {message} ...")
            elif isinstance(message, Done):
                self._mark("   ", True, str(message), self.clock() - self.started if self.current else None)
            elif isinstance(message, Waiting | Detail):
                text = message.reason if isinstance(message, Waiting) else str(message)
                if text != self.detail and not self.smart:
                    self._print(f"   {message}", style="dim")
                self.detail = text
            elif isinstance(message, Finished):
                self.finish()
                if message:
                    self._print(str(message))
            else:
                self._print(f"   {message}", style="dim")

    # -- ending --------------------------------------------------------------------------------------------

    def end(self, ok: bool = True) -> None:
        """End the current step with ✓ (or ✗) and its time; the spinner keeps going for the next one."""
        with self.lock:
            if self.current is None:
                return
            title, elapsed = self.current, self.clock() - self.started
            self.current, self.detail = None, ""
            if not ok:
                self.failed = title
            self._mark(" ", ok, title, elapsed)

    def finish(self, ok: bool = True) -> None:
        """End the current step and stop the spinner (the terminal is someone else's from here)."""
        with self.lock:
            self.end(ok)
            if self.live is not None:
                self.live.stop()
                self.live = None

    def __enter__(self) -> StepReporter:
        return self

    def __exit__(self, kind, error, traceback) -> None:
        self.finish(ok=error is None)

    # -- drawing -------------------------------------------------------------------------------------------

    def _start_spinner(self) -> None:
        if self.live is None:
            self.live = Live(_Line(self), console=self.console, transient=True, refresh_per_second=8)
            self.live.start()

    def _mark(self, indent: str, ok: bool, title: str, elapsed: float | None) -> None:
        """A finished line: the mark in colour (rich leaves colour out where the console takes none), the title
        as text, never markup, and the time."""
        line = Text(indent) + Text("✓" if ok else "✗", style="green" if ok else "red") + Text(f" {title}")
        if elapsed is not None:
            line += Text(f" ({format_elapsed(elapsed)})", style="dim")
        self.console.print(line, soft_wrap=True, highlight=False)

    def _print(self, text: str, style: str | None = None) -> None:
        self.console.print(Text(text, style=style or ""), soft_wrap=True, highlight=False)
