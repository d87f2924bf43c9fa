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
