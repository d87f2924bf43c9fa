"""PUCT Monte Carlo tree search with batched leaf evaluation.

Many searches advance together: each round every unfinished search descends to a leaf (several
leaves per tree when there are few trees, kept apart by virtual loss), and all new leaves go to
the evaluator in ONE call. Positions already evaluated by the current network come from a
bounded cache instead, so transpositions and the shared openings of parallel self-play games cost
no network time. Terminal positions are valued exactly.

Values are always from the side to move (states are canonical): a child's value is negated
when it is backed up into its parent.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .games import Game, State
from .inference import Evaluator

# Per-game Dirichlet alpha, roughly 10 / typical number of legal moves (AlphaZero's rule of thumb).
DEFAULT_DIRICHLET_ALPHA = {"tictactoe": 1.0, "connect4": 1.0}
_VIRTUAL_LOSS = 1.0


@dataclass(frozen=True)
class MctsConfig:
    simulations: int = 400
    c_puct: float = 1.5
    dirichlet_alpha: float | None = None  # None -> per-game default
    dirichlet_fraction: float = 0.25
    # Target number of leaves per network call; with fewer trees than this, each tree
    # contributes several leaves per round (virtual loss keeps them apart).
    batch_target: int = 32
    cache_size: int = 200_000  # 0 turns the evaluation cache off


@dataclass(frozen=True)
class SearchResult:
    policy: np.ndarray  # (N, A) normalised visit counts, 0 on illegal moves
    visits: np.ndarray  # (N, A) raw visit counts
    value: np.ndarray  # (N,) mean value of the root for the mover, in [-1, 1]


class Node:
    __slots__ = ("actions", "child_n", "child_w", "children", "pending", "priors", "state", "terminal_value", "visits")

    def __init__(self, state: State) -> None:
        self.state = state
        self.actions: list[int] | None = None  # None until expanded
        self.priors: list[float] = []
        self.child_n: list[float] = []
        self.child_w: list[float] = []  # summed values for the player choosing the action
        self.children: list[Node | None] = []
        self.visits = 0.0
        self.pending = False  # waiting for the network in this round
        self.terminal_value = None if state.outcome is None else float(state.outcome)

    def expand(self, actions: list[int], priors: list[float]) -> None:
        self.actions = actions
        self.priors = priors
        self.child_n = [0.0] * len(actions)
        self.child_w = [0.0] * len(actions)
        self.children = [None] * len(actions)

    def select(self, c_puct: float) -> int:
        """Index of the child maximising Q + U (PUCT)."""
        sqrt_n = math.sqrt(self.visits + 1.0)
        best, best_score = 0, -math.inf
        child_n, child_w, priors = self.child_n, self.child_w, self.priors
        for i in range(len(priors)):
            n = child_n[i]
            q = child_w[i] / n if n else 0.0
            score = q + c_puct * priors[i] * sqrt_n / (1.0 + n)
            if score > best_score:
                best, best_score = i, score
        return best


class BatchedMCTS:
    def __init__(
        self,
        game: Game,
        evaluator: Evaluator,
        config: MctsConfig = MctsConfig(),
        rng: np.random.Generator | None = None,
    ) -> None:
        self.game = game
        self.evaluator = evaluator
        self.config = config
        self.rng = rng or np.random.default_rng()
        self.alpha = config.dirichlet_alpha or DEFAULT_DIRICHLET_ALPHA.get(game.name, 1.0)
        self._cache: dict[tuple[int, int], tuple[list[float], float]] = {}
        self._cache_owner: Evaluator | None = evaluator
        self.network_positions = 0  # positions sent to the evaluator (for metrics and benchmarks)
        self.network_calls = 0

    def set_evaluator(self, evaluator: Evaluator) -> None:
        """Use another network from the next search on; the cache belongs to the old one."""
        self.evaluator = evaluator

    # -- public -----------------------------------------------------------------------------

    def search(self, states: Sequence[State], add_noise: bool = True) -> SearchResult:
        if self._cache_owner is not self.evaluator:
            self._cache.clear()
            self._cache_owner = self.evaluator
        roots = [Node(s) for s in states]
        live = [r for r in roots if r.terminal_value is None]
        self._evaluate([(r, [r]) for r in live], backup=False)
        if add_noise:
            for root in live:
                self._add_noise(root)
        remaining = {id(r): self.config.simulations for r in live}
        per_tree = max(1, min(8, self.config.batch_target // max(1, len(live))))
        while live:
            batch: list[tuple[Node, list[Node]]] = []
            for root in live:
                for _ in range(min(per_tree, remaining[id(root)])):
                    leaf_path = self._descend(root)
                    if leaf_path is None:  # collided with a leaf already waiting this round
                        break
                    remaining[id(root)] -= 1
                    leaf = leaf_path[-1]
                    if leaf.terminal_value is not None:
                        self._backup(leaf_path, leaf.terminal_value)
                    elif (
                        self.config.cache_size
                        and (cached := self._cache.get((leaf.state.mine, leaf.state.theirs))) is not None
                    ):
                        leaf.expand(self.game.legal_actions(leaf.state), cached[0])
                        self._backup(leaf_path, cached[1])
                    else:
                        leaf.pending = True
                        batch.append((leaf, leaf_path))
            self._evaluate(batch, backup=True)
            live = [r for r in live if remaining[id(r)] > 0]
        return self._result(roots)

    # -- internals --------------------------------------------------------------------------

    def _descend(self, root: Node) -> list[Node] | None:
        """Path from root to a leaf (unexpanded or terminal), with virtual loss applied on the way."""
        node, path, c_puct = root, [root], self.config.c_puct
        while node.actions is not None and node.terminal_value is None:
            i = node.select(c_puct)
            child = node.children[i]
            if child is None:
                child = node.children[i] = Node(self.game.apply(node.state, node.actions[i]))
            if child.pending:
                self._revert_virtual_loss(path, child)
                return None
            node.child_n[i] += _VIRTUAL_LOSS
            node.child_w[i] -= _VIRTUAL_LOSS
            node.visits += _VIRTUAL_LOSS
            node, path = child, [*path, child]
        return path

    def _revert_virtual_loss(self, path: list[Node], last: Node) -> None:
        for parent, child in zip(path, [*path[1:], last], strict=True):
            if child is last:
                break
            i = parent.children.index(child)
            parent.child_n[i] -= _VIRTUAL_LOSS
            parent.child_w[i] += _VIRTUAL_LOSS
            parent.visits -= _VIRTUAL_LOSS

    def _backup(self, path: list[Node], value: float) -> None:
        """``value`` is for the player to move at the leaf; replace virtual losses by the real result."""
        for depth in range(len(path) - 2, -1, -1):
            parent, child = path[depth], path[depth + 1]
            value = -value  # now for the player to move at ``parent``
            i = parent.children.index(child)
            parent.child_w[i] += value + _VIRTUAL_LOSS
            # child_n and visits already carry the virtual visit, which becomes the real one
        path[-1].visits += 1.0

    def _evaluate(self, batch: list[tuple[Node, list[Node]]], backup: bool) -> None:
        if not batch:
            return
        states = [leaf.state for leaf, _ in batch]
        logits, values = self.evaluator.evaluate(self.game.observations(states))
        self.network_calls += 1
        self.network_positions += len(states)
        masks = np.array([self.game.legal_mask(s) for s in states])
        logits = np.where(masks, logits, -np.inf)
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        if len(self._cache) > self.config.cache_size:
            self._cache.clear()
        for k, (leaf, path) in enumerate(batch):
            actions = self.game.legal_actions(leaf.state)
            priors = probs[k, actions].tolist()
            value = float(values[k])
            if self.config.cache_size:
                self._cache[(leaf.state.mine, leaf.state.theirs)] = (priors, value)
            leaf.expand(actions, priors)
            leaf.pending = False
            if backup:
                self._backup(path, value)

    def _add_noise(self, root: Node) -> None:
        if root.actions is None or len(root.actions) < 2:
            return
        noise = self.rng.dirichlet([self.alpha] * len(root.actions))
        f = self.config.dirichlet_fraction
        root.priors = [(1 - f) * p + f * float(n) for p, n in zip(root.priors, noise, strict=True)]

    def _result(self, roots: list[Node]) -> SearchResult:
        a = self.game.action_size
        visits = np.zeros((len(roots), a), dtype=np.float32)
        value = np.zeros(len(roots), dtype=np.float32)
        for k, root in enumerate(roots):
            if root.terminal_value is not None:
                value[k] = root.terminal_value
                continue
            visits[k, root.actions] = root.child_n
            total = sum(root.child_n)
            value[k] = sum(root.child_w) / total if total else 0.0
        sums = visits.sum(axis=1, keepdims=True)
        policy = np.divide(visits, sums, out=np.zeros_like(visits), where=sums > 0)
        return SearchResult(policy=policy, visits=visits, value=value)
