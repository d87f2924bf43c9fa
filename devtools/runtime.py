"""What every runtime of `devtools` offers, so the CLI only parses options and picks one.

A runtime (devtools.local.LocalRuntime, devtools.kind.runtime.KindRuntime) brings the stack up as a
sequence of phases, shows itself as a StackView (the status table, its caption, and the same as data for
--json), streams its logs (devtools.logs), and takes itself down. The phases say whether a spinner may run
while they do: a phase that hands the terminal to another program (Tilt, the foreground supervisor) says no.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

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
    data: dict = field(default_factory=dict)  # the same, machine-readable (`devtools status --json`)


class Runtime(Protocol):
    name: str

    def up_phases(self) -> list[Phase]: ...

    def running(self) -> bool: ...

    def view(self) -> StackView: ...

    def logs(self, query: LogQuery) -> LogStream: ...

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
