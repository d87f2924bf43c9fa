"""Options more than one `devtools` command takes, and which runtime each runtime-specific option belongs to.

- Names and places: the kind cluster, the registry's container and port, the local data directory. Each is a
  flag and a CARTRIDGE_* variable (click's ``envvar``, so `--help` shows it), today's value by default, so two
  checkouts can keep apart. A value kind or Docker would refuse stops the command at parsing (exit 2).
- Runtime-specific options: a flag given on the command line that the chosen runtime would not read is a usage
  error naming the runtime it belongs to, never silently ignored. "Given" is click's parameter source: only
  the command line counts, since a CARTRIDGE_* variable exported for one runtime must not break the other.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click
from click.core import ParameterSource

from devtools.kind.names import (
    CLUSTER_VARIABLE,
    DEFAULT_CLUSTER,
    DEFAULT_REGISTRY_NAME,
    DEFAULT_REGISTRY_PORT,
    REGISTRY_NAME_VARIABLE,
    REGISTRY_PORT_VARIABLE,
    KindNames,
    cluster_name_problem,
    registry_name_problem,
)
from devtools.local.config import DATA_DIR_VARIABLE, DEFAULT_DATA_DIR
from devtools.paths import REPO_ROOT

LOCAL, KIND = "local", "kind"
# The options only one runtime reads, by parameter name.
RUNTIME_OF = {
    "detach": LOCAL,
    "data_dir": LOCAL,
    "web_port": LOCAL,
    "frontend_port": LOCAL,
    "no_frontend": LOCAL,
    "no_tilt": KIND,
    "tilt_mode": KIND,
    "cluster": KIND,
    "registry_name": KIND,
    "registry_port": KIND,
}


def refuse_foreign_options(ctx: click.Context, runtime: str, why: str) -> None:
    """A usage error (exit 2) when the command line gives an option that ``runtime`` does not read."""
    foreign = [
        param
        for param in ctx.command.params
        if RUNTIME_OF.get(param.name or "", runtime) != runtime
        and ctx.get_parameter_source(param.name or "") is ParameterSource.COMMANDLINE
    ]
    if not foreign:
        return
    flags = ", ".join("/".join(sorted(param.opts, key=len)) for param in foreign)
    owners = sorted({RUNTIME_OF[param.name or ""] for param in foreign})
    verb = "applies" if len(foreign) == 1 else "apply"
    raise click.UsageError(
        f"{flags} {verb} to the {' and '.join(owners)} runtime only, and this runs the {runtime} runtime ({why})",
        ctx,
    )


def _checked(problem: Callable[[str], str | None]):
    def callback(ctx: click.Context, param: click.Parameter, value: str) -> str:
        if (reason := problem(value)) is not None:
            raise click.BadParameter(reason, ctx, param)
        return value

    return callback


def data_dir_option(command):
    default = DEFAULT_DATA_DIR.relative_to(REPO_ROOT)
    return click.option(
        "--data-dir",
        type=click.Path(path_type=Path, file_okay=False),
        default=None,
        envvar=DATA_DIR_VARIABLE,
        show_envvar=True,
        help=f"local: the state, logs and data of the local runtime  [default: {default}/ in the checkout]",
    )(command)


def kind_names_options(command):
    """--cluster, --registry-name and --registry-port, with their variables."""
    options = [
        click.option(
            "--cluster",
            default=DEFAULT_CLUSTER,
            show_default=True,
            envvar=CLUSTER_VARIABLE,
            show_envvar=True,
            callback=_checked(cluster_name_problem),
            help="kind: the cluster's name (its kube context is kind-NAME).",
        ),
        click.option(
            "--registry-name",
            default=DEFAULT_REGISTRY_NAME,
            show_default=True,
            envvar=REGISTRY_NAME_VARIABLE,
            show_envvar=True,
            callback=_checked(registry_name_problem),
            help="kind: the local registry's container.",
        ),
        click.option(
            "--registry-port",
            type=click.IntRange(1, 65535),
            default=DEFAULT_REGISTRY_PORT,
            show_default=True,
            envvar=REGISTRY_PORT_VARIABLE,
            show_envvar=True,
            help="kind: the registry's port on 127.0.0.1; images are localhost:PORT/cartridge-*.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def kind_names(options: dict) -> KindNames:
    """The cluster and registry names out of a command's parsed options (removing them)."""
    return KindNames(options.pop("cluster"), options.pop("registry_name"), options.pop("registry_port"))
