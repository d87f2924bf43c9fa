"""What every runtime of `devtools` offers, so the CLI only parses options and picks one.

A runtime (devtools.local.LocalRuntime, devtools.kind.runtime.KindRuntime) brings the stack up as a
sequence of phases, shows itself as a StackView (the status table, its caption, and the same as data for
`status --output`), streams its logs (devtools.logs), and takes itself down. The phases say whether a spinner may
run while they do: a phase that hands the terminal to another program (Tilt, the foreground supervisor) says no.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from devtools.exit_codes import ExitCode
from devtools.logs import LogQuery, LogStream


@dataclass(frozen=True)
class Phase:
    what: str  # printed before a phase that owns the terminal (the others report their own steps)
    run: Callable[[], StackView | None]
    spinner: bool = True


@dataclass(frozen=True)
class StackView:
    title: str
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]]  # may hold rich markup (colours of health)
    caption: str | None = None
    data: dict = field(default_factory=dict)  # the same, machine-readable; "runtime" first (see document)
    running: bool = False  # any component of the stack runs
    healthy: bool = False  # it runs, and every component it should run is there and healthy (ready)

    @property
    def document(self) -> dict:
        """`devtools status --output json|yaml`: devtools/schemas/status.schema.json describes it."""
        rest = {key: value for key, value in self.data.items() if key != "runtime"}
        return {"runtime": self.data["runtime"], "running": self.running, "healthy": self.healthy, **rest}

    @property
    def exit_code(self) -> ExitCode:
        """What `devtools status` exits with for this view (devtools.exit_codes)."""
        if not self.running:
            return ExitCode.NOT_RUNNING
        return ExitCode.OK if self.healthy else ExitCode.UNHEALTHY


@dataclass(frozen=True)
class DownPlan:
    """What `down` would do to one runtime: what it ``stops`` (nothing is lost) and what it ``deletes`` for good
    (`down` asks before those). False when nothing of the runtime is there to take down."""

    runtime: str
    stops: tuple[str, ...] = ()
    deletes: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.stops or self.deletes)


class Runtime(Protocol):
    name: str

    def up_phases(self) -> list[Phase]: ...

    def running(self) -> bool: ...

    def view(self) -> StackView: ...

    def logs(self, query: LogQuery) -> LogStream: ...

    def down_plan(self, everything: bool) -> DownPlan: ...

    def down(self, everything: bool) -> bool: ...  # True when something was running


def stats_caption(stats: dict | None) -> str | None:
    """Episodes, transitions, iteration, model version, rate and the newest rating from the web's /stats."""
    if not stats:
        return None
    model = stats.get("model") or {}
    return (
        f"episodes {stats['episodes']}  ·  transitions {stats['transitions']}  ·  iteration {stats['iteration']}"
        f"  ·  model v{model.get('version', 0)}  ·  {stats['episodes_per_second']:.2f} episodes/s"
        f"  ·  {rating_caption(stats.get('arena'))}"
    )


def rating_caption(arena: dict | None) -> str:
    """The newest rated version's rating (random = 0), or why there is none yet."""
    rated = [v for v in (arena or {}).get("versions", []) if v["status"] == "rated"]
    if not rated:
        return "arena: no version rated yet"
    newest = rated[-1]
    return f"arena: v{newest['version']} rated {newest['rating']:.0f} (v{rated[0]['version']} {rated[0]['rating']:.0f})"


def health_cell(healthy: bool, good: str = "healthy", bad: str = "unhealthy") -> str:
    return f"[green]{good}[/]" if healthy else f"[red]{bad}[/]"
