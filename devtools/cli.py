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
from pathlib import Path

import click
import yaml
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from cartridge.games import GAME_NAMES
from devtools.cli_options import data_dir_option, kind_names, kind_names_options, refuse_foreign_options
from devtools.errors import DevtoolsError, NothingRunning
from devtools.exit_codes import COMMON, ExitCode, epilog
from devtools.kind.bake import COMPONENTS
from devtools.kind.names import REGISTRY_PORT_VARIABLE
from devtools.local import LocalRuntime
from devtools.local.config import default_data_dir
from devtools.logs import LogPrinter, LogQuery
from devtools.match import match
from devtools.paths import REPO_ROOT
from devtools.ports import LOCAL_FRONTEND, LOCAL_WEB
from devtools.progress import StepReporter
from devtools.runtime import StackView
from devtools.runtimes import UpOptions, choose_runtime, down_scope, kind_runtime, running_runtime, runtime_for_up
from devtools.teardown import confirm_deletion
from devtools.timeflags import DurationType, SinceType, format_duration
from devtools.verbosity import Reporter, Verbosity
from devtools.wait import Waiting, WaitTimeout, deadline

# Tables stay readable when piped (rich would wrap them at 80 columns).
console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)
out = Console(width=None if sys.stdout.isatty() else 160)


def _progress(message: str) -> None:
    """Progress of the commands without steps (down, status, logs): a line each, but not a wait's every second."""
    if not isinstance(message, Waiting):
        console.print(Text(f"… {message}", style="dim"), soft_wrap=True, highlight=False)


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
            console.print(f"[red]error:[/] {escape(exc.message)}", highlight=False, soft_wrap=True)
            if exc.hint:
                console.print(f"[dim]hint:[/] {escape(exc.hint)}", highlight=False, soft_wrap=True)
            ctx.exit(exc.exit_code)
        except (KeyboardInterrupt, click.exceptions.Abort):
            console.print("[yellow]interrupted[/]")
            ctx.exit(ExitCode.INTERRUPTED)


# click's shell completion (click 8: click.shell_completion): the shell asks `devtools` itself, with
# _DEVTOOLS_COMPLETE set, for the words that fit. \b keeps click from rewrapping the lines.
COMPLETION = """Shell completion: add one line to your shell's start-up file (devtools on PATH, e.g. .venv/bin):

\b
  bash (~/.bashrc):  eval "$(_DEVTOOLS_COMPLETE=bash_source devtools)"
  zsh (~/.zshrc):    eval "$(_DEVTOOLS_COMPLETE=zsh_source devtools)"
  fish:              _DEVTOOLS_COMPLETE=fish_source devtools > ~/.config/fish/completions/devtools.fish
"""


@click.group(
    cls=DevtoolsGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=COMPLETION
    + "\n"
    + epilog(*ExitCode, ok="success (`status`: every component healthy; `doctor`: a runtime can run)"),
)
@click.version_option(package_name="cartridge", prog_name="devtools", message="%(prog)s %(version)s")
@click.option("-v", "--verbose", is_flag=True, help="Also show what kind, docker and kubectl print, as they print it.")
@click.option("-q", "--quiet", is_flag=True, help="Print errors only (and what a command is asked for).")
@click.pass_context
def cli(ctx: click.Context, verbose: bool, quiet: bool) -> None:
    """Bring the Cartridge self-play stack up on kind (with Tilt) or as local processes."""
    if verbose and quiet:
        raise click.UsageError("-v/--verbose and -q/--quiet cannot be used together", ctx)
    level = Verbosity.VERBOSE if verbose else Verbosity.QUIET if quiet else Verbosity.NORMAL
    ctx.obj = Reporter(level, console, _progress)


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
@data_dir_option
@click.option(
    "--web-port", type=click.IntRange(1, 65535), default=None, help=f"local: the web's port [default: {LOCAL_WEB}]."
)
@click.option(
    "--frontend-port",
    type=click.IntRange(1, 65535),
    default=None,
    help=f"local: the Vite dev server's port [default: {LOCAL_FRONTEND}].",
)
@click.option("--no-frontend", is_flag=True, help="local: do not start the Vite dev server.")
@click.option(
    "--monitoring",
    is_flag=True,
    help="Also run Prometheus, scraping every service and evaluating the alerts, and print its URL (local: the "
    "`prometheus` on PATH; kind: k8s/local-monitoring, with Grafana and its dashboards too).",
)
@kind_names_options
@click.option(
    "--timeout",
    type=DurationType(),
    default=None,
    help="Bound all of up's waiting together, e.g. 90s, 10m, 1h (past it, up stops and names the step it was on).  "
    "[default: each wait its own bound, the rollouts 10m]",
)
@click.pass_context
def up(
    ctx: click.Context,
    runtime: str,
    no_tilt: bool,
    tilt_mode: str,
    no_frontend: bool,
    timeout: float | None,
    **options,
) -> None:
    """Bring the whole stack up (idempotent: running it twice changes nothing). Each step is a line with its
    time; on a terminal the current one also shows what it waits for.

    An option marked local: or kind: is for that runtime only; given to the other, it is refused."""
    reporter: Reporter = ctx.obj
    if runtime != "auto":  # refused before anything is probed
        refuse_foreign_options(ctx, runtime, f"--runtime {runtime}")
    chosen, why = choose_runtime(runtime)
    refuse_foreign_options(ctx, chosen, f"{why}; --runtime chooses")
    reporter.note(f"[bold]runtime: {chosen}[/] ({escape(why)})")
    names = kind_names(options)
    wanted = UpOptions(tilt=None if no_tilt else tilt_mode, frontend=not no_frontend, kind_names=names, **options)
    view, current = None, "starting"
    with StepReporter(console) as report, deadline(timeout):
        stack = runtime_for_up(chosen, wanted, reporter.quiet_or(report), reporter.echo)
        try:
            for phase in stack.up_phases():
                current = phase.what
                if not phase.spinner:  # another program takes the terminal: no spinner over it
                    report.finish()
                    reporter.note(escape(phase.what))
                view = phase.run()
        except WaitTimeout as exc:
            if exc.deadline is None:
                raise
            report.finish(ok=False)
            raise DevtoolsError(
                f"--timeout {format_duration(exc.deadline)} ran out during “{report.failed or current}”: "
                f"{exc.what} was not ready yet ({exc.reason})",
                "; ".join(filter(None, (exc.hint, "or give it longer with --timeout"))),
            ) from None
    if view is not None and not reporter.quiet:
        out.print(table(view))
        reporter.note("`devtools status` shows it again, `devtools logs -f` follows the logs, `devtools down` stops.")


