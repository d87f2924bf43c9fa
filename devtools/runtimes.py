"""Which runtime `devtools` uses, built from the command's options: the CLI parses, this module decides.

- ``choose_runtime``: kind when docker, kind, kubectl and tilt are usable (or asked for), else local, and why;
- ``runtime_for_up``: the runtime `up` runs, configured from ``UpOptions``;
- ``running_runtime``: the stack that runs now (`status`, `logs`);
- ``down_scope``: the runtime `down` takes down (devtools.teardown asks before it deletes anything).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from devtools.errors import DevtoolsError
from devtools.kind.names import KindNames
from devtools.local import LocalConfig, LocalRuntime
from devtools.local.config import default_data_dir
from devtools.paths import REPO_ROOT
from devtools.process import Echo, Progress
from devtools.runtime import DownPlan, Runtime

if TYPE_CHECKING:
    from devtools.kind.runtime import KindRuntime

DEFAULT_NAMES = KindNames()


@dataclass(frozen=True)
class UpOptions:
    """`devtools up`'s options. None leaves a runtime's own default in place."""

    tilt: str | None = "up"  # kind: "up", "ci", or None to build, push and apply once (--no-tilt)
    actors: int | None = None
    env_id: str | None = None
    detach: bool = False  # local: return once healthy, the supervisor in the background
    data_dir: Path | None = None  # local
    web_port: int | None = None  # local
    frontend_port: int | None = None  # local
    frontend: bool = True  # local: start the Vite dev server
    monitoring: bool = False  # local: a Prometheus scraping every service; kind: k8s/local-monitoring (and Grafana)
    kind_names: KindNames = DEFAULT_NAMES  # kind: the cluster and its registry

    def local_config(self) -> LocalConfig:
        overrides = {
            "actors": self.actors,
            "env_id": self.env_id,
            "web_port": self.web_port,
            "frontend_port": self.frontend_port,
            "frontend": None if self.frontend else False,
            "monitoring": self.monitoring or None,
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


def kind_runtime(progress: Progress, names: KindNames, echo: Echo | None = None, **options) -> KindRuntime:
    """The kind runtime of the cluster and registry ``names`` names. Imported here: the CLI starts without the
    Docker and Kubernetes clients."""
    from devtools.kind.cluster import ClusterSpec
    from devtools.kind.runtime import KindOptions, KindRuntime

    return KindRuntime(
        KindOptions(repo_root=REPO_ROOT, cluster=ClusterSpec.named(names), **options), progress, echo=echo
    )


def runtime_for_up(chosen: str, options: UpOptions, progress: Progress, echo: Echo | None = None) -> Runtime:
    """The runtime ``chosen`` (choose_runtime), configured from ``options``; ``echo`` hears kind, docker and
    kubectl (`devtools -v`)."""
    if chosen == "kind":
        return kind_runtime(
            progress,
            options.kind_names,
            echo,
            tilt=options.tilt,
            actors=options.actors,
            env_id=options.env_id,
            monitoring=options.monitoring,
        )
    return LocalRuntime(options.local_config(), progress, detach=options.detach)


def kind_tools_usable() -> bool:
    from devtools.tool_versions import probe

    return probe("kind").usable and probe("kubectl").usable


def running_runtime(data_dir: Path | None, progress: Progress, names: KindNames = DEFAULT_NAMES) -> Runtime:
    """The stack that runs: the local runtime when its supervisor lives, else the kind cluster ``names`` names."""
    local = LocalRuntime.attach(data_dir or default_data_dir(), progress)
    if local.running():
        return local
    if kind_tools_usable() and (kind := kind_runtime(progress, names)).running():
        return kind
    return local  # not running either: its status is empty and its logs say "no logs yet"


def down_scope(requested: str, runtimes: dict[str, Runtime], everything: bool) -> list[tuple[Runtime, DownPlan]]:
    """The runtime `down` acts on, with its plan: the one asked for (``requested``), or with "auto" the one that
    has something to take down. None when nothing is there; both up at once is refused, naming what runs."""
    names = list(runtimes) if requested == "auto" else [requested]
    plans = [(runtimes[name], runtimes[name].down_plan(everything)) for name in names]
    found = [(runtime, plan) for runtime, plan in plans if plan]
    if len(found) > 1:
        what = "; ".join(f"{plan.runtime}: {', '.join(plan.stops + plan.deletes)}" for _, plan in found)
        raise DevtoolsError(
            f"both runtimes have something to take down ({what})",
            "say which with `devtools down --runtime local` or `devtools down --runtime kind`",
        )
    return found
