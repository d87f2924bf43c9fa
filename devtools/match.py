"""`devtools match A B`: an on-demand match between any two players, on the runtime that runs the stack.

The match is `python -m cartridge_arena.match play` (services/arena/cartridge_arena/match.py) in both runtimes: a
process with the local runtime's environment (devtools.local.match), or a Job made from the `cartridge-match`
template on kind (devtools.kind.match). Its last line is the result, which `python -m cartridge_arena.match record`
then stores as a row of its own in the arena's ratings store, where the arena's database login is. Progress (a line
per game) goes to stderr, the result to stdout: text, or with `-o json` the result object itself. A loss is a
result, not an error: the exit code is non-zero only when no result could be had or stored.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console

from cartridge.games import GAME_NAMES
from devtools.cli_options import data_dir_option, kind_names, kind_names_options, refuse_foreign_options
from devtools.errors import DevtoolsError
from devtools.exit_codes import COMMON, epilog
from devtools.kind.names import KindNames
from devtools.local.config import LocalConfig, default_data_dir
from devtools.match_run import MatchRequest, new_match_id
from devtools.process import Progress


def checked_players(request: MatchRequest, files_allowed: bool) -> MatchRequest:
    """The request with each player's words checked (cartridge.arena.contenders.parse_player) before a process or a
    Job starts, and an ONNX file's path made absolute (the match process runs from the repository root)."""
    from cartridge.arena.contenders import PlayerError, parse_player

    players = []
    for text in (request.a, request.b):
        try:
            spec = parse_player(text)
        except PlayerError as exc:
            raise DevtoolsError(str(exc), "e.g. `devtools match latest minimax` or `devtools match v3 v7`") from None
        if spec.kind == "file":
            if not files_allowed:
                raise DevtoolsError(
                    f"player {text!r} is a file on this machine, and the match Job reads models from the cluster's "
                    "model store only",
                    "play it on the local runtime (`--runtime local`), or name a published version (v12, latest, best)",
                )
            text = str(spec.path.resolve())
        players.append(text)
    a, b = players
    return MatchRequest(a, b, request.games, request.sims, request.env_id, request.seed, request.match_id)


def runner_for(requested: str, data_dir: Path | None, progress: Progress, names: KindNames | None = None):
    """Where the match plays (LocalMatch or KindMatch): the runtime asked for, or with auto the one that runs (the
    local runtime first, as `devtools status`), else the local runtime's data when there is some."""
    from devtools.local import LocalRuntime

    directory = data_dir or default_data_dir()
    local = LocalRuntime.attach(directory, progress)
    if requested == "local" or (requested == "auto" and local.running()):
        return local_match(local.config)
    names = names or KindNames()
    if requested == "kind" or kind_running(progress, names):
        from devtools.kind.match import KindMatch

        return KindMatch(progress, names)
    if (directory / "models").is_dir():
        return local_match(local.config)
    raise DevtoolsError(
        f"nothing to play against: no local runtime data in {directory} and no kind cluster `{names.cluster}`",
        "start the stack with `devtools up` (or point --data-dir at a local runtime's data)",
    )


def local_match(config: LocalConfig):
    from devtools.local.match import LocalMatch

    if not config.data_dir.is_dir():
        raise DevtoolsError(
            f"no local runtime data in {config.data_dir}",
            "start it with `devtools up --runtime local`, or pass --data-dir",
        )
    return LocalMatch(config)


def kind_running(progress: Progress, names: KindNames) -> bool:
    from devtools.runtimes import kind_runtime, kind_tools_usable

    return kind_tools_usable() and kind_runtime(progress, names).running()


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}{'es' if word.endswith('s') else 's'}"


def signed(value: float | None, unbounded: str) -> str:
    return unbounded if value is None else f"{value:+.0f}"


def described(player: dict) -> str:
    """v12, or v12 (latest) when it was asked for by another name."""
    spec = player.get("spec") or player["name"]
    return player["name"] if player["kind"] != "model" or spec == player["name"] else f"{player['name']} ({spec})"


