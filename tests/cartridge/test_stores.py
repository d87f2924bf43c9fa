"""Every service opens its stores from its Settings through cartridge.stores, so each setting of theirs reaches them."""

from __future__ import annotations

import pytest

from cartridge.modelstore import ModelTooLarge
from cartridge.settings import Settings
from cartridge.stores import open_model_store, open_replay


def test_the_model_store_keeps_model_keep_versions_and_refuses_models_over_model_max_bytes(tmp_path, tictactoe_model):
    settings = Settings.from_env(
        {
            "MODEL_STORE_URL": f"file://{tmp_path}/models",
            "MODEL_KEEP_VERSIONS": "2",
            "MODEL_MAX_BYTES": str(len(tictactoe_model) - 1),
        }
    )
    store = open_model_store(settings)
    for _ in range(3):
        store.publish("tictactoe", tictactoe_model)
    assert store.versions("tictactoe") == [2, 3]
    with pytest.raises(ModelTooLarge, match=f"over MODEL_MAX_BYTES={len(tictactoe_model) - 1}"):
        store.read_version("tictactoe", 3)


def test_the_replay_database_runs_with_replay_statement_timeout(postgres_database):
    settings = Settings.from_env({"REPLAY_URL": postgres_database, "REPLAY_STATEMENT_TIMEOUT": "7"})
    with open_replay(settings) as replay:
        assert replay.database.fetch("SHOW statement_timeout") == [("7s",)]
