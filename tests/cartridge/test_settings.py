import pytest

from cartridge.settings import Settings, SettingsError


def test_defaults_match_the_architecture_contract():
    s = Settings.from_env({})
    assert (s.env_id, s.training_iterations, s.episodes_per_iteration) == ("tictactoe", 100, 500)
    assert (s.mcts_max_sims, s.batch_size, s.actor_max_episodes) == (400, 128, 0)
    assert s.replay_url == "sqlite:///data/replay.db"
    assert s.model_store_url == "file:///data/models"
    assert s.s3_endpoint_url is None
    assert (s.http_port, s.log_format, s.log_level) == (9100, "console", "info")


def test_process_defaults_apply_only_when_the_variable_is_unset():
    assert Settings.from_env({}, http_port=8080).http_port == 8080
    assert Settings.from_env({"HTTP_PORT": "9000"}, http_port=8080).http_port == 9000


def test_values_are_parsed_and_normalised():
    s = Settings.from_env(
        {
            "ENV_ID": " Connect4 ",
            "MCTS_MAX_SIMS": "64",
            "REPLAY_URL": "postgresql://u:p@db:5432/replay",
            "MODEL_STORE_URL": "s3://models/prefix",
            "S3_ENDPOINT_URL": "http://minio:9000",
            "LOG_FORMAT": "JSON",
            "LEARNING_RATE": "0.002",
        }
    )
    assert s.env_id == "connect4" and s.mcts_max_sims == 64 and s.log_format == "json"
    assert s.s3_endpoint_url == "http://minio:9000" and s.learning_rate == 0.002


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("ENV_ID", "chess", "expected one of: tictactoe, connect4"),
        ("MCTS_MAX_SIMS", "many", "not an integer"),
        ("MCTS_MAX_SIMS", "0", "expected an integer >= 1"),
        ("TRAINING_ITERATIONS", "-1", "expected an integer >= 0"),
        ("HTTP_PORT", "70000", "TCP port"),
        ("REPLAY_URL", "mysql://x", "sqlite://..., postgresql://"),
        ("MODEL_STORE_URL", "/data/models", "file://..., s3://..."),
        ("S3_ENDPOINT_URL", "minio:9000", "http://..., https://..."),
        ("LOG_FORMAT", "xml", "console, json"),
        ("LEARNING_RATE", "-1", "positive number"),
        ("EXPORT_PRECISION", "fp16", "expected one of: int8, fp32"),
        ("LEARNING_RATE", "inf", "finite positive number"),
        ("MODEL_POLL_SECONDS", "nan", "finite positive number"),
        ("MODEL_MAX_BYTES", "64MB", "not an integer (expected an integer >= 1)"),
        ("WEB_SEARCH_WAIT_SECONDS", "0", "finite positive number"),
        ("ARENA_GAMES", "1", "expected an integer >= 2"),
        ("ARENA_SIMS", "0", "expected an integer >= 1"),
        ("ROLLOUT_POLICY", "sometimes", "expected one of: always, gated"),
        ("GATE_THRESHOLD", "0", "expected a score 0 < x <= 1"),
        ("GATE_THRESHOLD", "1.2", "expected a score 0 < x <= 1"),
        ("GATE_THRESHOLD", "half", "expected a score 0 < x <= 1"),
        ("GATE_GAMES", "1", "expected an integer >= 2"),
        ("PLAYOUT_CAP_FULL_SHARE", "0", "expected a score 0 < x <= 1"),
        ("PLAYOUT_CAP_FULL_SHARE", "1.5", "expected a score 0 < x <= 1"),
        ("PLAYOUT_CAP_FAST_SIMS", "0", "expected an integer >= 1"),
        ("SELFPLAY_SEARCH", "alphazero", "expected one of: puct, gumbel"),
        ("GUMBEL_CONSIDERED", "0", "expected an integer >= 1"),
        ("GUMBEL_RESCALE", "minmax", "expected one of: on, off"),
        ("ACTOR_NICE", "20", "out of range (expected an integer 0-19)"),
        ("ACTOR_NICE", "-5", "out of range (expected an integer 0-19)"),
        ("ACTOR_NICE", "low", "not an integer (expected an integer 0-19)"),
        ("WEIGHT_AVERAGE_HALF_LIFE", "-1", "out of range (expected an integer >= 0)"),
        ("WEIGHT_AVERAGE_HALF_LIFE", "1.5", "not an integer (expected an integer >= 0)"),
        ("NETWORK_CHANNELS", "0", "out of range (expected an integer 1-512)"),
        ("NETWORK_CHANNELS", "wide", "not an integer (expected an integer 1-512)"),
        ("NETWORK_BLOCKS", "41", "out of range (expected an integer 1-40)"),
        ("VALUE_TARGET_MIX", "1.5", "expected a number 0 <= x <= 1"),
        ("SELFPLAY_REUSE_TREE", "yes", "expected one of: on, off"),
        ("RESIGN_THRESHOLD", "-0.9", "expected 0 to never resign, or a number 0 < x < 1"),
        ("RESIGN_THRESHOLD", "1", "expected 0 to never resign, or a number 0 < x < 1"),
        ("RESIGN_THRESHOLD", "off", "expected 0 to never resign, or a number 0 < x < 1"),
        ("RESIGN_THRESHOLD", "nan", "expected 0 to never resign, or a number 0 < x < 1"),
        ("RESIGN_CHECK_SHARE", "1.5", "expected a number 0 <= x <= 1"),
        ("RESIGN_CHECK_SHARE", "a tenth", "expected a number 0 <= x <= 1"),
        ("VALUE_TARGET_MIX", "-0.1", "expected a number 0 <= x <= 1"),
        ("VALUE_TARGET_MIX", "nan", "expected a number 0 <= x <= 1"),
        ("VALUE_TARGET_MIX", "half", "expected a number 0 <= x <= 1"),
    ],
)
def test_a_bad_value_names_the_variable_and_the_accepted_values(name, value, expected):
    with pytest.raises(SettingsError) as err:
        Settings.from_env({name: value})
    assert name in str(err.value) and expected in str(err.value)


