"""PUCT Monte Carlo tree search with batched leaf evaluation.

Many searches advance together: each round every unfinished search descends to a leaf (several
leaves per tree when there are few trees, kept apart by virtual loss), and all new leaves go to
the evaluator in ONE call. A position reached by several trees in the same round is sent once,
and positions the current network has already evaluated come from a bounded cache, so
transpositions and the shared openings of parallel self-play games cost no network time.
Terminal positions are valued exactly and never reach the network.

Values are always from the side to move (states are canonical): a child's value is negated
when it is backed up into its parent.

Two ways to choose where a simulation goes (``MctsConfig.root``):

- "puct" (AlphaZero): every node by PUCT, root noise by Dirichlet; the policy is the root's visit distribution.
- "gumbel" (Danihelka, Guez, Schrittwieser, Silver, "Policy improvement by planning with Gumbel", ICLR 2022),
  read against DeepMind's mctx (mctx/_src/policies.py gumbel_muzero_policy, action_selection.py,
  seq_halving.py, qtransforms.py qtransform_completed_by_mix_value, with its defaults): at the root, Gumbel
  noise g (only when ``add_noise``; 0 otherwise, as mctx's gumbel_scale=0 for evaluation) samples the
  ``gumbel_considered`` actions with the highest g + logits without replacement, and Sequential Halving spends
  the budget on them in rounds, keeping the half with the highest g + logits + sigma(q) each round. Below the
  root, the child whose visit share lags most behind pi' = softmax(logits + sigma(completed q)) is chosen
  (deterministic, no exploration constant). The policy is the root's pi', whose improvement over the prior holds
  at a few simulations, and the action to play is the last round's winner (``SearchResult.action``).
  sigma(q) = (50 + max visits) * 0.1 * q rescaled to [0, 1] over the node's children (``gumbel_rescale``; off:
  (q + 1) / 2); an unvisited child's q is completed by the mix of the network's value and the visited
  children's prior-weighted q.
"""

from __future__ import annotations

import gc
import math
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .games import Game, State
from .inference import Evaluator


@dataclass(frozen=True)
class MctsConfig:
    simulations: int = 400
    c_puct: float = 1.5
    dirichlet_alpha: float | None = None  # None -> the game's own (Game.dirichlet_alpha)
    dirichlet_fraction: float = 0.25
    # Target number of leaves per network call; with fewer trees than this, each tree
    # contributes several leaves per round (virtual loss keeps them apart), at most 8.
    batch_target: int = 32
    cache_size: int = 200_000  # evaluations kept across rounds; 0 turns the cache off
    root: str = "puct"  # "puct" or "gumbel" (module docstring)
    gumbel_considered: int = 16  # Gumbel: actions sampled at the root for Sequential Halving (mctx's default)
    # Gumbel: q rescaled to [0, 1] by the node's children's min and max (mctx's default), or by the value range
    # ((q + 1) / 2: values are in [-1, 1]), so children of near-equal q stay near-equal in pi'.
    gumbel_rescale: bool = True

    def __post_init__(self) -> None:
        if self.root not in ("puct", "gumbel"):
            raise ValueError(f"MctsConfig.root must be 'puct' or 'gumbel', got {self.root!r}")
        if self.gumbel_considered < 1:
            raise ValueError(f"MctsConfig.gumbel_considered must be >= 1, got {self.gumbel_considered}")
        if self.simulations < 1:
            raise ValueError(f"MctsConfig.simulations must be >= 1, got {self.simulations}")
        if not 0.0 <= self.dirichlet_fraction <= 1.0:
            raise ValueError(f"MctsConfig.dirichlet_fraction must be in [0, 1], got {self.dirichlet_fraction}")
        if self.dirichlet_alpha is not None and self.dirichlet_alpha <= 0:
            raise ValueError(f"MctsConfig.dirichlet_alpha must be > 0, got {self.dirichlet_alpha}")


@dataclass(frozen=True)
class SearchResult:
    policy: np.ndarray  # (N, A) the training target, 0 on illegal moves: visit shares (puct) or pi' (gumbel)
    visits: np.ndarray  # (N, A) raw visit counts
    value: np.ndarray  # (N,) mean value of the root for the mover, in [-1, 1]
    # (N,) gumbel: the action Sequential Halving chose (-1 for a terminal root); puct: None (the caller chooses
    # from the visits)
    action: np.ndarray | None = None


