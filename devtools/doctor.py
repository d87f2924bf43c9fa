"""`devtools doctor`: what each runtime needs, what this machine has, and which runtime can run here.

Every check names the runtimes that need it. A failed check blocks them when `up` could not run without it:
Python and the local ports for the local runtime; docker, kind, kubectl and tilt on PATH, a Docker daemon that
answers and the kind ports for the kind runtime (what ``choose_runtime`` asks, plus the ports). Any other failure
is a warning: Node for the local frontend (the local runtime then runs without it), a tool or a daemon at another
version than wanted, little disk. doctor exits OK when a runtime can run and NO_RUNTIME when neither can.

The ports are each runtime's own (``host_ports``), so a port added to a runtime is checked without a change here.
"""

from __future__ import annotations

import platform
import shutil
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from devtools.errors import DevtoolsError
from devtools.exit_codes import ExitCode
from devtools.http import port_in_use
from devtools.local import LocalRuntime
from devtools.tool_versions import DOCKER_MIN_VERSION, FRONTEND_TOOLS, PYTHON_WANTED, TOOLS, probe, satisfies

LOCAL, KIND = "local", "kind"
MIN_FREE_DISK_GB = 10.0


@dataclass(frozen=True)
class Check:
    name: str
    found: str
    wanted: str
    ok: bool
    fix: str = ""
    needed_by: tuple[str, ...] = ()  # the runtimes that use what is checked
    blocking: bool = False  # when it fails, those runtimes cannot run; else it is a warning

    @property
    def status(self) -> str:
        return "ok" if self.ok else "problem" if self.blocking else "warning"


@dataclass(frozen=True)
class Report:
    checks: list[Check]

    def failed(self, runtime: str, *, blocking: bool) -> list[Check]:
        return [c for c in self.checks if not c.ok and runtime in c.needed_by and c.blocking == blocking]

    def can_run(self, runtime: str) -> bool:
        return not self.failed(runtime, blocking=True)

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if self.can_run(LOCAL) or self.can_run(KIND) else ExitCode.NO_RUNTIME

    @property
    def document(self) -> dict:
        """`devtools doctor --output json`: devtools/schemas/doctor.schema.json describes it."""
        return {
            "exit_code": int(self.exit_code),
            "runtimes": {
                runtime: {
                    "can_run": self.can_run(runtime),
                    "blockers": [c.name for c in self.failed(runtime, blocking=True)],
                    "warnings": [c.name for c in self.failed(runtime, blocking=False)],
                }
                for runtime in (LOCAL, KIND)
            },
            "checks": [
                {
                    "name": c.name,
                    "found": c.found,
                    "wanted": c.wanted,
                    "status": c.status,
                    "needed_by": list(c.needed_by),
                    "fix": c.fix,
                }
                for c in self.checks
            ],
        }


def python_check(wanted: str = PYTHON_WANTED) -> Check:
    """The Python devtools runs under is the one the local runtime starts its services with (sys.executable)."""
    found = platform.python_version()
    ok = satisfies(found, wanted)
    fix = "" if ok else f"make the virtualenv with a Python {wanted} (pyproject.toml's requires-python)"
    return Check("python", found, wanted, ok, fix, (LOCAL,), blocking=True)


def tool_checks() -> list[Check]:
    """docker, kind, kubectl and tilt for the kind runtime: missing blocks it, another version warns. node and
    npm for the local runtime's frontend: without them it runs without the frontend, so they only warn."""
    checks = []
    for tools, runtime, blocks in ((TOOLS, KIND, True), (FRONTEND_TOOLS, LOCAL, False)):
        for name in tools:
            status = probe(name)
            found = status.found or ("missing" if status.path is None else "unreadable")
            fix = "" if status.ok else status.tool.install_hint
            if not status.ok and runtime == LOCAL:
                fix += "; the local runtime runs without the frontend until then"
            wanted = status.tool.wanted or "any version"
            checks.append(Check(name, found, wanted, status.ok, fix, (runtime,), blocking=blocks and not status.usable))
    return checks


def docker_check() -> Check:
    """The daemon, not the client `docker version` reports first: the engine that runs kind's nodes, the
    registry and the builds is the one that has to be recent enough."""
    from devtools.docker_engine import docker_client

    wanted = f">={DOCKER_MIN_VERSION}"
    try:
        version = docker_client().version()
    except DevtoolsError as exc:
        return Check("docker daemon", "not answering", wanted, False, exc.hint or "start Docker", (KIND,), True)
    server = version.get("Version", "?")
    ok = satisfies(server, wanted)
    fix = (
        ""
        if ok
        else f"upgrade Docker Engine to {DOCKER_MIN_VERSION} or newer (https://docs.docker.com/engine/install/)"
    )
    found = f"server {server} (API {version.get('ApiVersion', '?')})"
    return Check("docker daemon", found, wanted, ok, fix, (KIND,))