@cli.command(epilog=epilog(*COMMON))
@click.option(
    "--runtime",
    type=click.Choice(["auto", "local", "kind"]),
    default="auto",
    show_default=True,
    help="auto: the runtime that is up (if both are, say which).",
)
@click.option(
    "--all",
    "everything",
    is_flag=True,
    help="Also delete the data: local, the data directory (replay, models, checkpoints); kind, the cluster and "
    "the registry (only those devtools created).",
)
@click.option("--yes", "-y", is_flag=True, help="Delete without asking (needed where there is no terminal to ask).")
@data_dir_option
@kind_names_options
@click.pass_context
def down(ctx: click.Context, runtime: str, everything: bool, yes: bool, data_dir: Path | None, **options) -> None:
    """Stop what `up` started on the runtime that is up; nothing keeps running and no port stays bound.

    Asks before it deletes data for good: on kind that is the namespace's volumes (or with --all the cluster
    and the registry), locally the data directory with --all."""
    reporter: Reporter = ctx.obj
    if runtime != "auto":
        refuse_foreign_options(ctx, runtime, f"--runtime {runtime}")
    data_dir, names = data_dir or default_data_dir(), kind_names(options)
    runtimes = {
        "local": LocalRuntime.attach(data_dir, reporter.progress),
        "kind": kind_runtime(reporter.progress, names, reporter.echo),
    }
    scoped = down_scope(runtime, runtimes, everything)
    if not scoped:
        absent = {
            "local": f"no local runtime {'and no data ' if everything else ''}in {data_dir}",
            "kind": f"no stack on a kind cluster {names.cluster}, and no container devtools made for one",
        }
        found = " and ".join(v for k, v in absent.items() if runtime in ("auto", k))
        reporter.note(escape(f"nothing to take down: {found}"))
        return
    ((stack, plan),) = scoped
    refuse_foreign_options(ctx, stack.name, f"the {stack.name} runtime is the one that is up")
    confirm_deletion([plan], assume_yes=yes, console=console)
    stack.down(everything)
    done = [f"stopped {'; '.join(plan.stops)}"] if plan.stops else []
    done += [f"deleted {'; and '.join(plan.deletes)}"] if plan.deletes else []
    reporter.note(escape(f"{stack.name} runtime: {', '.join(done)}"))


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
@data_dir_option
@kind_names_options
@click.pass_context
def status(ctx: click.Context, watch: bool, output: str, as_json: bool, data_dir: Path | None, **options) -> None:
    """Components, health, episodes, iteration, model version and URLs (the Gateway's on kind)."""
    output = structured_output(output, as_json)
    if watch and output != "table":
        raise click.BadOptionUsage("watch", f"--watch refreshes the table; --output {output} prints once")
    names = kind_names(options)
    stack = running_runtime(data_dir, ctx.obj.progress, names)
    view = stack.view()
    if output != "table":
        print_document(view.document, output)
    elif not view.running:
        raise NothingRunning(
            f"nothing is running: no local runtime, and no Cartridge workloads on a kind cluster `{names.cluster}`",
            "start the stack with `devtools up`",
        )
    else:
        show(view, stack.view if watch else None)
    ctx.exit(view.exit_code)


