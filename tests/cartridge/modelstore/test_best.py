"""The best pointer and what retention keeps for the arena, against a directory and a real S3 API server."""

from __future__ import annotations

import pytest

from cartridge.inference import ModelWatcher, UniformEvaluator
from cartridge.modelstore import CorruptModel, sha256_hex
from tests.cartridge.modelstore.test_modelstore import model, overwrite


def test_the_best_manifest_names_a_promoted_version_with_its_hash_time_and_reason(store):
    assert store.best("tictactoe") is None and store.change_token("tictactoe", "best") is None
    for n in (1, 2, 3):
        store.publish("tictactoe", model(n))
    best = store.promote("tictactoe", 2, "gate: 0.7 against v1")
    assert (best.version, best.sha256, best.size_bytes, best.reason) == (
        2,
        sha256_hex(model(2)),
        len(model(2)),
        "gate: 0.7 against v1",
    )
    assert store.best("tictactoe") == best and store.latest("tictactoe").version == 3
    assert store.fetch("tictactoe", "best") == (best, model(2))
    token = store.change_token("tictactoe", "best")
    store.publish("tictactoe", model(4))
    assert store.change_token("tictactoe", "best") == token, "a publication does not move the best"
    store.promote("tictactoe", 4, "gate: 0.6 against v2")
    assert store.change_token("tictactoe", "best") != token and store.best("tictactoe").version == 4
    assert store.best("connect4") is None, "games are kept apart"


def test_promoting_a_version_the_store_does_not_hold_is_a_clear_error_and_keeps_the_best(store):
    store.publish("tictactoe", model(1))
    store.promote("tictactoe", 1, "first")
    with pytest.raises(CorruptModel, match=r"v000007\.onnx cannot be promoted: it is not in the store"):
        store.promote("tictactoe", 7, "never published")
    assert store.best("tictactoe").version == 1


def test_retention_never_deletes_the_best_version(store):  # keep_versions=3
    store.mark_rated("connect4", 0)
    for n in range(1, 9):
        store.publish("connect4", model(n))
        store.mark_rated("connect4", n)
        if n == 2:
            store.promote("connect4", 2, "gate passed")
    assert store.versions("connect4") == [2, 6, 7, 8]
    assert store.fetch("connect4", "best")[1] == model(2)


def test_retention_keeps_every_version_above_the_arenas_mark(store):
    store.mark_rated("connect4", 0)  # an arena rates this game: nothing is rated yet
    for n in range(1, 6):
        store.publish("connect4", model(n))
    assert store.versions("connect4") == [1, 2, 3, 4, 5], "none rated: none deleted"
    store.mark_rated("connect4", 5)  # the arena reached v5 (v1-v4 rated or skipped)
    store.publish("connect4", model(6))
    assert store.versions("connect4") == [4, 5, 6]
    assert store.rated_through("connect4") == 5


def test_without_an_arenas_mark_retention_keeps_the_newest_versions(store):
    for n in range(1, 6):
        store.publish("connect4", model(n))
    assert store.rated_through("connect4") is None and store.versions("connect4") == [3, 4, 5]


def test_an_unreadable_best_manifest_deletes_nothing_and_is_named(store, store_url):
    for n in range(1, 4):
        store.publish("connect4", model(n))
    overwrite(store, store_url, "connect4/best.json", b"{not json")
    store.publish("connect4", model(4))
    assert store.versions("connect4") == [1, 2, 3, 4], "which version is best is unknown: none deleted"
    with pytest.raises(CorruptModel, match="unreadable manifest"):
        store.best("connect4")


def test_a_watcher_following_best_serves_the_uniform_prior_until_a_promotion(store, tictactoe_model):
    latest, best = (ModelWatcher(store, "tictactoe", 9, follow) for follow in ("latest", "best"))
    store.publish("tictactoe", tictactoe_model)
    assert latest.poll().version == 1 and best.poll() is None
    assert isinstance(best.current, UniformEvaluator)
    store.publish("tictactoe", tictactoe_model)
    store.promote("tictactoe", 1, "gate passed")
    assert latest.poll().version == 2 and best.poll().version == 1
    assert best.current.version == 1
    store.promote("tictactoe", 2, "gate passed")  # a promotion with no new publication
    assert best.poll().version == 2 and latest.poll() is None
