"""`devtools`: bring the Cartridge stack up (kind + Tilt, or local processes), watch it, tear it down.

Commands only parse options and call the core modules (devtools.local, devtools.kind_runtime,
devtools.doctor, devtools.images); expected failures print one sentence and a hint, no traceback.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import click
from rich.console import Console
from rich.live import Live
from rich.table import Table

from cartridge.games import GAME_NAMES
from devtools.errors import DevtoolsError
from devtools.local import ComponentStatus, LocalConfig, LocalRuntime
from devtools.local.config import REPO_ROOT, default_data_dir

# Tables stay readable when piped (rich would wrap them at 80 columns).
console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)
out = Console(width=None if sys.stdout.isatty() else 160)


_spinner = None


def _progress(message: str) -> None:
    """Long steps update one spinner line in a terminal; elsewhere (CI, pipes) each step is a line."""
    if _spinner is not None:
        _spinner.update(f"[dim]{message}[/]")
    elif not message.startswith("waiting for"):
        console.print(f"[dim]…[/] {message}")


class spinning:
    def __init__(self, message: str) -> None:
        self.status = console.status(message) if console.is_terminal else None

    def __enter__(self):
        global _spinner
        if self.status is not None:
            _spinner = self.status.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        global _spinner
        if self.status is not None:
            self.status.__exit__(*exc)
        _spinner = None


def choose_runtime(requested: str) -> tuple[str, str]:
    """The runtime to use and why."""
    if requested == "local":
        return "local", "asked for with --runtime local"
    from devtools.kind_runtime import kind_usable_reasons

    reasons = kind_usable_reasons()
    if requested == "kind":
        if reasons:
            raise DevtoolsError(f"the kind runtime cannot run here: {'; '.join(reasons)}", "run `devtools doctor`")
        return "kind", "asked for with --runtime kind"
    if reasons:
        return "local", "; ".join(reasons)
    return "kind", "docker, kind, kubectl and tilt are all usable"


def _local_config(data_dir: Path | None, **overrides) -> LocalConfig:
    clean = {k: v for k, v in overrides.items() if v is not None}
    return LocalConfig(data_dir=data_dir or default_data_dir(), **clean)


def _urls_table(statuses: list[ComponentStatus], stats: dict | None) -> Table:
    table = Table(title="Cartridge (local runtime)")
    for column in ("component", "pid", "state", "restarts", "health", "url"):
        table.add_column(column)
    for s in statuses:
        health = "[green]healthy[/]" if s.healthy and s.state != "skipped" else (
            "[dim]—[/]" if s.state == "skipped" else "[red]unhealthy[/]")  # fmt: skip
        table.add_row(s.name, str(s.pid or ""), s.state if not s.detail else f"{s.state}: {s.detail}",
                      str(s.restarts), health, s.url)  # fmt: skip
    table.caption = _stats_caption(stats)
    return table


def _stats_caption(stats: dict | None) -> str | None:
    if not stats:
        return None
    model = stats.get("model") or {}
    return (
        f"episodes {stats['episodes']}  ·  transitions {stats['transitions']}  ·  iteration {stats['iteration']}"
        f"  ·  model v{model.get('version', 0)}  ·  {stats['episodes_per_second']:.2f} episodes/s"
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Bring the Cartridge self-play stack up on kind (with Tilt) or as local processes."""


@cli.command()
@click.option("--runtime", type=click.Choice(["auto", "local", "kind"]), default="auto", show_default=True)
@click.option("--no-tilt", is_flag=True, help="kind: build, push and apply k8s/local once instead of `tilt up`.")
@click.option("--tilt-mode", type=click.Choice(["up", "ci"]), default="up", show_default=True,
              help="kind: `tilt up` (live updates) or `tilt ci` (deploy, wait until healthy, exit).")  # fmt: skip
