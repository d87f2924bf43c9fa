"""Which runtime `devtools` uses, built from the command's options: the CLI parses, this module decides.

- ``choose_runtime``: kind when docker, kind, kubectl and tilt are usable (or asked for), else local, and why;
- ``runtime_for_up``: the runtime `up` runs, configured from ``UpOptions``;
- ``running_runtime``: the stack that runs now (`status`, `logs`);
- ``down_all``: what `down` stops, on both runtimes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from devtools.errors import DevtoolsError
from devtools.local import LocalConfig, LocalRuntime
from devtools.local.config import default_data_dir
from devtools.paths import REPO_ROOT
from devtools.runtime import Runtime

if TYPE_CHECKING:
    from devtools.kind.runtime import KindRuntime

Progress = Callable[[str], None]


@dataclass(frozen=True)
class UpOptions:
    """`devtools up`'s options. None leaves a runtime's own default in place."""

    runtime: str = "auto"  # "auto", "local" or "kind"
    tilt: str | None = "up"  # kind: "up", "ci", or None to build, push and apply once (--no-tilt)
    actors: int | None = None
    env_id: str | None = None
    detach: bool = False  # local: return once healthy, the supervisor in the background
    data_dir: Path | None = None  # local
    web_port: int | None = None  # local
    frontend_port: int | None = None  # local
    frontend: bool = True  # local: start the Vite dev server

    def local_config(self) -> LocalConfig:
        overrides = {
            "actors": self.actors,
            "env_id": self.env_id,
            "web_port": self.web_port,
            "frontend_port": self.frontend_port,
            "frontend": None if self.frontend else False,
        }
        chosen = {name: value for name, value in overrides.items() if value is not None}
        return LocalConfig(data_dir=self.data_dir or default_data_dir(), **chosen)


def choose_runtime(requested: str) -> tuple[str, str]:
    """The runtime to use and why."""
    if requested == "local":
        return "local", "asked for with --runtime local"
    from devtools.kind.runtime import kind_usable_reasons

    reasons = kind_usable_reasons()
    if requested == "kind":
        if reasons:
            raise DevtoolsError(f"the kind runtime cannot run here: {'; '.join(reasons)}", "run `devtools doctor`")
        return "kind", "asked for with --runtime kind"
    if reasons:
        return "local", "; ".join(reasons)
    return "kind", "docker, kind, kubectl and tilt are all usable"


def kind_runtime(progress: Progress, **options) -> KindRuntime:
    from devtools.kind.runtime import KindOptions, KindRuntime

    return KindRuntime(KindOptions(repo_root=REPO_ROOT, **options), progress)


def runtime_for_up(chosen: str, options: UpOptions, progress: Progress) -> Runtime:
    """The runtime ``chosen`` (choose_runtime), configured from ``options``."""
    if chosen == "kind":
        return kind_runtime(progress, tilt=options.tilt, actors=options.actors, env_id=options.env_id)
    return LocalRuntime(options.local_config(), progress, detach=options.detach)


def kind_tools_usable() -> bool:
    from devtools.tool_versions import probe

    return probe("kind").usable and probe("kubectl").usable


def running_runtime(data_dir: Path | None, progress: Progress) -> Runtime:
    """The stack that runs: the local runtime when its supervisor lives, else the kind cluster."""
    local = LocalRuntime.attach(data_dir or default_data_dir(), progress)
    if local.running():
        return local
    if kind_tools_usable() and (kind := kind_runtime(progress)).running():
        return kind
    return local  # not running either: its status is empty and its logs say "no logs yet"


def down_all(everything: bool, data_dir: Path | None, progress: Progress, report: Progress) -> None:
    """Stop what `up` started on either runtime (with ``everything`` also the local data, the cluster and the
    registry). ``report`` hears whether the local runtime was running, before the kind runtime is stopped."""
    local = LocalRuntime.attach(data_dir or default_data_dir(), progress)
    report("local runtime stopped" if local.down(everything) else "local runtime was not running")
    kind = kind_runtime(progress)
    if kind_tools_usable():
        kind.down(everything)  # workloads and cloud-provider-kind; with --all the cluster and the registry
    else:
        kind.delete_containers(registry=everything)  # no kind here, but its containers may still run