@cli.command(epilog=epilog(*COMMON))
@click.argument("components", nargs=-1, metavar="[COMPONENT]...")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines, of every component without COMPONENT.")
@click.option(
    "--lines",
    "-n",
    type=click.IntRange(min=0),
    default=None,
    help="The last N lines of each component (kind: of each pod).  [default: 50, all with --since]",
)
@click.option("--since", type=SinceType(), help="Only newer lines: a duration (10s, 5m, 1h) or an RFC3339 time.")
@click.option("--timestamps", "-t", is_flag=True, help="Show when each line was written (RFC3339, UTC).")
@click.option("--previous", "-p", is_flag=True, help="kind: each pod's last terminated container (after a crash).")
@data_dir_option
@kind_names_options
@click.pass_context
def logs(
    ctx: click.Context, components: tuple[str, ...], follow: bool, lines: int | None, data_dir: Path | None, **options
) -> None:
    """The components' logs, each line behind its component's (kind: pod's) name; every component without
    COMPONENT. With -f, new lines as they come, until Ctrl-C."""
    names = kind_names(options)
    lines = 50 if lines is None and options["since"] is None else lines
    query = LogQuery(components, lines, follow, **options)
    stream = running_runtime(data_dir, ctx.obj.progress, names).logs(query)
    printer = LogPrinter(stream.components, timestamps=query.timestamps, flush=follow)
    try:
        for line in stream.lines:
            printer(line)
    except BrokenPipeError:  # `devtools logs | head`: the reader has all it wanted
        sys.stdout = None  # nothing more to flush into the closed pipe at exit


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
@click.option(
    "--monitoring",
    is_flag=True,
    help="Also the ports `up --monitoring` binds: Prometheus (both runtimes) and Grafana (kind).",
)
@data_dir_option
@kind_names_options
@click.pass_context
def doctor(ctx: click.Context, output: str, as_json: bool, monitoring: bool, data_dir: Path | None, **options) -> None:
    """Which runtime can run here: Python, Node, each tool and the Docker daemon (found and wanted), every port
    of both runtimes (as these names and places configure them), disk space."""
    from dataclasses import replace

    from devtools.doctor import diagnose, print_report

    local = LocalRuntime.attach(data_dir or default_data_dir())
    if monitoring:  # as `up --monitoring` would run: a running stack's own configuration keeps its ports
        local = LocalRuntime(replace(local.config, monitoring=True))
    kind = kind_runtime(lambda message: None, kind_names(options), monitoring=monitoring)
    report = diagnose(REPO_ROOT, local, kind)
    if structured_output(output, as_json) == "json":
        print_document(report.document, "json")
    else:
        print_report(report, out)
    ctx.exit(report.exit_code)


@cli.group()
def images() -> None:
    """Container images of the services (docker-bake.json)."""


@images.command("build", epilog=epilog(*COMMON))
@click.option("--push", is_flag=True, help="Push to the local registry (localhost:PORT).")
@click.option("--tag", default=None, help="Image tag (default: the git revision, -dirty if modified).")
@click.option(
    "--registry-port",
    type=click.IntRange(1, 65535),
    default=None,
    envvar=REGISTRY_PORT_VARIABLE,
    show_envvar=True,
    help="Name the images localhost:PORT/cartridge-*  [default: docker-bake.json's REGISTRY, localhost:5001].",
)
@click.argument("names", nargs=-1, type=click.Choice(COMPONENTS))
@click.pass_obj
def images_build(
    reporter: Reporter, push: bool, tag: str | None, registry_port: int | None, names: tuple[str, ...]
) -> None:
    """Build (and push) localhost:PORT/cartridge-<name>:<tag>, reusing the build cache."""
    from devtools.kind.images import build_images

    registry = f"localhost:{registry_port}" if registry_port is not None else None
    with StepReporter(console) as report:
        built = build_images(
            names=list(names) or None,
            tag=tag,
            push=push,
            progress=reporter.quiet_or(report),
            registry=registry,
            echo=reporter.echo,
        )
    for image in built:
        out.print(f"{image.ref}  {image.size_mb:.0f} MB{'  pushed' if push else ''}")


cli.add_command(match)


def main() -> None:
    """The console script: DevtoolsGroup handles what a command raises; this, what click raises around it."""
    try:
        # prog_name: `python -m devtools.cli` is devtools too (its usage lines, _DEVTOOLS_COMPLETE).
        code = cli.main(prog_name="devtools", standalone_mode=False)  # a command's ctx.exit(code) is returned
    except (click.exceptions.Abort, KeyboardInterrupt):
        console.print("[yellow]interrupted[/]")
        sys.exit(ExitCode.INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else ExitCode.OK)


if __name__ == "__main__":
    main()
