"""The players of an on-demand match (`devtools match A B`), named as the user names them.

A player is one of:
  v12              a model version in the store (MCTS over it, as the arena plays a version)
  latest, best     the version the store's latest or best manifest names (hash-checked as it is read)
  PATH.onnx        an ONNX file on this machine (MCTS over it)
  random           the random player (the ratings' anchor)
  alphabeta[:N]    depth-N alpha-beta with the game's line heuristic (N: the game's reference depth if omitted;
                   the arena's name, alphabeta-dN, is accepted too)
  minimax          perfect play, for a game the arena can solve (``Game.solvable``)

``parse_player`` checks the words alone (so devtools can refuse a bad one before it starts a process or a Job);
``resolve`` makes the player for a game, reading a model from the store or the disk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..games import Game
from ..inference import DEFAULT_ORT_THREADS, OnnxEvaluator
from ..modelstore import DEFAULT_MODEL_MAX_BYTES, ModelStore, sha256_hex
from .loop import player_name
from .match import PlayerFactory
from .players import AlphaBetaPlayer, MctsPlayer, MinimaxPlayer, RandomPlayer
from .ratings import ANCHOR

POINTERS = ("latest", "best")
VERSION = re.compile(r"^v(\d+)$")
ALPHABETA = re.compile(r"^alphabeta(?:[:]|-d)?(\d*)$")
GRAMMAR = "a model version (v12), latest, best, an ONNX file (PATH.onnx), random, alphabeta[:DEPTH] or minimax"


class PlayerError(ValueError):
    """A player that cannot be played: the message says which and why, in one sentence."""


@dataclass(frozen=True)
class PlayerSpec:
    text: str  # as given
    kind: str  # "model" (a version or a pointer), "file" or "reference"
    version: int | None = None  # model: vN
    pointer: str | None = None  # model: latest | best
    path: Path | None = None  # file
    reference: str | None = None  # reference: random | alphabeta | minimax
    depth: int | None = None  # alphabeta's, when given


def parse_player(text: str) -> PlayerSpec:
    """The player ``text`` names (words only: no store or file is read); PlayerError when it names none."""
    word = text.strip()
    if match := VERSION.match(word):
        if int(match.group(1)) < 1:
            raise PlayerError(f"player {text!r}: model versions start at v1")
        return PlayerSpec(text, "model", version=int(match.group(1)))
    if word in POINTERS:
        return PlayerSpec(text, "model", pointer=word)
    if word in (ANCHOR, "minimax"):
        return PlayerSpec(text, "reference", reference=word)
    if match := ALPHABETA.match(word):
        depth = int(match.group(1)) if match.group(1) else None
        if depth is not None and depth < 1:
            raise PlayerError(f"player {text!r}: alpha-beta needs a depth of at least 1")
        return PlayerSpec(text, "reference", reference="alphabeta", depth=depth)
    if word.endswith(".onnx") or "/" in word:
        return PlayerSpec(text, "file", path=Path(word).expanduser())
    raise PlayerError(f"player {text!r} is not one this project knows: expected {GRAMMAR}")


@dataclass(frozen=True)
class Contender:
    """A resolved player: its name in the games and the record, and how to make it for a game's seat."""

    name: str  # v12, random, alphabeta-d4, minimax, file:NAME.onnx
    spec: str  # what was asked for: latest, v12, ...
    kind: str  # model | file | reference
    factory: PlayerFactory
    version: int | None = None
    sha256: str | None = None
    sims: int | None = None  # MCTS simulations per move (models and files)

    def describe(self) -> dict:
        described = {"name": self.name, "spec": self.spec, "kind": self.kind}
        optional = {"version": self.version, "sha256": self.sha256, "sims": self.sims}
        return described | {key: value for key, value in optional.items() if value is not None}


def resolve(
    spec: PlayerSpec,
    game: Game,
    store: ModelStore,
    *,
    sims: int,
    ort_threads: int = DEFAULT_ORT_THREADS,
    max_model_bytes: int = DEFAULT_MODEL_MAX_BYTES,
) -> Contender:
    """The player ``spec`` names, for ``game``: models from ``store`` (CorruptModel / ModelStoreUnavailable pass
    through), files from the disk (at most ``max_model_bytes``); PlayerError for one that does not exist."""
    if spec.kind == "reference":
        return _reference(spec, game)
    if spec.kind == "file":
        model, name = _read_file(spec.path, max_model_bytes), f"file:{spec.path.name}"
        version = None
    else:
        version, model = _read_model(spec, game, store)
        name = player_name(version)
    player = MctsPlayer(game, OnnxEvaluator(model, version or 0, ort_threads), sims)
    return Contender(name, spec.text, spec.kind, lambda rng: player, version, sha256_hex(model), sims)


def _reference(spec: PlayerSpec, game: Game) -> Contender:
    if spec.reference == ANCHOR:
        return Contender(ANCHOR, spec.text, "reference", lambda rng: RandomPlayer(game, rng))
    if spec.reference == "minimax":
        if not game.solvable:
            raise PlayerError(
                f"{game.name} has no minimax player: the arena cannot solve it; use alphabeta:DEPTH "
                f"(its reference plays alphabeta:{game.reference_depth})"
            )
        return Contender("minimax", spec.text, "reference", lambda rng: MinimaxPlayer(game, rng))
    depth = spec.depth or game.reference_depth
    # The arena's name for its alpha-beta reference, so a match's players read as the ratings' do.
    return Contender(f"alphabeta-d{depth}", spec.text, "reference", lambda rng: AlphaBetaPlayer(game, rng, depth))


def _read_file(path: Path, max_bytes: int) -> bytes:
    if not path.is_file():
        raise PlayerError(f"player {str(path)!r}: no such ONNX file")
    size = path.stat().st_size
    if size > max_bytes:  # refused before it is read, as the store refuses one (MODEL_MAX_BYTES)
        raise PlayerError(f"player {str(path)!r}: {size} bytes is over MODEL_MAX_BYTES={max_bytes}")
    return path.read_bytes()


def _read_model(spec: PlayerSpec, game: Game, store: ModelStore) -> tuple[int, bytes]:
    if spec.pointer is not None:
        fetched = store.fetch(game.name, spec.pointer)
        if fetched is None:
            why = (
                "the trainer publishes v1 after its first iteration"
                if spec.pointer == "latest"
                else "the arena promotes one only under ROLLOUT_POLICY=gated"
            )
            raise PlayerError(f"player {spec.text!r}: {game.name} has no {spec.pointer} model yet ({why})")
        manifest, model = fetched
        return manifest.version, model
    stored = store.versions(game.name)
    if spec.version not in stored:
        have = f"v{stored[0]}-v{stored[-1]}" if stored else "none yet"
        raise PlayerError(
            f"player {spec.text!r}: {game.name} has no version {spec.version} in the store (it holds {have}; "
            "retention keeps the newest MODEL_KEEP_VERSIONS, the best and those the arena has not reached)"
        )
    return spec.version, store.read_version(game.name, spec.version)