class Node:
    """One position. Per-child statistics are flat lists indexed like ``actions``; children are
    created when first selected. An expanded node has ``priors``; a terminal one never does."""

    __slots__ = (
        "actions",
        "child_n",
        "child_w",
        "children",
        "gumbel",
        "key",
        "pending",
        "priors",
        "state",
        "terminal_value",
        "value",
        "visits",
    )

    def __init__(self, state: State) -> None:
        # Until expand() the per-child sequences are one shared empty tuple: most nodes are made as leaves,
        # and a leaf's are replaced, never read.
        self.state = state
        self.key = (state.mine, state.theirs)  # the evaluation cache's key, made once
        self.actions: Sequence[int] = ()
        self.priors: list[float] | None = None  # None until expanded
        self.child_n: Sequence[float] = ()
        self.child_w: Sequence[float] = ()  # summed values for the player choosing the action
        self.children: Sequence[Node | None] = ()
        self.visits = 0.0
        self.pending = False  # waiting for the network in this round
        self.terminal_value = None if state.outcome is None else float(state.outcome)
        self.value = 0.0  # the network's value for the mover, once expanded (Gumbel's completed q uses it)
        # Gumbel, while this root is searched: g + logits per child, and the Sequential Halving schedule
        self.gumbel: tuple[list[float], tuple[int, ...]] | None = None

    def expand(self, actions: list[int], priors: list[float], value: float) -> None:
        # ``actions`` and ``priors`` may be shared with the cache: never modified in place.
        k = len(actions)
        self.actions, self.priors, self.value = actions, priors, value
        self.child_n, self.child_w, self.children = [0.0] * k, [0.0] * k, [None] * k