@click.option("--actors", type=click.IntRange(1, 64), default=None, help="Number of self-play actors.")
@click.option("--env-id", type=click.Choice(GAME_NAMES), default=None, help="The game.")
@click.option("--detach", "-d", is_flag=True, help="local: run in the background and return once healthy.")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None, help="local: state, logs, data.")
@click.option("--web-port", type=click.IntRange(1, 65535), default=None)
@click.option("--frontend-port", type=click.IntRange(1, 65535), default=None)
@click.option("--no-frontend", is_flag=True, help="local: do not start the Vite dev server.")
def up(runtime, no_tilt, tilt_mode, actors, env_id, detach, data_dir, web_port, frontend_port, no_frontend) -> None:
    """Bring the whole stack up (idempotent: running it twice changes nothing)."""
    chosen, why = choose_runtime(runtime)
    console.print(f"[bold]runtime: {chosen}[/] ({why})")
    if chosen == "kind":
        from devtools.kind_runtime import KindOptions, KindRuntime

        opts = KindOptions(repo_root=REPO_ROOT, tilt=None if no_tilt else tilt_mode, actors=actors, env_id=env_id)
        kind = KindRuntime(opts, _progress)
        with spinning("bringing up the registry and the kind cluster"):
            kind.prepare()
        if opts.tilt is not None:
            kind.run_tilt(opts.tilt)  # Tilt owns the terminal: no spinner over its screen
            return
        with spinning("building, pushing and rolling out"):
            workloads = kind.deploy_once()
        for w in workloads:
            out.print(f"{w.name:20} {w.ready}/{w.desired} ready  {w.url or ''}")
        return
    config = _local_config(data_dir, actors=actors, env_id=env_id, web_port=web_port, frontend_port=frontend_port,
                           frontend=False if no_frontend else None)  # fmt: skip
    local = LocalRuntime(config, _progress)
    if not detach:
        console.print(f"web http://127.0.0.1:{config.web_port}  ·  frontend http://127.0.0.1:{config.frontend_port}"
                      "  ·  Ctrl-C stops everything")  # fmt: skip
    if detach:
        with spinning("starting the local runtime"):
            statuses = local.up(detach=True)
    else:
        statuses = local.up(detach=False)
    if detach:
        out.print(_urls_table(statuses, local.stats()))
        console.print("`devtools status` shows it again, `devtools logs NAME -f` follows a log, `devtools down` stops.")


@cli.command()
@click.option("--all", "everything", is_flag=True, help="Also delete data (local) or the cluster and registry (kind).")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None)
def down(everything: bool, data_dir: Path | None) -> None:
    """Stop everything `up` started; nothing keeps running and no port stays bound."""
    local = LocalRuntime.attach(data_dir or default_data_dir(), _progress)
    stopped = local.down(remove_data=everything)
    console.print("local runtime stopped" if stopped else "local runtime was not running")
    from devtools.kind_runtime import KindOptions, KindRuntime
    from devtools.tools import probe

    kind = KindRuntime(KindOptions(repo_root=REPO_ROOT), _progress)
    if probe("kind").usable and probe("kubectl").usable:
        kind.down(everything=everything)  # the workloads; with --all the cluster and the registry
    elif everything:
        kind.delete_registry()  # without kind there is no cluster to delete, but the registry may run


