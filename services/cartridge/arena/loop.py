"""The arena loop: rate each newest model version against the references and earlier versions.

Whenever it is free, the arena takes the newest published version it has not reached yet; the versions between
the last one it reached and that one (published while it was busy, or already deleted by retention) get a
"skipped" row that says why, so none goes missing silently. The version plays ``games`` games against each
reference and each of the last EARLIER_VERSIONS rated versions still in the store, colours alternating, each game
from its own seed (cartridge.arena.match). Its rating is then fitted over every game the arena ever stored, and the
version's row and games are written in one transaction. A kill -9 loses at most the version in play, which the
next start plays again from the same seeds.

Before the first version, the references play each other once (version 0, "calibration"), so their ratings stand
on games of their own and not only on games against models.

After each row the arena marks the newest version it reached in the model store (``ModelStore.mark_rated``), so
retention keeps every version it has yet to reach. Under ROLLOUT_POLICY=gated (``gate`` set) a rated version then
plays its gate against the store's best (cartridge.arena.gate); the result goes in the version's row (column
``gate``), and a version that passed is promoted after its row is written. A kill between the two is repaired at the
next start: the newest passed version in the rows is promoted if the store's best is older.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..games import Game
from ..inference import DEFAULT_ORT_THREADS, OnnxEvaluator, UniformEvaluator
from ..modelstore import CorruptModel, ModelStore
from .gate import UNIFORM, GateConfig, GateResult, play_gate
from .match import GameRecord, PlayerFactory, play_pairs, result_for
from .players import AlphaBetaPlayer, MctsPlayer, MinimaxPlayer, NetworkPlayer, RandomPlayer
from .positions import labelled_positions, optimal_share
from .ratings import ANCHOR, fit_ladder
from .ratings_store import CALIBRATION, RATED, SKIPPED, AlreadyRecorded, RatingsStore, VersionResult

EARLIER_VERSIONS = 3  # earlier rated versions each new one plays: enough to link the ladder, few enough to stay quick


def player_name(version: int) -> str:
    """The name a model version plays, and is rated, under in the arena: ``v7``."""
    return f"v{version}"


@dataclass(frozen=True)
class ArenaConfig:
    games: int  # per opponent
    sims: int  # MCTS simulations per move of a model
    ort_threads: int = DEFAULT_ORT_THREADS  # ONNX Runtime's intra-op threads per model (ORT_THREADS)

    def __post_init__(self) -> None:
        if self.games < 1 or self.sims < 1:
            raise ValueError(f"arena games and sims must be >= 1 (got {self.games}, {self.sims})")


def reference_players(game: Game) -> dict[str, PlayerFactory]:
    """Random (the rating's anchor), alpha-beta at the game's ``reference_depth``, and perfect minimax when the game
    is ``solvable``."""
    depth = game.reference_depth
    players: dict[str, PlayerFactory] = {
        ANCHOR: lambda rng: RandomPlayer(game, rng),
        f"alphabeta-d{depth}": lambda rng: AlphaBetaPlayer(game, rng, depth),
    }
    if game.solvable:
        players["minimax"] = lambda rng: MinimaxPlayer(game, rng)
    return players


class Arena:
    def __init__(
        self,
        game: Game,
        *,
        store: ModelStore,
        ratings: RatingsStore,
        config: ArenaConfig,
        log,
        on_result: Callable[[VersionResult, dict[str, float]], None] = lambda result, ladder: None,
        should_stop: Callable[[], bool] = lambda: False,
        gate: GateConfig | None = None,
    ) -> None:
        """The arena for ``game``.

        Args:
          game: the game every version is rated at (the service's ENV_ID).
          store: the model store the versions are read from; told the newest version reached (``mark_rated``) and,
            under a gate, which version is the best (``promote``).
          ratings: where each version's row and games are written, and the games every rating is fitted over.
          config: games per opponent and MCTS simulations per move of a model.
          log: a structlog logger.
          on_result: called with each new row and the refitted ladder (player name -> rating; empty for a skip),
            for metrics.
          should_stop: checked between games; a stopped arena records nothing of the version in play.
          gate: the promotion gate under ROLLOUT_POLICY=gated; None under ROLLOUT_POLICY=always (the arena only rates).
        """
        self.game, self.store, self.ratings, self.config, self.log = game, store, ratings, config, log
        self.on_result, self.should_stop, self.gate = on_result, should_stop, gate
        self.references = reference_players(game)
        self.busy_with: int | None = None
        self._marked: int | None = None  # the mark last written to the store
        self._best_checked = False

    @property
    def env_id(self) -> str:
        return self.game.name

    def ladder(self, extra: list[GameRecord] = ()) -> dict[str, float]:
        """Ratings of every player over all stored games (plus ``extra``)."""
        games = self.ratings.games(self.env_id) + list(extra)
        return fit_ladder(games)

    def calibrate(self) -> None:
        """Version 0: each pair of references plays once, the first time the arena starts for this game."""
        if 0 in self.ratings.statuses(self.env_id):
            return
        names = list(self.references)
        records = []
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                pair = ((a, self.references[a]), (b, self.references[b]))
                records += play_pairs(
                    self.game, *pair, self.config.games, f"{self.env_id}:calibration", self.should_stop
                )
        if self.should_stop():
            return
        self._record(
            VersionResult(self.env_id, 0, CALIBRATION, games=len(records), note="references vs references"), records
        )

    def pending(self) -> tuple[int | None, dict[int, str]]:
        """The newest published version not reached yet, and the versions to skip on the way (-> why)."""
        manifest = self.store.latest(self.env_id)
        if manifest is None:
            return None, {}
        reached = max(self.ratings.statuses(self.env_id), default=0)
        if manifest.version <= reached:
            return None, {}
        stored = set(self.store.versions(self.env_id))
        skipped = {
            v: "published while the arena was busy" if v in stored else "deleted from the model store before its turn"
            for v in range(reached + 1, manifest.version)
        }
        return manifest.version, skipped

    def step(self) -> VersionResult | None:
        """Rate the newest unrated version (skipping the ones before it); None when there is none (or stopped)."""
        self._mark_rated()
        if not self._best_checked:
            self._promote_passed()
            self._best_checked = True
        version, skipped = self.pending()
        if skipped:
            self._skip(skipped)
            self._mark_rated()
            self.log.info("versions skipped", versions=sorted(skipped), newest=version)
        if version is None:
            return None
        self.busy_with = version
        try:
            return self.rate(version)
        finally:
            self.busy_with = None
            self._mark_rated()

    def _mark_rated(self) -> None:
        """Tell the store the newest version reached (0 before any), when it changed."""
        reached = max(self.ratings.statuses(self.env_id), default=0)
        if reached != self._marked:
            self.store.mark_rated(self.env_id, reached)
            self._marked = reached

    def _promote_passed(self) -> None:
        """The newest version whose gate passed becomes the best if the store's best is older (a kill came
        between its row and its promotion)."""
        if self.gate is None:
            return
        passed = [r for r in self.ratings.results(self.env_id) if r.gate and r.gate["promoted"]]
        best = self.store.best(self.env_id)
        if passed and (best is None or best.version < passed[-1].version):
            gate = GateResult(**passed[-1].gate)
            self._promote(passed[-1].version, gate)

    def _promote(self, version: int, gate: GateResult) -> None:
        self._best_checked = False  # until the store has it: a failed write is made again by the next step
        self.store.promote(self.env_id, version, gate.reason())
        self._best_checked = True
        self.log.info("version promoted to best", version=version, score=gate.score, against=gate.against)

    def play_gate(self, name: str, player: MctsPlayer) -> GateResult | None:
        """The candidate against the store's best (the uniform prior before any); None when stopped."""
        best = self.store.best(self.env_id)
        if best is None:
            uniform = MctsPlayer(self.game, UniformEvaluator(self.game.action_size), self.config.sims)
            opponent = (UNIFORM, lambda rng: uniform)
        else:  # retention keeps the best's file: a CorruptModel here is a damaged store, retried by the service
            best_player, _ = self.model_player(best.version)
            opponent = (player_name(best.version), lambda rng: best_player)
        return play_gate(self.game, (name, lambda rng: player), opponent, self.gate, self.should_stop)

    def _skip(self, versions: dict[int, str]) -> None:
        self.ratings.record_skipped(self.env_id, versions)
        for version, note in versions.items():
            self.on_result(VersionResult(self.env_id, version, SKIPPED, note=note), {})

    def model_player(self, version: int) -> tuple[MctsPlayer, OnnxEvaluator]:
        evaluator = OnnxEvaluator(self.store.read_version(self.env_id, version), version, self.config.ort_threads)
        return MctsPlayer(self.game, evaluator, self.config.sims), evaluator

    def opponents(self, version: int) -> dict[str, PlayerFactory]:
        earlier = sorted(v for v, s in self.ratings.statuses(self.env_id).items() if s == RATED and v < version)
        opponents = dict(self.references)
        for v in earlier[-EARLIER_VERSIONS:]:
            try:
                player, _ = self.model_player(v)
            except CorruptModel as exc:  # deleted by retention since: the ladder links through the others
                self.log.info("earlier version unavailable, not played", version=v, reason=str(exc))
                continue
            opponents[player_name(v)] = lambda rng, player=player: player
        return opponents

    def rate(self, version: int) -> VersionResult | None:
        """Play and record ``version``; None (nothing recorded) when stopped before the end."""
        name = player_name(version)
        try:
            player, evaluator = self.model_player(version)
        except CorruptModel as exc:
            self._skip({version: f"unreadable: {exc}"})
            self.log.warning("version skipped: unreadable", version=version, error=str(exc))
            return VersionResult(self.env_id, version, SKIPPED, note=f"unreadable: {exc}")
        self.log.info("rating version", version=version, games_per_opponent=self.config.games)
        records: list[GameRecord] = []
        scores = {}
        for opponent, factory in self.opponents(version).items():
            played = play_pairs(
                self.game,
                (name, lambda rng: player),
                (opponent, factory),
                self.config.games,
                f"{self.env_id}:{name}",
                self.should_stop,
            )
            if self.should_stop():
                return None
            result = result_for(name, played)
            scores[opponent] = {
                "games": result.games,
                "wins": result.wins,
                "draws": result.draws,
                "losses": result.losses,
                "score": round(result.score, 4),
            }
            records += played
        gate = None
        if self.gate is not None:
            gate = self.play_gate(name, player)
            if gate is None:
                return None
        positions = labelled_positions(self.game)
        network = NetworkPlayer(self.game, evaluator)
        shares = [
            optimal_share(self.game, positions, chooser.choose_many, self.should_stop) for chooser in (player, network)
        ]
        if self.should_stop() or None in shares:
            return None
        ladder = self.ladder(records)
        result = VersionResult(
            self.env_id,
            version,
            RATED,
            rating=round(ladder[name], 2),
            scores=scores,
            optimal_search=round(shares[0], 4),
            optimal_network=round(shares[1], 4),
            games=len(records),
            gate=None if gate is None else gate.to_dict(),
        )
        if self._record(result, records, ladder) and gate is not None and gate.promoted:
            self._promote(version, gate)
        return result

    def _record(self, result: VersionResult, records: list[GameRecord], ladder: dict[str, float] | None = None) -> bool:
        """Store the row and its games; False if the version had a row already."""
        try:
            self.ratings.record(result, records)
        except AlreadyRecorded:
            self.log.warning("version already has an arena row: not rated twice", version=result.version)
            return False
        ladder = ladder if ladder is not None else self.ladder()
        self.log.info(
            "version rated" if result.status == RATED else "references calibrated",
            version=result.version,
            rating=result.rating,
            scores={k: v["score"] for k, v in result.scores.items()},
            optimal_search=result.optimal_search,
            optimal_network=result.optimal_network,
            gate=result.gate,
        )
        self.on_result(result, ladder)
        return True