def test_the_rollout_policy_names_the_manifest_followers_serve():
    s = Settings.from_env({})
    assert (s.rollout_policy, s.gate_threshold, s.gate_games, s.followed_manifest) == ("always", 0.55, 20, "latest")
    gated = Settings.from_env({"ROLLOUT_POLICY": " Gated ", "GATE_THRESHOLD": "1", "GATE_GAMES": "2"})
    assert (gated.rollout_policy, gated.gate_threshold, gated.gate_games) == ("gated", 1.0, 2)
    assert gated.followed_manifest == "best"


def test_every_bad_variable_is_reported_at_once():
    with pytest.raises(SettingsError) as err:
        Settings.from_env({"ENV_ID": "go", "BATCH_SIZE": "x"})
    assert "ENV_ID" in str(err.value) and "BATCH_SIZE" in str(err.value)


def test_ort_threads_is_checked_with_the_other_settings():
    assert Settings.from_env({"ORT_THREADS": "2"}).ort_threads == 2
    for bad in ("two", "0", "-1"):
        with pytest.raises(SettingsError, match=r"ORT_THREADS=.* \(expected an integer >= 1\)"):
            Settings.from_env({"ORT_THREADS": bad})


def test_replay_max_transitions_defaults_to_a_few_windows_and_may_not_be_below_one():
    assert Settings.from_env({"REPLAY_WINDOW": "1000"}).replay_max_transitions == 4000
    assert Settings.from_env({"REPLAY_WINDOW": "1000", "REPLAY_MAX_TRANSITIONS": "1000"}).replay_max_transitions == 1000
    with pytest.raises(SettingsError) as err:
        Settings.from_env({"REPLAY_WINDOW": "1000", "REPLAY_MAX_TRANSITIONS": "999"})
    assert "REPLAY_MAX_TRANSITIONS=999 is below REPLAY_WINDOW=1000" in str(err.value)
    assert "expected an integer >= 1000" in str(err.value)
    with pytest.raises(SettingsError, match="REPLAY_MAX_TRANSITIONS='lots' is not an integer"):
        Settings.from_env({"REPLAY_MAX_TRANSITIONS": "lots"})


@pytest.mark.parametrize("name", ["REPLAY_CONNECT_TIMEOUT", "REPLAY_STATEMENT_TIMEOUT", "HEALTH_STALL_SECONDS"])
def test_timeouts_are_positive_integers(name):
    assert getattr(Settings.from_env({name: "7"}), name.lower()) == 7
    with pytest.raises(SettingsError, match=f"{name}=0 is out of range"):
        Settings.from_env({name: "0"})


def test_self_play_targets_default_to_the_measured_mix_and_take_their_whole_ranges():
    s = Settings.from_env({})
    assert (s.playout_cap_full_share, s.playout_cap_fast_sims, s.value_target_mix) == (1.0, 16, 0.5)
    for mix in ("0", "0.5", "1"):
        assert Settings.from_env({"VALUE_TARGET_MIX": mix}).value_target_mix == float(mix)
    capped = Settings.from_env({"PLAYOUT_CAP_FULL_SHARE": "0.25", "PLAYOUT_CAP_FAST_SIMS": "100"})
    assert (capped.playout_cap_full_share, capped.playout_cap_fast_sims) == (0.25, 100)


def test_fast_searches_must_be_cheaper_than_full_ones_only_when_there_are_any():
    assert Settings.from_env({"MCTS_MAX_SIMS": "8"}).playout_cap_fast_sims == 16  # every move full: no fast search
    with pytest.raises(SettingsError) as err:
        Settings.from_env({"MCTS_MAX_SIMS": "16", "PLAYOUT_CAP_FULL_SHARE": "0.5"})
    assert "PLAYOUT_CAP_FAST_SIMS=16 is not below MCTS_MAX_SIMS=16" in str(err.value)


def test_self_play_cost_savers_default_to_off():
    s = Settings.from_env({})
    assert (s.selfplay_reuse_tree, s.resign_threshold, s.resign_check_share) == ("off", 0.0, 0.1)
    assert Settings.from_env({"RESIGN_THRESHOLD": ""}).resign_threshold == 0.0  # unset or blank: never resign
    resigning = Settings.from_env({"RESIGN_THRESHOLD": "0.9", "RESIGN_CHECK_SHARE": "0"})
    assert (resigning.resign_threshold, resigning.resign_check_share) == (0.9, 0.0)
    assert Settings.from_env({"SELFPLAY_REUSE_TREE": " ON "}).selfplay_reuse_tree == "on"


def test_self_play_searches_by_puct_unless_told_and_gumbel_refuses_reused_trees():
    s = Settings.from_env({})
    assert (s.selfplay_search, s.gumbel_considered, s.gumbel_rescale) == ("puct", 16, "on")
    g = Settings.from_env({"SELFPLAY_SEARCH": "gumbel", "GUMBEL_CONSIDERED": "4"})
    assert (g.selfplay_search, g.gumbel_considered) == ("gumbel", 4)
    with pytest.raises(SettingsError) as err:
        Settings.from_env({"SELFPLAY_SEARCH": "gumbel", "SELFPLAY_REUSE_TREE": "on"})
    assert "SELFPLAY_SEARCH=gumbel with SELFPLAY_REUSE_TREE=on" in str(err.value)
    assert "expected SELFPLAY_REUSE_TREE=off, or SELFPLAY_SEARCH=puct" in str(err.value)
