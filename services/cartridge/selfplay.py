"""Self-play: many games advance together, one batched search per move round.

Each round asks ``evaluator()`` for the network to use, so a model loaded by the poller is used
from the next move on. Moves are sampled in proportion to visit counts for the first
``temperature_moves`` plies (exploration), then the most visited move is played. Under Gumbel search
(``MctsConfig.root``, setting SELFPLAY_SEARCH) the search's own choice is played (as mctx's gumbel_muzero_policy
returns the action to play) and the recorded policy is its pi'. Its Gumbel draws, which make that choice a
sample, are drawn for the first ``temperature_moves`` plies only, as PUCT samples its moves there; later plies
play the noiseless winner. (The paper draws them at every ply; connect4 learned alike either way, and worse than
under PUCT: docs/benchmarks.md, "Gumbel search did not pay here".)

Two training-target methods, both off by default (plain AlphaZero; settings PLAYOUT_CAP_FULL_SHARE,
PLAYOUT_CAP_FAST_SIMS, VALUE_TARGET_MIX):

- Playout-cap randomisation (Wu 2019, "Accelerating Self-Play Learning in Go", section 3.1, as KataGo does
  it): only a share of the moves get the full search (with root noise) and become training positions; the
  others get a fast search without noise that only picks the move. The games run longer for the same
  cost, so more games' results reach the value head per simulation, while the policy targets still come
  from full searches.
- Value-target mixing: a position's value target is (1 - m) z + m q, z the game's result and q the full
  search's root value, both for the mover. q is less noisy than one game's result but biased by the
  network it came from; Oracle's Connect Four AlphaZero found averaging the two trained better than z alone
  (V. Abrams, "Lessons From AlphaZero (part 4): Improving the Training Target", Oracle Developers, 2018,
  https://medium.com/oracledevs/lessons-from-alphazero-part-4-improving-the-training-target-6efba2e71628).

A cost saver, off by default (setting SELFPLAY_REUSE_TREE):

- Subtree reuse (KataGo, Leela Zero): the played move's searched subtree is the next move's root, and the
  search tops it up to the round's budget, its visits counting toward it (BatchedMCTS.search_trees), so a move
  costs only the simulations its subtree lacks. The recorded policy is the root's whole visit distribution,
  reused visits included. A full round's root gets fresh noise for that search only; a fast round's none. The
  trees are dropped when their game ends and when the model changes (their priors and values are the old
  network's). Kept trees live between searches, outside the search's pause of the cyclic collector
  (cartridge.mcts): they hold no reference cycles, so reference counting frees what is dropped, and the
  collector's passes over the survivors are part of what bench.bench_selfplay measures.

Resignation, off by default (RESIGN_THRESHOLD, RESIGN_CHECK_SHARE; AlphaGo Zero, Leela Zero, KataGo): a game ends
when the side to move has valued its position below -threshold on 2 consecutive own full searches; its
opponent wins, and the episode holds the moves played until then. A share of games never resign and play on:
whether the player who would have resigned went on to win or draw is the false-positive rate the threshold is
tuned by (AlphaGo Zero kept it below 5% with 10% of games played out).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import numpy as np

from .games import Game, State
from .inference import Evaluator
from .mcts import BatchedMCTS, MctsConfig, Node
from .replay import Episode, transitions_from_steps

# Resignation's rule: this many consecutive own fully searched moves valued below -threshold.
RESIGN_MOVES = 2


def _opponent(player: int) -> int:
    return 2 if player == 1 else 1


@dataclass
class _Game:
    state: State
    started: float = field(default_factory=time.time)
    # The fully searched positions only: obs, policy, action, mover; and each one's root value for the mover.
    steps: list[tuple[np.ndarray, np.ndarray, int, int]] = field(default_factory=list)
    root_values: list[float] = field(default_factory=list)
    # Subtree reuse: the searched subtree of the move just played, the next search's root (None: a fresh root).
    root: Node | None = None
    # Resignation: whether this game is played out to check it (no resignation), each player's (1, 2) run of
    # fully searched own moves valued below -threshold so far, and in a check game the first player who would
    # have resigned (0: none).
    check: bool = False
    low_moves: list[int] = field(default_factory=lambda: [0, 0, 0])
    would_resign: int = 0


class SelfPlay:
    def __init__(
        self,
        game: Game,
        config: MctsConfig,
        parallel_games: int,
        temperature_moves: int | None = None,
        rng: np.random.Generator | None = None,
        actor_id: str = "",
        full_share: float = 1.0,
        fast_sims: int = 16,
        value_mix: float = 0.0,
        reuse_tree: bool = False,
        resign_threshold: float = 0.0,
        resign_check_share: float = 0.1,
    ) -> None:
        if not 0 < full_share <= 1:
            raise ValueError(f"SelfPlay full_share must be in (0, 1], got {full_share}")
        if fast_sims < 1:
            raise ValueError(f"SelfPlay fast_sims must be >= 1, got {fast_sims}")
        if not 0 <= value_mix <= 1:
            raise ValueError(f"SelfPlay value_mix must be in [0, 1], got {value_mix}")
        if not 0 <= resign_threshold < 1:
            raise ValueError(f"SelfPlay resign_threshold must be in [0, 1) (0: never resign), got {resign_threshold}")
        if not 0 <= resign_check_share <= 1:
            raise ValueError(f"SelfPlay resign_check_share must be in [0, 1], got {resign_check_share}")
        if reuse_tree and config.root == "gumbel":
            raise ValueError("SelfPlay reuse_tree needs root='puct': Sequential Halving schedules a fresh root")
        self.game = game
        self.config = config
        self.parallel_games = parallel_games
        self.temperature_moves = game.temperature_moves if temperature_moves is None else temperature_moves
        self.rng = rng or np.random.default_rng()
        self.actor_id = actor_id
        self.full_share, self.fast_sims, self.value_mix = full_share, fast_sims, value_mix
        self.reuse_tree = reuse_tree
        self.resign_threshold, self.resign_check_share = resign_threshold, resign_check_share
        self.simulations = 0  # simulations run (full and fast searches), for metrics
        self.unrecorded_games = 0  # games that ended with no fully searched move: nothing to learn, never yielded
        self.in_flight = 0  # games started and not yet finished, for metrics (0 outside play)
        self.resigned_games = 0  # games that ended by resignation
        # Check games (resignation off) in which a player met the resignation rule, and those of them that player
        # then won or drew: resign_false_positives / resign_checks is the share of resignations that were wrong.
        self.resign_checks = 0
        self.resign_false_positives = 0

    def play(
        self,
        evaluator: Callable[[], Evaluator],
        should_stop: Callable[[], bool] = lambda: False,
        max_episodes: int | None = None,
    ) -> Iterator[Episode]:
        first = evaluator()
        mcts = BatchedMCTS(self.game, first, self.config, self.rng)
        trees_from = first  # the network the kept subtrees' priors and values came from
        budget = max_episodes if max_episodes is not None else float("inf")
        slots = [self._new_game() for _ in range(int(min(self.parallel_games, budget)))]
        started, finished = len(slots), 0  # started: games that still count toward the budget
        try:
            while slots and not should_stop():
                self.in_flight = len(slots)
                current = evaluator()
                mcts.set_evaluator(current)
                if current is not trees_from:  # a new model: the kept trees hold the old one's priors and values
                    for g in slots:
                        g.root = None
                    trees_from = current
                states = [g.state for g in slots]
                # Full or fast once for the whole round: the games are independent, so each still sees a
                # coin flip per move, and one search call keeps them batched together. At a share of 1 no
                # coin is drawn, so a seeded run plays exactly as it did before playout caps existed.
                full = self.full_share >= 1 or self.rng.random() < self.full_share
                sims = self.config.simulations if full else self.fast_sims
                # Full searches get root noise; fast ones none: their move is meant to be good, not exploratory
                # (Wu 2019, section 3.1). Gumbel's noise is also how it picks the move to play, so it is drawn only
                # in the opening plies, as PUCT samples its moves there; later plies play the noiseless winner.
                noise: bool | list[bool] = full
                if full and self.config.root == "gumbel":
                    noise = [g.state.ply < self.temperature_moves for g in slots]
                roots: list[Node] = []
                if self.reuse_tree:
                    roots = [g.root or Node(g.state) for g in slots]
                    reused = sum(sum(r.child_n) for r in roots)
                    result = mcts.search_trees(roots, add_noise=noise, simulations=None if full else sims)
                    self.simulations += int(result.visits.sum() - reused)  # a reused visit costs nothing now
                else:
                    # search() keeps no tree past the call, so the cyclic collector never walks one (mcts.py,
                    # _cyclic_gc_paused): self-play without reuse runs exactly as before reuse existed.
                    result = mcts.search(states, add_noise=noise, simulations=None if full else sims)
                    self.simulations += len(slots) * sims
                if full:
                    observations = self.game.observations(states)
                still_running = []
                for k, g in enumerate(slots):
                    if full and self.resign_threshold and self._resigns(g, float(result.value[k])):
                        # The mover gives up instead of moving; its last search is no training position (no move
                        # was played from it), and the game's result is the opponent's win.
                        winner = _opponent(g.state.to_play)
                        self.resigned_games += 1
                    else:
                        action = (
                            self._choose(g.state, result.visits[k]) if result.action is None else int(result.action[k])
                        )
                        if full:  # only full searches are training positions (KataGo records no fast-search turn)
                            g.steps.append((observations[k], result.policy[k], action, g.state.to_play))
                            g.root_values.append(float(result.value[k]))
                        if self.reuse_tree:  # the move's subtree, visited (it was chosen by its visits), is kept
                            g.root = roots[k].children[roots[k].actions.index(action)]
                        g.state = self.game.apply(g.state, action)
                        if not g.state.terminal:
                            still_running.append(g)
                            continue
                        winner = self.game.winner(g.state)
                    g.root = None  # a finished game's tree goes with it (and the game is dropped just below)
                    if g.would_resign:
                        self.resign_checks += 1
                        self.resign_false_positives += winner != _opponent(g.would_resign)
                    if g.steps:
                        finished += 1
                        yield self._episode(g, winner, current.version)
                        if finished >= budget:
                            return
                    else:
                        # Every move was fast: no position to learn from, so no episode (the buffer refuses an
                        # empty one). The trainer counts written episodes toward an iteration, so such a game
                        # should not count there, nor toward max_episodes: another game takes its place.
                        self.unrecorded_games += 1
                        started -= 1
                    if started < budget:
                        still_running.append(self._new_game())
                        started += 1
                slots = still_running
                roots = []  # the searched roots and their unplayed subtrees go now, not after the next search
        finally:  # also when the consumer stops early (the generator closed)
            self.in_flight = 0

    def _new_game(self) -> _Game:
        # The check coin only when resignation is on: off, a seeded run draws exactly what it did before.
        check = self.resign_threshold > 0 and self.rng.random() < self.resign_check_share
        return _Game(self.game.initial_state(), check=check)

    def _resigns(self, g: _Game, value: float) -> bool:
        """Whether the mover resigns on this fully searched move's root value (for the mover).

        The rule (Leela Zero resigns on one move's value below its threshold; KataGo waits for resignConsecTurns of
        them in a row, as here): resign when the root value has been below -threshold on 2 consecutive own fully
        searched moves, this one included. Fast searches (playout caps)
        neither count nor break the run: their values come from too few simulations to resign on. In a check game
        the player is only noted, once, and the game plays on."""
        player = g.state.to_play
        g.low_moves[player] = g.low_moves[player] + 1 if value < -self.resign_threshold else 0
        if g.low_moves[player] < RESIGN_MOVES:
            return False
        if g.check:
            g.would_resign = g.would_resign or player
            return False
        return True

    def _choose(self, state: State, visits: np.ndarray) -> int:
        if state.ply < self.temperature_moves:
            return int(self.rng.choice(len(visits), p=visits / visits.sum()))
        best = np.flatnonzero(visits == visits.max())
        return int(self.rng.choice(best))

    def _episode(self, g: _Game, winner: int, model_version: int) -> Episode:
        """``winner``: the game's result (the final state has none after a resignation)."""
        transitions = transitions_from_steps(g.steps, winner)
        if self.value_mix:  # 0: the game result exactly, not (1 - 0) z + 0 q in floating point
            m = self.value_mix
            transitions = [
                replace(t, value=(1 - m) * t.value + m * q) for t, q in zip(transitions, g.root_values, strict=True)
            ]
        return Episode(
            env_id=self.game.name,
            transitions=transitions,
            winner=winner,
            model_version=model_version,
            actor_id=self.actor_id,
            duration_s=time.time() - g.started,
        )