def held_by_cartridge(local: LocalRuntime, kind) -> dict[int, str]:
    """Ports our own running stack holds: a running stack is not a problem to report."""
    from devtools.docker_engine import docker_client
    from devtools.kind.registry import RegistryController

    held: dict[int, str] = {}
    if local.running():
        held |= {port: f"the running local runtime's {name}" for port, name in local.host_ports().items()}
    spec = kind.spec.registry
    try:
        registry = RegistryController(docker_client()).get(spec)
    except DevtoolsError:
        registry = None
    if registry is not None and registry.running and registry.host_port:
        held[registry.host_port] = f"the running registry {spec.name}"
    return held


def port_checks(bound: dict[str, dict[int, str]], ours: dict[int, str]) -> list[Check]:
    """One check per port, for every runtime that binds it (``bound``: runtime -> port -> what): taken by
    something not ours, it blocks each of them."""
    users: dict[int, list[tuple[str, str]]] = {}
    for runtime, ports in bound.items():
        for port, what in ports.items():
            users.setdefault(port, []).append((runtime, what))
    checks = []
    for port, used in sorted(users.items()):
        name = f"port {port} ({', '.join(f'{runtime} {what}' for runtime, what in used)})"
        needed_by = tuple(runtime for runtime, _ in used)
        if port in ours:
            checks.append(Check(name, f"held by {ours[port]}", "free or ours", True, "", needed_by, True))
            continue
        free = not port_in_use(port)
        fix = "" if free else f"stop what holds it (`ss -ltnp 'sport = :{port}'`) or `devtools down`"
        checks.append(Check(name, "free" if free else "taken", "free", free, fix, needed_by, True))
    return checks


def disk_check(path: Path) -> Check:
    free_gb = shutil.disk_usage(path).free / 1e9
    ok = free_gb >= MIN_FREE_DISK_GB
    fix = "" if ok else "free disk space: kind node images and the app images need ~10 GB"
    return Check("disk space", f"{free_gb:.1f} GB free", f">= {MIN_FREE_DISK_GB:.0f} GB", ok, fix, (KIND,))


def diagnose(repo_root: Path, local: LocalRuntime | None = None, kind=None) -> Report:
    """Every check, for the local runtime as `up` would run it (or as it runs, from its state file) and for the
    kind runtime with Tilt."""
    from devtools.kind.names import KindNames
    from devtools.local.config import default_data_dir
    from devtools.runtimes import kind_runtime

    local = local or LocalRuntime.attach(default_data_dir())
    kind = kind or kind_runtime(lambda message: None, KindNames())
    ours = held_by_cartridge(local, kind)
    return Report(
        [
            python_check(),
            *tool_checks(),
            docker_check(),
            *port_checks({LOCAL: local.host_ports(), KIND: kind.host_ports()}, ours),
            disk_check(repo_root),
        ]
    )


def print_report(report: Report, console: Console) -> None:
    """The checks as a table, then a line per runtime: whether it can run, and what stops it or is missing."""
    table = Table(title="devtools doctor")
    for column in ("check", "found", "wanted", "needed by", "status"):
        table.add_column(column)
    table.add_column("what to do", overflow="fold")  # a URL cut short would be no help
    marks = {"ok": "[green]ok[/]", "warning": "[yellow]warning[/]", "problem": "[red]problem[/]"}
    for c in report.checks:
        cells = (c.name, c.found, c.wanted, ", ".join(c.needed_by))
        table.add_row(*(escape(cell) for cell in cells), marks[c.status], escape(c.fix))
    console.print(table)
    for runtime in (LOCAL, KIND):
        blockers = report.failed(runtime, blocking=True)
        warnings = report.failed(runtime, blocking=False)
        if blockers:
            verdict, reasons = "[red]cannot run[/]", "; ".join(f"{c.name} {c.found}" for c in blockers)
        else:
            verdict, reasons = "[green]can run[/]", "; ".join(f"{c.name} {c.found}" for c in warnings)
            reasons = reasons and f"warnings: {reasons}"
        console.print(f"{runtime} runtime: {verdict}" + (f" ({escape(reasons)})" if reasons else ""))
