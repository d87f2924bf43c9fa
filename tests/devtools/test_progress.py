"""devtools.progress: steps with a check mark and their time, the way kind shows them; a spinner with what the
step waits for on a terminal, complete lines elsewhere."""

from __future__ import annotations

import io
import re
import time

import pytest
from rich.console import Console

from devtools.progress import Detail, Done, Finished, Step, StepReporter, format_elapsed
from devtools.wait import Waiting, WaitTimeout, deadline, time_left, wait_until_ready


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def run_steps(report: StepReporter, clock: Clock) -> None:
    report(Step("Registry kind-registry on 127.0.0.1:5001"))
    report("Creating registry kind-registry")
    clock.now += 0.25
    report(Step("Starting trainer, web"))
    report(Waiting("the local runtime", "trainer (running), web (running)"))
    report(Waiting("the local runtime", "trainer (running), web (running)"))  # the same reason: no new line
    clock.now += 2.0
    report(Done("web healthy"))
    report(Waiting("the local runtime", "trainer (running)"))
    report(Detail("build of web: Step 3/12 : COPY . ."))
    clock.now += 70.0
    report(Done("trainer healthy"))
    report(Finished("web http://127.0.0.1:8080  ·  Ctrl-C stops everything"))


def test_without_a_terminal_each_step_is_a_line_when_it_starts_and_one_when_it_ends():
    out, clock = io.StringIO(), Clock()
    with StepReporter(Console(file=out, width=100), clock=clock) as report:
        run_steps(report, clock)
    assert out.getvalue().splitlines() == [
        " • Registry kind-registry on 127.0.0.1:5001 ...",
        "   Creating registry kind-registry",
        " ✓ Registry kind-registry on 127.0.0.1:5001 (0.2s)",
        " • Starting trainer, web ...",
        "   waiting for the local runtime: trainer (running), web (running)",
        "   ✓ web healthy (2.0s)",
        "   waiting for the local runtime: trainer (running)",
        "   build of web: Step 3/12 : COPY . .",
        "   ✓ trainer healthy (1m12s)",
        " ✓ Starting trainer, web (1m12s)",
        "web http://127.0.0.1:8080  ·  Ctrl-C stops everything",
    ]


def test_on_a_terminal_the_step_spins_with_what_it_waits_for_and_ends_as_a_line_of_its_own(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    out, clock = Terminal(), Clock()
    report = StepReporter(Console(file=out, force_terminal=True, width=100, color_system="standard"), clock=clock)
    assert report.smart
    report(Step("Starting trainer, web [x]"))
    report(Waiting("the local runtime", "trainer (running, /health not ok yet)"))
    clock.now += 3
    report.live.refresh()
    drawn = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue())  # the text without its colours
    assert "Starting trainer, web [x] (3.0s)  trainer (running, /health not ok yet)" in drawn
    assert any(frame in drawn for frame in "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"), "no spinner frame"
    assert "waiting for the local runtime" not in drawn, "the reason is on the spinner, not a line of its own"
    report(Done("web healthy"))
    report(Finished())
    assert report.live is None, "the spinner still runs after the steps"
    after = out.getvalue()
    assert "\x1b[32m✓\x1b[0m web healthy" in after and "\x1b[32m✓\x1b[0m Starting trainer, web [x]" in after


def test_an_error_ends_the_step_with_a_cross_and_remembers_which_step_it_was():
    out, clock = io.StringIO(), Clock()
    with pytest.raises(RuntimeError), StepReporter(Console(file=out, width=100), clock=clock) as report:
        report(Step("Rolling out namespace cartridge"))
        clock.now += 5
        raise RuntimeError("boom")
    assert out.getvalue().splitlines()[-1] == " ✗ Rolling out namespace cartridge (5.0s)"
    assert report.failed == "Rolling out namespace cartridge"


@pytest.mark.parametrize(("seconds", "shown"), [(0.04, "0.0s"), (59.94, "59.9s"), (60.4, "1m00s"), (3725, "62m05s")])
def test_elapsed_times(seconds, shown):
    assert format_elapsed(seconds) == shown


def test_inside_a_deadline_every_wait_is_bounded_by_the_time_left_and_says_so():
    assert time_left() is None
    started = time.monotonic()
    with deadline(0.3), pytest.raises(WaitTimeout) as raised:
        assert 0 < time_left() <= 0.3
        wait_until_ready("the web", lambda: "no answer", 30, interval=0.05)
    assert time.monotonic() - started < 5, "the wait kept its own 30 s bound"
    assert (raised.value.deadline, raised.value.what, raised.value.reason) == (0.3, "the web", "no answer")
    with pytest.raises(WaitTimeout) as raised:
        wait_until_ready("the web", lambda: "no answer", 0.1, interval=0.05)
    assert raised.value.deadline is None and time_left() is None
