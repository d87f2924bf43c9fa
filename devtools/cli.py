"""`devtools`: bring the Cartridge stack up (kind + Tilt, or local processes), watch it, tear it down.

Commands only parse options, hand them to devtools.runtimes (which picks and configures a runtime:
devtools.local.LocalRuntime or devtools.kind.runtime.KindRuntime) and show what it returns; expected failures
print one sentence and a hint, no traceback.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

import click
import yaml
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from cartridge.games import GAME_NAMES
from devtools.errors import DevtoolsError, NothingRunning
from devtools.exit_codes import COMMON, ExitCode, epilog
from devtools.kind.bake import COMPONENTS
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


def structured_output(output: str, as_json: bool) -> str:
    """--output, with --json as its older spelling of --output json."""
    if as_json and output not in ("table", "json"):
        raise click.BadOptionUsage("as_json", f"--json is --output json: give --json or --output {output}, not both")
    return "json" if as_json else output


def print_document(document: dict, output: str) -> None:
    """Machine-readable output on stdout as it is: no markup, no wrapping, no colour."""
    if output == "json":
        click.echo(json.dumps(document, indent=2, default=str))
    else:
        click.echo(yaml.safe_dump(json.loads(json.dumps(document, default=str)), sort_keys=False), nl=False)


def show(view: StackView, refresh: Callable[[], StackView] | None) -> None:
    """Print the view once, or (given ``refresh``) refresh it every 2 s until Ctrl-C."""
    if refresh is None:
        out.print(table(view))
        return
    with Live(table(view), console=out, refresh_per_second=1) as live:
        while True:
            time.sleep(2)
            live.update(table(refresh()))


class DevtoolsGroup(click.Group):
    """Turns an expected failure into one sentence, a hint and its exit code (devtools.exit_codes) inside the
    command's invocation, so click's test runner sees the same exit codes as the console script."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except DevtoolsError as exc:
            console.print(f"[red]error:[/] {escape(exc.message)}", highlight=False)
            if exc.hint:
                console.print(f"[dim]hint:[/] {escape(exc.hint)}", highlight=False)
            ctx.exit(exc.exit_code)
        except (KeyboardInterrupt, click.exceptions.Abort):
            console.print("[yellow]interrupted[/]")
            ctx.exit(ExitCode.INTERRUPTED)


@click.group(
    cls=DevtoolsGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=epilog(*ExitCode, ok="success (`status`: every component healthy; `doctor`: a runtime can run)"),
)
def cli() -> None:
    """Bring the Cartridge self-play stack up on kind (with Tilt) or as local processes."""


@cli.command(epilog=epilog(*COMMON))
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


@cli.command(epilog=epilog(*COMMON))
@click.option("--all", "everything", is_flag=True, help="Also delete data (local) or the cluster and registry (kind).")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None)
def down(everything: bool, data_dir: Path | None) -> None:
    """Stop everything `up` started; nothing keeps running and no port stays bound."""
    down_all(everything, data_dir, _progress, console.print)


@cli.command(
    epilog=epilog(*COMMON, ExitCode.NOT_RUNNING, ExitCode.UNHEALTHY, ok="the stack runs; every component is healthy")
)
@click.option("--watch", is_flag=True, help="Refresh every 2 s until Ctrl-C.")
@click.option(
    "--output",
    "-o",
    type=click.Choice(["table", "json", "yaml"]),
    default="table",
    show_default=True,
    help="json and yaml follow devtools/schemas/status.schema.json, and are printed even when nothing runs.",
)
@click.option("--json", "as_json", is_flag=True, help="The same as --output json.")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None)
@click.pass_context
def status(ctx: click.Context, watch: bool, output: str, as_json: bool, data_dir: Path | None) -> None:
    """Components, health, episodes, iteration, model version and URLs (the Gateway's on kind)."""
    output = structured_output(output, as_json)
    if watch and output != "table":
        raise click.BadOptionUsage("watch", f"--watch refreshes the table; --output {output} prints once")
    stack = running_runtime(data_dir, _progress)
    view = stack.view()
    if output != "table":
        print_document(view.document, output)
    elif not view.running:
        raise NothingRunning(
            "nothing is running: no local runtime, and no Cartridge workloads on a kind cluster `cartridge`",
            "start the stack with `devtools up`",
        )
    else:
        show(view, stack.view if watch else None)
    ctx.exit(view.exit_code)


@cli.command(epilog=epilog(*COMMON))
@click.argument("component", required=False)
@click.option("--follow", "-f", is_flag=True)
@click.option("--lines", "-n", type=int, default=50, show_default=True)
@click.option("--data-dir", type=click.Path(path_type=Path), default=None)
def logs(component: str | None, follow: bool, lines: int, data_dir: Path | None) -> None:
    """Show a component's log (all components' last lines without COMPONENT)."""
    for name, line in running_runtime(data_dir, _progress).logs(component, lines, follow):
        out.print(f"[cyan]{name:>10}[/] {line}", markup=True, highlight=False)


@cli.command(epilog=epilog(*COMMON, ExitCode.NO_RUNTIME, ok="the local or the kind runtime (or both) can run"))
@click.option(
    "--output",
    "-o",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="json follows devtools/schemas/doctor.schema.json.",
)
@click.option("--json", "as_json", is_flag=True, help="The same as --output json.")
@click.pass_context
def doctor(ctx: click.Context, output: str, as_json: bool) -> None:
    """Which runtime can run here: Python, Node, each tool and the Docker daemon (found and wanted), every port
    of both runtimes, disk space."""
    from devtools.doctor import diagnose, print_report

    report = diagnose(REPO_ROOT)
    if structured_output(output, as_json) == "json":
        print_document(report.document, "json")
    else:
        print_report(report, out)
    ctx.exit(report.exit_code)


@cli.group()
def images() -> None:
    """Container images of the services (docker-bake.json)."""


@images.command("build", epilog=epilog(*COMMON))
@click.option("--push", is_flag=True, help="Push to the local registry (localhost:5001).")
@click.option("--tag", default=None, help="Image tag (default: the git revision, -dirty if modified).")
@click.argument("names", nargs=-1, type=click.Choice(COMPONENTS))
def images_build(push: bool, tag: str | None, names: tuple[str, ...]) -> None:
    """Build (and push) localhost:5001/cartridge-<name>:<tag>, reusing the build cache."""
    from devtools.kind.images import build_images

    for image in build_images(names=list(names) or None, tag=tag, push=push, progress=_progress):
        out.print(f"{image.ref}  {image.size_mb:.0f} MB{'  pushed' if push else ''}")


def main() -> None:
    """The console script: DevtoolsGroup handles what a command raises; this, what click raises around it."""
    try:
        code = cli.main(standalone_mode=False)  # a command's ctx.exit(code) comes back as its return value
    except (click.exceptions.Abort, KeyboardInterrupt):
        console.print("[yellow]interrupted[/]")
        sys.exit(ExitCode.INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else ExitCode.OK)


if __name__ == "__main__":
    main()
