"""The one bounded wait (cartridge.waiting), its devtools face (devtools.wait), and the replay set-up that uses it."""

from __future__ import annotations

import socket

import pytest

from cartridge.replay.setup import SetupError, connect_waiting
from cartridge.waiting import NotReadyInTime, wait_until_ready
from devtools.wait import WaitTimeout
from devtools.wait import wait_until_ready as devtools_wait_until_ready


def answers(*replies: str | None):
    """A why-not callback that gives these replies in turn (the last one forever) and counts the questions."""
    asked = []

    def why_not() -> str | None:
        asked.append(1)
        return replies[min(len(asked), len(replies)) - 1]

    return why_not, asked


def test_it_asks_until_the_answer_is_ready_and_reports_each_reason():
    why_not, asked = answers("starting", "migrating", None)
    heard: list[str] = []
    wait_until_ready("the thing", why_not, 5, progress=heard.append, interval=0.01)
    assert len(asked) == 3
    assert heard == ["waiting for the thing: starting", "waiting for the thing: migrating"]
    assert [(h.what, h.reason) for h in heard] == [("the thing", "starting"), ("the thing", "migrating")]


def test_a_timeout_is_one_sentence_with_the_last_reason_asked_again_at_the_bound():
    why_not, asked = answers("first", "still busy")
    with pytest.raises(NotReadyInTime) as raised:
        wait_until_ready("the thing", why_not, 0.05, interval=0.01)
    assert str(raised.value) == "the thing did not become ready within 0 s (still busy)"
    assert (raised.value.what, raised.value.reason) == ("the thing", "still busy")
    assert len(asked) >= 2


def test_a_zero_bound_still_asks_once():
    why_not, asked = answers(None)
    wait_until_ready("the thing", why_not, 0)
    assert len(asked) == 1


def test_devtools_says_the_same_sentence_and_adds_its_hint():
    why_not, _ = answers("no answer")
    with pytest.raises(WaitTimeout) as raised:
        devtools_wait_until_ready("the registry", why_not, 0, hint="see `docker logs kind-registry`")
    assert raised.value.message == "the registry did not become ready within 0 s (no answer)"
    assert raised.value.hint == "see `docker logs kind-registry`"


def test_the_replay_set_up_waits_for_postgresql_with_the_same_sentence_and_no_password():
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql://postgres:s3cret@127.0.0.1:{port}/cartridge"
    with pytest.raises(SetupError) as raised:
        connect_waiting(url, wait_seconds=0)
    message = str(raised.value)
    assert message.startswith(f"PostgreSQL postgresql://postgres:***@127.0.0.1:{port}/cartridge did not become ready")
    assert "within 0 s (" in message and "s3cret" not in message
