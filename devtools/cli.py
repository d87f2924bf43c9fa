"""`devtools`: bring the Cartridge stack up (kind + Tilt, or local processes), watch it, tear it down.

Commands only parse options, hand them to devtools.runtimes (which picks and configures a runtime:
devtools.local.LocalRuntime or devtools.kind.runtime.KindRuntime) and show what it returns; expected failures
print one sentence and a hint, no traceback.
"""

from __future__ import annotations

import json
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import click
from rich.console import Console
from rich.live import Live
from rich.table import Table

from cartridge.games import GAME_NAMES
from devtools.errors import DevtoolsError
from devtools.kind.bake import COMPONENTS
from devtools.match import match
from devtools.paths import REPO_ROOT
from devtools.runtime import StackView
from devtools.runtimes import UpOptions, choose_runtime, down_all, running_runtime, runtime_for_up

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


def table(view: StackView) -> Table:
    shown = Table(title=view.title, caption=view.caption)
    for column in view.columns:
        shown.add_column(column)
    for row in view.rows:
        shown.add_row(*row)
    return shown


def show(view, watch: bool) -> None:
    """Print the view once, or refresh it every 2 s until Ctrl-C."""
    if not watch:
        out.print(table(view()))
        return
    with Live(table(view()), console=out, refresh_per_second=1) as live:
        while True:
            time.sleep(2)
            live.update(table(view()))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Bring the Cartridge self-play stack up on kind (with Tilt) or as local processes."""


@cli.command()
@click.option("--runtime", type=click.Choice(["auto", "local", "kind"]), default="auto", show_default=True)
@click.option("--no-tilt", is_flag=True, help="kind: build, push and apply k8s/local once instead of `tilt up`.")
@click.option(
    "--tilt-mode",
    type=click.Choice(["up", "ci"]),
    default="up",
    show_default=True,
    help="kind: `tilt up` (live updates) or `tilt ci` (deploy, wait until healthy, exit).",
)
@click.option("--actors", type=click.IntRange(1, 64), default=None, help="Number of self-play actors.")
@click.option("--env-id", type=click.Choice(GAME_NAMES), default=None, help="The game.")
@click.option("--detach", "-d", is_flag=True, help="local: run in the background and return once healthy.")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None, help="local: state, logs, data.")
@click.option("--web-port", type=click.IntRange(1, 65535), default=None)
@click.option("--frontend-port", type=click.IntRange(1, 65535), default=None)
@click.option("--no-frontend", is_flag=True, help="local: do not start the Vite dev server.")
def up(runtime: str, no_tilt: bool, tilt_mode: str, no_frontend: bool, **options) -> None:
    """Bring the whole stack up (idempotent: running it twice changes nothing)."""
    chosen, why = choose_runtime(runtime)
    console.print(f"[bold]runtime: {chosen}[/] ({why})")
    wanted = UpOptions(runtime, tilt=None if no_tilt else tilt_mode, frontend=not no_frontend, **options)
    stack = runtime_for_up(chosen, wanted, _progress)
    view = None
    for phase in stack.up_phases():
        if not phase.spinner:
            console.print(phase.what)
        with spinning(phase.what) if phase.spinner else nullcontext():
            view = phase.run()
    if view is not None:
        out.print(table(view))
        console.print("`devtools status` shows it again, `devtools logs NAME -f` follows a log, `devtools down` stops.")


@cli.command()
@click.option("--all", "everything", is_flag=True, help="Also delete data (local) or the cluster and registry (kind).")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None)
def down(everything: bool, data_dir: Path | None) -> None:
    """Stop everything `up` started; nothing keeps running and no port stays bound."""
    down_all(everything, data_dir, _progress, console.print)


@cli.command()
@click.option("--watch", is_flag=True, help="Refresh every 2 s until Ctrl-C.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None)
def status(watch: bool, as_json: bool, data_dir: Path | None) -> None:
    """Components, health, episodes, iteration, model version and URLs (the Gateway's on kind)."""
    stack = running_runtime(data_dir, _progress)
    if as_json:
        out.print_json(json.dumps(stack.view().data, default=str))
        return
    if not stack.running():
        raise DevtoolsError(
            "nothing is running: no local runtime and no kind cluster `cartridge`", "start the stack with `devtools up`"
        )
    show(stack.view, watch)


@cli.command()
@click.argument("component", required=False)
@click.option("--follow", "-f", is_flag=True)
@click.option("--lines", "-n", type=int, default=50, show_default=True)
@click.option("--data-dir", type=click.Path(path_type=Path), default=None)
def logs(component: str | None, follow: bool, lines: int, data_dir: Path | None) -> None:
    """Show a component's log (all components' last lines without COMPONENT)."""
    for name, line in running_runtime(data_dir, _progress).logs(component, lines, follow):
        out.print(f"[cyan]{name:>10}[/] {line}", markup=True, highlight=False)


@cli.command()
def doctor() -> None:
    """Each tool with the version found and wanted, the Docker daemon, ports, disk space."""
    from devtools.doctor import run

    sys.exit(run(out, REPO_ROOT))


@cli.group()
def images() -> None:
    """Container images of the services (docker-bake.json)."""


@images.command("build")
@click.option("--push", is_flag=True, help="Push to the local registry (localhost:5001).")
@click.option("--tag", default=None, help="Image tag (default: the git revision, -dirty if modified).")
@click.argument("names", nargs=-1, type=click.Choice(COMPONENTS))
def images_build(push: bool, tag: str | None, names: tuple[str, ...]) -> None:
    """Build (and push) localhost:5001/cartridge-<name>:<tag>, reusing the build cache."""
    from devtools.kind.images import build_images

    for image in build_images(names=list(names) or None, tag=tag, push=push, progress=_progress):
        out.print(f"{image.ref}  {image.size_mb:.0f} MB{'  pushed' if push else ''}")


cli.add_command(match)


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