@cli.command()
@click.option("--watch", is_flag=True, help="Refresh every 2 s until Ctrl-C.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None)
def status(watch: bool, as_json: bool, data_dir: Path | None) -> None:
    """Components, health, episodes, iteration, model version and URLs."""
    local = LocalRuntime.attach(data_dir or default_data_dir())
    if as_json:
        statuses = local.status()
        out.print_json(json.dumps({"runtime": "local", "running": local.running(),
                                   "components": [s.__dict__ for s in statuses], "stats": local.stats()}))  # fmt: skip
        return
    if not local.running():
        _kind_status(watch)
        return
    if not watch:
        out.print(_urls_table(local.status(), local.stats()))
        return
    with Live(_urls_table(local.status(), local.stats()), console=out, refresh_per_second=1) as live:
        while True:
            time.sleep(2)
            live.update(_urls_table(local.status(), local.stats()))


def _kind_status(watch: bool) -> None:
    from devtools.kind_runtime import URLS, KindOptions, KindRuntime
    from devtools.local.runtime import get_json
    from devtools.tools import probe

    if not probe("kubectl").usable:
        raise DevtoolsError("nothing is running: no local runtime, and kubectl is not installed",
                            "start the stack with `devtools up`")  # fmt: skip
    runtime = KindRuntime(KindOptions(repo_root=REPO_ROOT))
    try:
        workloads = runtime.workloads()
    except DevtoolsError:
        raise DevtoolsError("nothing is running: no local runtime and no kind cluster `cartridge`",
                            "start the stack with `devtools up`") from None  # fmt: skip

    def table(workloads) -> Table:
        shown = Table(title="Cartridge (kind runtime, namespace cartridge)")
        for column in ("workload", "kind", "ready", "health", "url"):
            shown.add_column(column)
        for w in workloads:
            shown.add_row(w.name, w.kind, f"{w.ready}/{w.desired}",
                          "[green]ready[/]" if w.healthy else "[red]not ready[/]", w.url or "")  # fmt: skip
        # Episodes, iteration, model: from the web through Tilt's port-forward, when it runs.
        stats = get_json(f"{URLS['web']}/stats")
        shown.caption = _stats_caption(stats) or f"(no /stats at {URLS['web']}: is Tilt forwarding the web?)"
        return shown

    if not watch:
        out.print(table(workloads))
        return
    with Live(table(workloads), console=out, refresh_per_second=1) as live:
        while True:
            time.sleep(2)
            live.update(table(runtime.workloads()))


@cli.command()
@click.argument("component", required=False)
@click.option("--follow", "-f", is_flag=True)
@click.option("--lines", "-n", type=int, default=50, show_default=True)
@click.option("--data-dir", type=click.Path(path_type=Path), default=None)
def logs(component: str | None, follow: bool, lines: int, data_dir: Path | None) -> None:
    """Show a component's log (all components' last lines without COMPONENT)."""
    local = LocalRuntime.attach(data_dir or default_data_dir())
    if not local.running() and component in ("actor", "trainer", "web", "frontend", "postgres", "minio"):
        from devtools.kind_runtime import KindOptions, KindRuntime
        from devtools.tools import probe

        kind = KindRuntime(KindOptions(repo_root=REPO_ROOT))
        # The kind runtime: the workload's logs from the cluster.
        if probe("kind").usable and kind.clusters.exists(kind.spec):
            args = ["logs", f"deployment/{component}" if component != "postgres" else "statefulset/postgres",
                    "-n", "cartridge", f"--tail={lines}", *(["-f"] if follow else [])]  # fmt: skip
            try:
                sys.exit(subprocess.call(["kubectl", "--context", kind.spec.context, *args]))
            except FileNotFoundError:
                hint = "run `devtools doctor` to see where to get it"
                raise DevtoolsError("kubectl is not installed", hint) from None
    names = [component] if component else sorted(p.stem for p in (local.config.data_dir / "logs").glob("*.log"))
    if not names:
        raise DevtoolsError("no logs yet", "start the stack with `devtools up`")
    for name in names:
        path = local.log_path(name)
        for line in path.read_text(errors="replace").splitlines()[-lines:]:
            out.print(f"[cyan]{name:>10}[/] {line}", markup=True, highlight=False)
    if follow:
        if len(names) != 1:
            raise DevtoolsError("--follow needs one COMPONENT", "e.g. `devtools logs trainer -f`")
        for line in local.follow(local.log_path(names[0])):
            out.print(f"[cyan]{names[0]:>10}[/] {line.rstrip()}", highlight=False)


@cli.command()
def doctor() -> None:
    """Each tool with the version found and wanted, the Docker daemon, ports, disk space."""
    from devtools.doctor import run

    sys.exit(run(out, REPO_ROOT))


@cli.group()
def images() -> None:
    """Container images of the four services."""


@images.command("build")
@click.option("--push", is_flag=True, help="Push to the local registry (localhost:5001).")
@click.option("--tag", default=None, help="Image tag (default: the git revision, -dirty if modified).")
@click.argument("names", nargs=-1, type=click.Choice(["actor", "trainer", "web", "frontend"]))
def images_build(push: bool, tag: str | None, names: tuple[str, ...]) -> None:
    """Build (and push) localhost:5001/cartridge-<name>:<tag>, reusing the build cache."""
    from devtools.images import build_images

    for image in build_images(names=list(names) or None, tag=tag, push=push, progress=_progress):
        out.print(f"{image.ref}  {image.size_mb:.0f} MB{'  pushed' if push else ''}")


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        console.print("[yellow]interrupted[/]")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]")
        sys.exit(130)
    except DevtoolsError as exc:
        console.print(f"[red]error:[/] {exc.message}")
        if exc.hint:
            console.print(f"[dim]hint:[/] {exc.hint}")
        sys.exit(1)


if __name__ == "__main__":
    main()
