"""`devtools doctor`: what is installed, what is wanted, and what to do about each gap."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from devtools.errors import DevtoolsError
from devtools.http import port_in_use
from devtools.ports import KIND_PORTS, LOCAL_PORTS
from devtools.tool_versions import TOOLS, probe

MIN_FREE_DISK_GB = 10.0


@dataclass(frozen=True)
class Check:
    name: str
    found: str
    wanted: str
    ok: bool
    fix: str = ""


def tool_checks() -> list[Check]:
    checks = []
    for name in TOOLS:
        status = probe(name)
        found = status.found or ("missing" if status.path is None else "unreadable")
        fix = "" if status.ok else status.tool.install_hint
        checks.append(Check(name, found, status.tool.wanted, status.ok, fix))
    return checks


def docker_check() -> Check:
    from devtools.docker_engine import docker_client

    try:
        version = docker_client().version().get("Version", "?")
    except DevtoolsError as exc:
        return Check("docker daemon", "not answering", "running", False, exc.hint or "start Docker")
    return Check("docker daemon", f"running ({version})", "running", True)


def ports_held_by_cartridge(data_dir: Path | None = None) -> dict[int, str]:
    """Ports our own running stack holds: a healthy stack is not a problem to report."""
    from devtools.docker_engine import docker_client
    from devtools.kind.registry import RegistryController, RegistrySpec
    from devtools.local import LocalRuntime
    from devtools.local.config import default_data_dir

    held: dict[int, str] = {}
    local = LocalRuntime.attach(data_dir or default_data_dir())
    if local.running():
        held |= {c.port: f"the running local runtime's {c.name}" for c in local.config.components()}
    spec = RegistrySpec()
    try:
        registry = RegistryController(docker_client()).get(spec)
    except DevtoolsError:
        registry = None
    if registry is not None and registry.running and registry.host_port:
        held[registry.host_port] = f"the running registry {spec.name}"
    return held


def port_checks(ports: dict[int, str], runtime: str, ours: dict[int, str] | None = None) -> list[Check]:
    checks = []
    for port, what in ports.items():
        name = f"port {port} ({what}, {runtime})"
        if ours and port in ours:
            checks.append(Check(name, f"held by {ours[port]}", "free or ours", True))
            continue
        free = not port_in_use(port)
        fix = "" if free else f"stop what holds it (`ss -ltnp 'sport = :{port}'`) or `devtools down`"
        checks.append(Check(name, "free" if free else "taken", "free", free, fix))
    return checks


def disk_check(path: Path) -> Check:
    free_gb = shutil.disk_usage(path).free / 1e9
    ok = free_gb >= MIN_FREE_DISK_GB
    return Check(
        "disk space",
        f"{free_gb:.1f} GB free",
        f">= {MIN_FREE_DISK_GB:.0f} GB",
        ok,
        "" if ok else "free disk space: kind node images and the app images need ~10 GB",
    )


def run(console: Console, repo_root: Path | None = None) -> int:
    """Print the checks as a table; exit code 0 when all pass, 1 otherwise."""
    repo_root = repo_root or Path.cwd()
    ours = ports_held_by_cartridge()
    checks = [
        *tool_checks(),
        docker_check(),
        *port_checks(KIND_PORTS, "kind", ours),
        *port_checks(LOCAL_PORTS, "local", ours),
        disk_check(repo_root),
    ]
    table = Table(title="devtools doctor")
    for column in ("check", "found", "wanted", "status", "what to do"):
        table.add_column(column)
    for check in checks:
        mark = "[green]ok[/]" if check.ok else "[red]problem[/]"
        table.add_row(check.name, check.found, check.wanted, mark, check.fix)
    console.print(table)
    problems = [c for c in checks if not c.ok]
    if problems:
        console.print(
            f"[yellow]{len(problems)} problem(s).[/] The local runtime needs none of the tools above; "
            "the kind runtime needs docker, kind, kubectl and tilt."
        )
        return 1
    console.print("[green]Everything the kind and local runtimes need is in place.[/]")
    return 0
