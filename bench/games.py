"""The games the benchmarks play, named once: the benchmark modules refer to these, never to a game by name."""

# bench_mcts, bench_web and bench_replay measure the cluster's game (k8s/base/configmap.yaml's ENV_ID), the larger
# one: its searches, models and episodes are the ones whose cost matters.
MEASURED_GAME = "connect4"

# bench_strength trains each game from scratch with these settings (over the services' defaults).
STRENGTH_PIPELINE = {
    # tictactoe: the settings tests/pipeline/test_loop.py trains a minimax-proof model with.
    "tictactoe": {
        "MCTS_MAX_SIMS": "48",
        "EPISODES_PER_ITERATION": "120",
        "TRAIN_STEPS_PER_ITERATION": "150",
        "REPLAY_WINDOW": "20000",
        "LEARNING_RATE": "0.002",
    },
    "connect4": {
        "MCTS_MAX_SIMS": "64",
        "EPISODES_PER_ITERATION": "100",
        "TRAIN_STEPS_PER_ITERATION": "200",
        "REPLAY_WINDOW": "50000",
        "LEARNING_RATE": "0.002",
    },
}


def openings(game, count: int, rng, max_plies: int = 8) -> list:
    """``count`` random non-terminal positions of up to ``max_plies`` plies (``rng``: a numpy Generator): the
    positions bench_mcts and bench_mcts_ab search, and tests/cartridge/test_mcts_pinned.py pins (here, where
    importing needs neither torch nor ONNX Runtime)."""
    states = []
    while len(states) < count:
        state = game.initial_state()
        for _ in range(int(rng.integers(0, max_plies))):
            if state.terminal:
                break
            state = game.apply(state, int(rng.choice(game.legal_actions(state))))
        if not state.terminal:
            states.append(state)
    return states