# (actions, priors, value) for a position: what one network evaluation gives the tree.
_Evaluation = tuple[list[int], list[float], float]


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
        self.alpha = config.dirichlet_alpha or game.dirichlet_alpha
        self._cache: dict[tuple[int, int], _Evaluation] = {}
        self._cache_owner: Evaluator | None = evaluator
        self.network_positions = 0  # positions sent to the evaluator (for metrics and benchmarks)
        self.network_calls = 0

    def set_evaluator(self, evaluator: Evaluator) -> None:
        """Use another network from the next search on; the cache belongs to the old one."""
        self.evaluator = evaluator

    # -- public -----------------------------------------------------------------------------

    def search(
        self, states: Sequence[State], add_noise: bool | Sequence[bool] = True, simulations: int | None = None
    ) -> SearchResult:
        """``simulations`` (None: ``config.simulations``) simulations for every non-terminal state in ``states``.

        Self-play's fast searches (playout-cap randomisation, cartridge.selfplay) pass fewer for one call."""
        return self.search_trees([Node(s) for s in states], add_noise, simulations)

    def search_trees(
        self, roots: Sequence[Node], add_noise: bool | Sequence[bool] = True, simulations: int | None = None
    ) -> SearchResult:
        """``search`` from the given roots, each a fresh ``Node(state)`` or a subtree kept from an earlier search
        (subtree reuse, cartridge.selfplay): the caller keeps ``root.children[i]`` of the move played and passes it
        as the next position's root.

        A reused root is topped up to ``simulations``: the visits already below it count toward the budget, as
        KataGo's visit cap counts a reused tree's (cpp/search/search.cpp, Search::runWholeSearch stops at
        numPlayouts + numNonPlayoutVisits >= maxVisits, the latter the root's visits when the search began), so a
        root already holding that many is not searched again. The result is the root's whole visit distribution,
        reused visits included: that is what the policy target is, and it sums to 1 as ever.

        ``add_noise`` is one flag for every root or one per root (Gumbel self-play noises only its opening plies).
        Root noise is mixed into a searched root's priors for this search only: the root leaves
        with the network's priors it came with, so a root searched again (or a subtree whose root was noised)
        never carries an earlier search's noise, and each search draws fresh noise. Nodes below a root were
        expanded from the network alone (noise is only ever applied at a root), so a reused child starts clean.

        The evaluator must be the one the reused subtrees were built with (their priors and values are its);
        self-play drops its trees when the model changes."""
        if simulations is None:
            simulations = self.config.simulations
        elif simulations < 1:
            raise ValueError(f"BatchedMCTS.search simulations must be >= 1, got {simulations}")
        with _cyclic_gc_paused():
            return self._search(roots, add_noise, simulations)

    # -- internals --------------------------------------------------------------------------

    def _search(self, roots: Sequence[Node], add_noise: bool | Sequence[bool], simulations: int) -> SearchResult:
        if isinstance(add_noise, bool):
            noisy = {id(r) for r in roots} if add_noise else set()
        else:
            noisy = {id(r) for r, flag in zip(roots, add_noise, strict=True) if flag}
        if self._cache_owner is not self.evaluator:
            self._cache.clear()
            self._cache_owner = self.evaluator
        live = [r for r in roots if r.terminal_value is None]
        self._expand_all([(r, ()) for r in live if r.priors is None], backup=False)
        # Per search, never per simulation: a fresh root has no visits below it, a reused one its subtree's.
        remaining = [simulations - int(sum(r.child_n)) for r in live]
        if any(n <= 0 for n in remaining):
            keep = [t for t in range(len(live)) if remaining[t] > 0]
            live, remaining = [live[t] for t in keep], [remaining[t] for t in keep]
        clean: list[tuple[Node, list[float] | None]] = []
        gumbel = self.config.root == "gumbel"
        if gumbel:
            for root in live:
                self._draw_gumbel(root, id(root) in noisy, simulations)
        elif noisy:
            for root in live:
                if id(root) in noisy:
                    clean.append((root, root.priors))
                    self._add_noise(root)
        choose = self._gumbel_choice if gumbel else None
        per_tree = max(1, min(8, self.config.batch_target // max(1, len(live))))
        cache = self._cache if self.config.cache_size else {}
        while live:
            waiting: list[tuple[Node, list[tuple[Node, int]]]] = []
            for t, root in enumerate(live):
                for _ in range(min(per_tree, remaining[t])):
                    path: list[tuple[Node, int]] = []
                    leaf = self._descend(root, path, choose)
                    if leaf is None:  # ran into a leaf already waiting this round: next tree
                        break
                    remaining[t] -= 1
                    if leaf.terminal_value is not None:
                        _backup(path, leaf, leaf.terminal_value)
                    elif (hit := cache.get(leaf.key)) is not None:
                        leaf.expand(*hit)  # at once, so this round's next descents can use it
                        _backup(path, leaf, hit[2])
                    else:
                        leaf.pending = True
                        waiting.append((leaf, path))
            self._expand_all(waiting, backup=True)
            keep = [t for t in range(len(live)) if remaining[t] > 0]
            live, remaining = [live[t] for t in keep], [remaining[t] for t in keep]
        for root, priors in clean:  # the network's priors back: the next search of this root draws its own noise
            root.priors = priors
        result = self._result(roots)
        for root in roots:  # this search's Gumbel draws go with it, as Dirichlet noise does
            root.gumbel = None
        return result

    def _descend(
        self, root: Node, path: list[tuple[Node, int]], choose: Callable[[Node], int] | None = None
    ) -> Node | None:
        """Walk from ``root`` to a leaf (unexpanded or terminal) by PUCT (or ``choose``'s child of each node),
        appending (node, child index) to ``path`` and applying a virtual loss on the way; None (nothing applied)
        on a collision."""
        node, c_puct, apply = root, self.config.c_puct, self.game.apply
        while node.priors is not None:
            child_n, child_w = node.child_n, node.child_w
            if choose is None:
                priors = node.priors
                scale = c_puct * math.sqrt(node.visits + 1.0)
                best, best_score = 0, -math.inf
                for i in range(len(priors)):  # inline PUCT: this loop is most of the tree's own time
                    n = child_n[i]
                    score = (child_w[i] / n if n else 0.0) + scale * priors[i] / (1.0 + n)
                    if score > best_score:
                        best, best_score = i, score
            else:
                best = choose(node)
            child = node.children[best]
            if child is None:
                child = node.children[best] = Node(apply(node.state, node.actions[best]))
            elif child.pending:
                _revert_virtual_loss(path)
                return None
            # Virtual loss: count the visit now, as a loss for the chooser, so other leaves of
            # this round look elsewhere; the backup turns it into the real result.
            child_n[best] += 1.0
            child_w[best] -= 1.0
            node.visits += 1.0
            path.append((node, best))
            node = child
        return node

    def _draw_gumbel(self, root: Node, add_noise: bool, simulations: int) -> None:
        """Root's g + logits per child (g = 0 without noise) and its Sequential Halving schedule for this search."""
        k = len(root.actions)
        g = self.rng.gumbel(size=k).tolist() if add_noise else [0.0] * k
        scores = [gi + math.log(max(p, _TINY)) for gi, p in zip(g, root.priors, strict=True)]
        root.gumbel = (scores, _considered_visits(min(self.config.gumbel_considered, k), simulations))

    def _gumbel_choice(self, node: Node) -> int:
        """Gumbel's child of ``node`` (module docstring): Sequential Halving at a searched root, pi' below it."""
        rescale = self.config.gumbel_rescale
        if node.gumbel is None:
            return _interior_choice(node, rescale)
        scores, schedule = node.gumbel
        child_n = node.child_n
        k = int(sum(child_n))  # this simulation's index in the root's schedule
        target = schedule[k] if k < len(schedule) else max(child_n)
        sigma = _completed_sigma(node, rescale)
        # mctx seq_halving.score_considered: only children at the scheduled count. Off the schedule (a fresh root
        # never is; a search must not fail): the best of the least visited.
        best = _best_with_visits(child_n, target, scores, sigma)
        return best if best >= 0 else _best_with_visits(child_n, min(child_n), scores, sigma)

    def _expand_all(self, waiting: list[tuple[Node, Sequence[tuple[Node, int]]]], backup: bool) -> None:
        """Expand the waiting leaves (cache, else ONE network call for the distinct positions) and
        back their values up when ``backup``."""
        if not waiting:
            return
        cache, use_cache = self._cache, self.config.cache_size > 0
        found: dict[tuple[int, int], _Evaluation] = {}
        missing: dict[tuple[int, int], State] = {}
        for leaf, _ in waiting:
            key = leaf.key
            if use_cache and (hit := cache.get(key)) is not None:
                found[key] = hit
            else:
                missing[key] = leaf.state
        if missing:
            found.update(self._evaluate(list(missing.items())))
        for leaf, path in waiting:
            actions, priors, value = found[leaf.key]
            leaf.expand(actions, priors, value)
            leaf.pending = False
            if backup:
                _backup(path, leaf, value)

    def _evaluate(self, items: list[tuple[tuple[int, int], State]]) -> dict[tuple[int, int], _Evaluation]:
        states = [state for _, state in items]
        logits, values = self.evaluator.evaluate(self.game.observations(states))
        self.network_calls += 1
        self.network_positions += len(states)
        legal = [self.game.legal_actions(s) for s in states]
        # The legal moves as flat indices into the (N, A) logits: one list and one numpy assignment build the
        # mask, and one gather takes the legal priors out, instead of per-row indexing in Python.
        width = logits.shape[1]
        flat = [k * width + a for k, acts in enumerate(legal) for a in acts]
        mask = np.zeros(logits.shape, dtype=bool)
        mask.ravel()[flat] = True
        logits = np.where(mask, logits, -np.inf)  # illegal moves get no prior at all
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        legal_probs = (probs / probs.sum(axis=1, keepdims=True)).ravel()[flat].tolist()
        values = np.minimum(np.maximum(values, -1.0), 1.0).tolist()  # np.clip's values in about half its time
        out = {}
        start = 0
        for (key, _), acts, v in zip(items, legal, values, strict=True):
            end = start + len(acts)
            out[key] = (acts, legal_probs[start:end], v)
            start = end
        if self.config.cache_size:
            if len(self._cache) + len(out) > self.config.cache_size:
                self._cache.clear()  # cheaper than LRU bookkeeping; it refills within a few rounds
            self._cache.update(out)
        return out

    def _add_noise(self, root: Node) -> None:
        if root.priors is None or len(root.actions) < 2:
            return
        noise = self.rng.dirichlet([self.alpha] * len(root.actions)).tolist()
        f = self.config.dirichlet_fraction
        root.priors = [(1 - f) * p + f * n for p, n in zip(root.priors, noise, strict=True)]  # a new list

    def _result(self, roots: Sequence[Node]) -> SearchResult:
        visits = np.zeros((len(roots), self.game.action_size), dtype=np.float32)
        value = np.zeros(len(roots), dtype=np.float32)
        for k, root in enumerate(roots):
            if root.terminal_value is not None:
                value[k] = root.terminal_value
                continue
            visits[k, root.actions] = root.child_n
            total = sum(root.child_n)
            value[k] = sum(root.child_w) / total if total else 0.0
        if self.config.root == "gumbel":
            return self._gumbel_result(roots, visits, value)
        sums = visits.sum(axis=1, keepdims=True)
        policy = np.divide(visits, sums, out=np.zeros_like(visits), where=sums > 0)
        return SearchResult(policy=policy, visits=visits, value=value)

    def _gumbel_result(self, roots: Sequence[Node], visits: np.ndarray, value: np.ndarray) -> SearchResult:
        """pi' = softmax(logits + sigma(completed q)) as the policy, and the action with the highest
        g + logits + sigma(q) among the most visited (mctx gumbel_muzero_policy)."""
        policy = np.zeros_like(visits)
        action = np.full(len(roots), -1, dtype=np.int64)
        for k, root in enumerate(roots):
            if root.terminal_value is not None:
                continue
            sigma = _completed_sigma(root, self.config.gumbel_rescale)
            policy[k, root.actions] = _improved_policy(root.priors, sigma)
            scores = root.gumbel[0] if root.gumbel else [math.log(max(p, _TINY)) for p in root.priors]
            action[k] = root.actions[_best_with_visits(root.child_n, max(root.child_n), scores, sigma)]
        return SearchResult(policy=policy, visits=visits, value=value, action=action)


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off while any search runs, back on (if it was on) when the last one ends.

    A search allocates a dozen container objects per simulation (nodes, their per-child lists, path entries),
    so CPython's generation-0 threshold (700 allocations) starts a collection every few dozen simulations, and
    the older generations' collections walk the whole growing tree and everything else the process holds. A
    search makes no reference cycles (parents hold children, never the reverse; paths and leaves are dropped
    when their simulation ends), so reference counting frees all of it and those collections find nothing:
    about a sixth of the free-network search's time (docs/benchmarks.md, "Pure search"). Threads sharing the
    process (the web searches one game per request thread) start and end searches in any order, so the pause is
    counted under a lock: the first search in records whether the collector was on, the last one out restores
    it. (Each search reading and restoring the state by itself could leave it off for good: B reads "off"
    while A searches, A ends and turns it on, B turns it off and, having found it off, never back on.)
    """
    global _gc_searches, _gc_was_enabled
    with _gc_lock:
        if _gc_searches == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_searches += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_searches -= 1
            if _gc_searches == 0 and _gc_was_enabled:
                gc.enable()


_gc_lock = threading.Lock()
_gc_searches = 0  # searches running in this process, any thread
_gc_was_enabled = True  # the collector's state when the first of them began


# Gumbel's constants, mctx's defaults (qtransforms.qtransform_completed_by_mix_value): sigma(q) =
# (_MAXVISIT_INIT + max visits) * _VALUE_SCALE * q, q rescaled to [0, 1] (over at least _EPSILON).
_MAXVISIT_INIT = 50.0
_VALUE_SCALE = 0.1
_EPSILON = 1e-8
_TINY = 1e-30  # a prior's floor before its log, and the visited priors' sum's floor (mctx: finfo.tiny)


@lru_cache(maxsize=256)
def _considered_visits(considered: int, simulations: int) -> tuple[int, ...]:
    """Sequential Halving's schedule (mctx seq_halving.get_sequence_of_considered_visits): the visit count the
    simulation of each index gives one more visit to. ``considered`` children each get an equal share of a
    log2(considered)-th of the budget, then the better half continue, down to 2."""
    if considered <= 1:
        return tuple(range(simulations))
    log2max = math.ceil(math.log2(considered))
    sequence: list[int] = []
    visits = [0] * considered
    while len(sequence) < simulations:
        for _ in range(max(1, int(simulations / (log2max * considered)))):
            sequence.extend(visits[:considered])
            for i in range(considered):
                visits[i] += 1
        considered = max(2, considered // 2)
    return tuple(sequence[:simulations])


def _completed_sigma(node: Node, rescale: bool = True) -> list[float]:
    """sigma(completed q) per child of an expanded node, for the player choosing there (mctx
    qtransform_completed_by_mix_value): a visited child's mean value, an unvisited one's the mixed value (the
    network's value of ``node`` averaged with the visited children's prior-weighted q, by visits), rescaled to
    [0, 1] over the children and scaled by (50 + max visits) * 0.1."""
    child_n, child_w, priors = node.child_n, node.child_w, node.priors
    k = len(child_n)
    q = [0.0] * k
    total = sum_p = weighted = most = 0.0
    for i in range(k):
        n = child_n[i]
        if n:
            qi = q[i] = child_w[i] / n
            total += n
            sum_p += priors[i]
            weighted += priors[i] * qi
            if n > most:
                most = n
    if not total:  # every q completed by the same value: rescaled, all 0
        return q
    mixed = (node.value + total * weighted / max(sum_p, _TINY)) / (total + 1.0)
    for i in range(k):
        if not child_n[i]:
            q[i] = mixed
    if not rescale:  # mctx's rescale_values=False on (q + 1) / 2
        scale = (_MAXVISIT_INIT + most) * _VALUE_SCALE
        return [(qi + 1.0) * 0.5 * scale for qi in q]
    low = min(q)
    scale = (_MAXVISIT_INIT + most) * _VALUE_SCALE / max(max(q) - low, _EPSILON)
    return [(qi - low) * scale for qi in q]


def _best_with_visits(child_n: Sequence[float], count: float, scores: list[float], sigma: list[float]) -> int:
    """The child with ``count`` visits and the highest g + logits + sigma(q), the first on a tie; -1 if none has."""
    best, best_score = -1, -math.inf
    for i in range(len(child_n)):
        if child_n[i] == count and scores[i] + sigma[i] > best_score:
            best, best_score = i, scores[i] + sigma[i]
    return best


def _improved_policy(priors: Sequence[float], sigma: Sequence[float]) -> list[float]:
    """pi' = softmax(log prior + sigma), as probabilities: prior x exp(sigma), normalised."""
    top = max(sigma)
    weights = [p * math.exp(s - top) for p, s in zip(priors, sigma, strict=True)]
    total = sum(weights)
    if total <= 0:  # every prior underflowed: sigma alone
        weights = [math.exp(s - top) for s in sigma]
        total = sum(weights)
    return [w / total for w in weights]


def _interior_choice(node: Node, rescale: bool = True) -> int:
    """The child whose visit share lags most behind pi' (mctx gumbel_muzero_interior_action_selection: argmax of
    pi'(a) - N(a) / (1 + sum N)); the first such child on a tie."""
    child_n = node.child_n
    policy = _improved_policy(node.priors, _completed_sigma(node, rescale))
    denominator = 1.0 + sum(child_n)
    best, best_score = 0, -math.inf
    for i in range(len(child_n)):
        score = policy[i] - child_n[i] / denominator
        if score > best_score:
            best, best_score = i, score
    return best


def _backup(path: list[tuple[Node, int]], leaf: Node, value: float) -> None:
    """``value`` is for the player to move at ``leaf``; the virtual losses become the real result
    (their visit counts already stand)."""
    leaf.visits += 1.0
    for node, i in reversed(path):
        value = -value  # now for the player choosing at ``node``
        node.child_w[i] += value + 1.0


def _revert_virtual_loss(path: list[tuple[Node, int]]) -> None:
    for node, i in path:
        node.child_n[i] -= 1.0
        node.child_w[i] += 1.0
        node.visits -= 1.0
