"""``GET /stats?since=<cursor>``: only the history rows added since, merged by the client into what a full
answer holds, on the real app over a real SQLite buffer while other connections record iterations, ratings
and matches (as the trainer and the arena do)."""

from __future__ import annotations

import base64
import json
import sqlite3
import threading
import time

import pytest

from cartridge.arena.ratings_store import RATED, MatchRow, RatingsStore, VersionResult
from cartridge.replay import IterationRecord, open_training_log
from cartridge_web import stats_cache

HISTORIES = ("loss_history", "matches")  # top level; arena.versions is nested


def merge(held: dict | None, answer: dict) -> dict:
    """What the frontend does (services/frontend/src/lib/stats.js): the rule the schema's `reset` describes."""
    if held is None or answer["reset"]:
        return answer
    lengths = answer["lengths"]

    def newest(rows: list, n: int) -> list:
        return rows[len(rows) - n :]

    merged = dict(answer)
    merged["loss_history"] = newest(held["loss_history"] + answer["loss_history"], lengths["loss_history"])
    merged["matches"] = (answer["matches"] + held["matches"])[: lengths["matches"]]
    versions = newest(held["arena"]["versions"] + answer["arena"]["versions"], lengths["arena_versions"])
    merged["arena"] = {**answer["arena"], "versions": versions}
    return merged


def histories(stats: dict) -> tuple:
    return stats["loss_history"], stats["arena"]["versions"], stats["matches"]


@pytest.fixture
def fresh_reads(client):
    """Every /stats call reads the database anew (no shared second, no stale answer)."""
    reads = client.app.state.services.training.reads
    reads.max_age = reads.stale_for = 0
    return client


def record(settings, first: int, last: int, finished_at: float | None = None) -> None:
    with open_training_log(settings.replay_url) as log:
        for i in range(first, last + 1):
            at = time.time() if finished_at is None else finished_at + i
            log.record_iteration(IterationRecord("tictactoe", i, i, 0.8, 0.2, 1.0, 5 * i, 40 * i, 1.0, at))


def match(match_id: str, finished_at: float) -> MatchRow:
    return MatchRow(match_id, "tictactoe", "v1", "random", 2, 1, 1, 0, 0.75, 0.3, 0.95, 7, finished_at - 5, finished_at)


def test_a_poll_since_a_cursor_sends_only_the_rows_added_since(fresh_reads, settings):
    record(settings, 1, 3, finished_at=1_000)
    first = fresh_reads.get("/stats").json()
    assert first["reset"] is True and len(first["loss_history"]) == 3
    assert first["lengths"] == {"loss_history": 3, "arena_versions": 0, "matches": 0}

    nothing_new = fresh_reads.get("/stats", params={"since": first["cursor"]}).json()
    assert nothing_new["reset"] is False and histories(nothing_new) == ([], [], [])
    assert nothing_new["iteration"] == 3 and nothing_new["cursor"] == first["cursor"]  # the scalars as ever

    record(settings, 4, 5, finished_at=1_000)
    ratings = RatingsStore.open(settings.replay_url)
    ratings.record(VersionResult("tictactoe", 1, RATED, rating=12.0, games=4, finished_at=2_000), [])
    ratings.record_match(match("m1", 3_000))
    later = fresh_reads.get("/stats", params={"since": first["cursor"]}).json()
    assert later["reset"] is False
    assert [p["iteration"] for p in later["loss_history"]] == [4, 5]
    assert [v["version"] for v in later["arena"]["versions"]] == [1]
    assert [m["match_id"] for m in later["matches"]] == ["m1"]
    assert later["lengths"] == {"loss_history": 5, "arena_versions": 1, "matches": 1}

    ratings.record_match(match("m2", 3_100))
    ratings.close()
    newest = fresh_reads.get("/stats", params={"since": later["cursor"]}).json()
    assert [m["match_id"] for m in newest["matches"]] == ["m2"] and newest["loss_history"] == []
    merged = merge(merge(first, later), newest)
    assert histories(merged) == histories(fresh_reads.get("/stats").json())
    assert [m["match_id"] for m in merged["matches"]] == ["m2", "m1"]  # newest first, as the full answer


def test_successive_polls_while_iterations_are_recorded_lose_and_repeat_no_row(fresh_reads, settings):
    def trainer() -> None:
        with open_training_log(settings.replay_url) as log:
            for i in range(1, 61):
                log.record_iteration(IterationRecord("tictactoe", i, i, 0.8, 0.2, 1.0, 5 * i, 40 * i, 1.0))
                time.sleep(0.005)

    writer = threading.Thread(target=trainer)
    held, increments = None, []
    writer.start()
    while writer.is_alive() or held is None:
        answer = fresh_reads.get("/stats", params={"since": held["cursor"]} if held else {}).json()
        increments.append(len(answer["loss_history"]))
        held = merge(held, answer)
    writer.join()
    held = merge(held, fresh_reads.get("/stats", params={"since": held["cursor"]}).json())
    assert [p["iteration"] for p in held["loss_history"]] == list(range(1, 61))
    assert histories(held) == histories(fresh_reads.get("/stats").json())
    assert len([n for n in increments if n]) > 2, f"the polls did not interleave with the writes: {increments}"


