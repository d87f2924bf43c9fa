"""`devtools status`'s caption from the web's /stats: the newest rating, or that there is none yet."""

from __future__ import annotations

from devtools.runtime import stats_caption

STATS = {"episodes": 120, "transitions": 900, "iteration": 7, "model": {"version": 7}, "episodes_per_second": 2.5}


def version(number: int, status: str = "rated", rating: float | None = None) -> dict:
    return {"version": number, "status": status, "rating": rating, "note": "", "scores": {}}


def test_the_caption_ends_with_the_newest_rated_version_and_version_ones_rating():
    arena = {
        "references": ["random"],
        "message": "",
        "versions": [version(1, rating=101.4), version(5, rating=388.6), version(6, "skipped")],
    }
    caption = stats_caption(STATS | {"arena": arena})
    assert caption.startswith("episodes 120  ·  transitions 900  ·  iteration 7  ·  model v7")
    assert caption.endswith("  ·  arena: v5 rated 389 (v1 101)")


def test_before_any_rating_the_caption_says_so():
    skipped_only = {"versions": [version(1, "skipped")]}
    assert stats_caption(STATS | {"arena": skipped_only}).endswith("arena: no version rated yet")
    assert stats_caption(STATS).endswith("arena: no version rated yet")  # a web from before the arena