def text_lines(result: dict) -> list[str]:
    """The result for a person: who played, W/D/L (and by colour), the score with its interval, the Elo difference."""
    a, b, r = result["players"]["a"], result["players"]["b"], result["result"]
    sims = a.get("sims") or b.get("sims")
    setting = f"{r['games']} games" + (f", {sims} sims" if sims else "") + f", seed {result['seed']}"
    first, second = result["by_colour"]["a_first"], result["by_colour"]["a_second"]

    def wdl(t: dict) -> str:
        return f"{t['wins']}/{t['draws']}/{t['losses']}"

    confidence = f"{r['confidence']:.0%}".replace("%", " %")
    counts = ", ".join(plural(r[key], word) for key, word in (("wins", "win"), ("draws", "draw"), ("losses", "loss")))
    return [
        f"{described(a)} against {described(b)}  ·  {result['env_id']}  ·  {setting}",
        f"{a['name']}: {counts}  (moving first {wdl(first)}, second {wdl(second)})",
        f"score {r['score']:.3f}, {confidence} CI {r['score_low']:.3f} to {r['score_high']:.3f} "
        f"({r['method'].capitalize()} interval; a draw counts half)",
        f"Elo difference {signed(r['elo'], '+inf' if r['score'] == 1 else '-inf')}, {confidence} CI "
        f"{signed(r['elo_low'], '-inf')} to {signed(r['elo_high'], '+inf')}",
    ]


@click.command(epilog=epilog(*COMMON, ok="the match was played and recorded, whoever won"))
@click.argument("a")
@click.argument("b")
@click.option("--games", type=click.IntRange(1, 100_000), default=None, help="Games; colours alternate [ARENA_GAMES].")
@click.option("--sims", type=click.IntRange(1, 100_000), default=None, help="MCTS simulations per move [ARENA_SIMS].")
@click.option("--env-id", type=click.Choice(GAME_NAMES), default=None, help="The game [the stack's ENV_ID].")
@click.option("--seed", type=click.IntRange(0, 2**31 - 1), default=None, help="The openings' seed [random, reported].")
@click.option("--runtime", type=click.Choice(["auto", "local", "kind"]), default="auto", show_default=True)
@data_dir_option
@kind_names_options
@click.option("--output", "-o", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
def match(ctx: click.Context, runtime: str, data_dir: Path | None, output: str, **options) -> None:
    """Play A against B and store the result in the arena's ratings store.

    A and B: a model version (v12), latest, best, an ONNX file (local runtime), or a reference player: random,
    alphabeta[:DEPTH], minimax (a game the arena can solve). The result is from A's side.
    """
    console = Console(stderr=True, highlight=False)

    quiet = ctx.obj is not None and ctx.obj.quiet  # devtools -q: the result and errors only

    def progress(message: str) -> None:
        if not quiet:
            console.print(message, style="dim", markup=False, soft_wrap=True)

    if runtime != "auto":  # a flag the asked-for runtime does not read is refused, as by `up` and `down`
        refuse_foreign_options(ctx, runtime, f"--runtime {runtime}")
    names = kind_names(options)
    runner = runner_for(runtime, data_dir, progress, names)
    refuse_foreign_options(ctx, runner.name, f"the match plays on the {runner.name} runtime")
    request = checked_players(MatchRequest(**options, match_id=new_match_id()), files_allowed=runner.name == "local")
    where = f"match {request.match_id} on the {runner.name} runtime"
    progress(f"{where}: {request.a} against {request.b}")
    result = runner.play(request, progress)
    if output == "json":
        click.echo(json.dumps(result, indent=2, sort_keys=True))
    else:
        click.echo("\n".join(text_lines(result)))
    stored = runner.record(result)
    shown = "under Matches on the dashboard and in /stats"
    progress(f"recorded as match {stored['recorded']} ({shown})")