def test_a_window_that_slid_past_the_cursor_still_merges_into_the_full_answer(fresh_reads, settings, monkeypatch):
    monkeypatch.setattr(stats_cache, "LOSS_HISTORY_LIMIT", 5)  # /stats shows the newest 5 iterations
    record(settings, 1, 4, finished_at=1_000)
    held = fresh_reads.get("/stats").json()
    record(settings, 5, 6, finished_at=1_000)  # the window slides by one: iteration 1 drops out
    answer = fresh_reads.get("/stats", params={"since": held["cursor"]}).json()
    assert answer["reset"] is False and [p["iteration"] for p in answer["loss_history"]] == [5, 6]
    held = merge(held, answer)
    assert [p["iteration"] for p in held["loss_history"]] == [2, 3, 4, 5, 6]

    record(settings, 7, 30, finished_at=1_000)  # far past everything the client holds
    answer = fresh_reads.get("/stats", params={"since": held["cursor"]}).json()
    assert answer["reset"] is False and [p["iteration"] for p in answer["loss_history"]] == [26, 27, 28, 29, 30]
    assert histories(merge(held, answer)) == histories(fresh_reads.get("/stats").json())


def test_history_the_cursor_does_not_continue_is_sent_whole_with_reset(fresh_reads, settings):
    record(settings, 1, 3, finished_at=1_000)
    held = fresh_reads.get("/stats").json()
    record(settings, 3, 4, finished_at=5_000)  # iteration 3 recorded again (a trainer that restarted), then 4
    answer = fresh_reads.get("/stats", params={"since": held["cursor"]}).json()
    assert answer["reset"] is True and [p["iteration"] for p in answer["loss_history"]] == [1, 2, 3, 4]
    assert answer["loss_history"][2]["finished_at"] == 5_003

    ratings = RatingsStore.open(settings.replay_url)
    ratings.record_match(match("late", 4_000))
    held = merge(merge(held, answer), fresh_reads.get("/stats", params={"since": answer["cursor"]}).json())
    assert [m["match_id"] for m in held["matches"]] == ["late"]
    ratings.record_match(match("behind", 3_000))  # a match that finished before the newest one the client holds
    ratings.close()
    behind = fresh_reads.get("/stats", params={"since": held["cursor"]}).json()
    assert behind["reset"] is True and [m["match_id"] for m in behind["matches"]] == ["late", "behind"]


def test_a_row_recorded_behind_the_cursor_of_a_full_window_is_sent_whole(fresh_reads, settings, monkeypatch):
    """The window holds as many rows as before, so only the oldest held row leaving it tells."""
    monkeypatch.setattr(stats_cache, "MATCHES_LIMIT", 2)
    ratings = RatingsStore.open(settings.replay_url)
    try:
        for match_id, finished_at in (("first", 4_000), ("second", 4_100)):
            ratings.record_match(match(match_id, finished_at))
        held = fresh_reads.get("/stats").json()
        ratings.record_match(match("recorded late", 4_050))  # between the two; "first" leaves the window
        answer = fresh_reads.get("/stats", params={"since": held["cursor"]}).json()
        full = fresh_reads.get("/stats").json()
        assert [m["match_id"] for m in full["matches"]] == ["second", "recorded late"]
        assert answer["reset"] is True and histories(merge(held, answer)) == histories(full)

        # And a window that slid because rows came at its new end still continues.
        ratings.record_match(match("third", 4_200))
        answer = fresh_reads.get("/stats", params={"since": full["cursor"]}).json()
        assert answer["reset"] is False and [m["match_id"] for m in answer["matches"]] == ["third"]
        assert histories(merge(full, answer)) == histories(fresh_reads.get("/stats").json())
    finally:
        ratings.close()


def test_a_row_gone_from_inside_the_held_rows_is_sent_whole(fresh_reads, settings):
    record(settings, 1, 4, finished_at=1_000)
    held = fresh_reads.get("/stats").json()
    with sqlite3.connect(settings.replay_url.removeprefix("sqlite:///")) as db:  # behind the client's back
        db.execute("DELETE FROM iterations WHERE iteration = 2")
    answer = fresh_reads.get("/stats", params={"since": held["cursor"]}).json()
    assert answer["reset"] is True and [p["iteration"] for p in answer["loss_history"]] == [1, 3, 4]


def test_a_cursor_issued_before_the_oldest_row_was_kept_still_reads(fresh_reads, settings):
    record(settings, 1, 3, finished_at=1_000)
    held = fresh_reads.get("/stats").json()
    old = {"loss_history": [3, [3, 1_003.0]], "arena_versions": None, "matches": None}
    since = base64.urlsafe_b64encode(json.dumps(old).encode()).decode().rstrip("=")
    record(settings, 4, 4, finished_at=1_000)
    answer = fresh_reads.get("/stats", params={"since": since}).json()
    assert answer["reset"] is False and [p["iteration"] for p in answer["loss_history"]] == [4]
    assert histories(merge(held, answer)) == histories(fresh_reads.get("/stats").json())


@pytest.mark.parametrize(
    "since",
    [
        "not a cursor!",
        base64.urlsafe_b64encode(b"[1, 2]").decode(),
        base64.urlsafe_b64encode(b'{"loss_history": [3, ["x", 1]], "arena_versions": null, "matches": null}').decode(),
        "x" * 2000,
    ],
)
def test_a_cursor_this_server_did_not_issue_is_a_422_that_says_what_to_do(client, since):
    answer = client.get("/stats", params={"since": since})
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("query.since: ")
    if len(since) < 1024:
        assert "drop `since`" in answer.json()["detail"], answer.json()


def test_clients_with_the_same_cursor_share_one_rendered_body(client, settings, monkeypatch):
    from cartridge_web.routes import stats as stats_route

    record(settings, 1, 3, finished_at=1_000)
    reads = client.app.state.services.training.reads
    reads.max_age = 60  # one read serves every call below
    cursor = client.get("/stats").json()["cursor"]
    made = []
    real = stats_route.increment
    monkeypatch.setattr(stats_route, "increment", lambda *a: made.append(1) or real(*a))
    bodies = {client.get("/stats", params={"since": cursor}).content for _ in range(10)}
    assert len(bodies) == 1 and len(made) == 1
