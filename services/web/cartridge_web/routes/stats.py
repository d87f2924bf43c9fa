"""/stats: training progress for the dashboard, from a read shared by all clients for up to a second; with
``since``, only the history added after that cursor (stats_history)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

from cartridge.arena.loop import reference_players
from cartridge.arena.ratings_store import RATED, MatchRow
from cartridge.arena.scoring import elo_difference
from cartridge.games import get_game
from cartridge.settings import Settings

from ..dependencies import ModelsDep, SettingsDep, TrainingDep
from ..schemas import (
    ArenaRatings,
    HistoryLengths,
    IterationPoint,
    MatchSummary,
    ModelSummary,
    Problem,
    Stats,
    VersionRating,
)
from ..stats_cache import TrainingSnapshot
from ..stats_history import CURSOR_MAX_LENGTH, BadCursor, cursor_of, increment, lengths_of, parse_cursor

NO_MODEL_YET = "no model yet: the trainer publishes v1 after its first iteration; games use a uniform prior until then"

router = APIRouter(tags=["training"])


SINCE = Query(
    max_length=CURSOR_MAX_LENGTH,
    description="the `cursor` of your previous answer: the histories then hold only rows added since (see `reset`)",
)
# Bodies for `since` cursors kept per read (about a second): one per client that is behind; more are rendered unkept.
SINCE_PAGES_LIMIT = 64


@router.get("/stats", response_model=Stats, responses={503: {"model": Problem}})
async def stats(
    settings: SettingsDep, models: ModelsDep, training: TrainingDep, since: Annotated[str | None, SINCE] = None
) -> Response:
    cursor = None if since is None else _parse(since)
    snapshot = await training.snapshot()
    if snapshot.replay_problem is not None:
        raise HTTPException(503, snapshot.replay_problem)
    served = models.current(settings.env_id).version
    page = snapshot.pages.get((served, since))
    if page is None:  # the first client of this read (and cursor): the others get the same bytes
        full = snapshot.rendered.get(served)
        if full is None:
            full = snapshot.rendered[served] = render(snapshot, served, settings)
        page = (full if cursor is None else increment(full, cursor)).model_dump_json().encode()
        if since is None or len(snapshot.pages) < SINCE_PAGES_LIMIT:
            snapshot.pages[served, since] = page
    return Response(page, media_type="application/json")


def _parse(since: str):
    try:
        return parse_cursor(since)
    except BadCursor as exc:
        # As FastAPI's own validation errors: one Problem sentence naming the parameter (app._invalid_request).
        hint = "drop `since` for the whole answer, then pass back the `cursor` it carries"
        raise RequestValidationError([{"loc": ("query", "since"), "msg": f"{exc}; {hint}"}]) from None


def render(snapshot: TrainingSnapshot, served: int, settings: Settings) -> Stats:
    manifest, records = snapshot.manifest, snapshot.iterations
    full = Stats(
        env_id=settings.env_id,
        episodes=snapshot.episodes,
        transitions=snapshot.transitions,
        episodes_per_second=round(snapshot.episodes_per_second, 3),
        replay_buffer_size=min(snapshot.stored_transitions, settings.replay_window),
        iteration=records[-1].iteration if records else 0,
        training_iterations=settings.training_iterations,
        model=ModelSummary(version=manifest.version, published_at=manifest.created_at, sha256=manifest.sha256)
        if manifest
        else None,
        model_message=model_message(snapshot, served),
        model_versions=snapshot.versions,
        served_model_version=served,
        loss_history=[IterationPoint(**{k: getattr(r, k) for k in IterationPoint.model_fields}) for r in records],
        arena=arena_ratings(snapshot, settings),
        matches=[match_summary(row) for row in snapshot.matches],
        generated_at=snapshot.read_at,
        cursor="",
        reset=True,
        lengths=HistoryLengths(loss_history=0, arena_versions=0, matches=0),
    )
    return full.model_copy(update={"cursor": cursor_of(full), "lengths": lengths_of(full)})


def model_message(snapshot: TrainingSnapshot, served: int) -> str:
    if snapshot.store_problem is not None:
        return f"{snapshot.store_problem}; serving v{served}"
    if snapshot.manifest is None:
        return NO_MODEL_YET
    if served < snapshot.manifest.version:
        return f"v{snapshot.manifest.version} published; this replica still serves v{served} until its next poll"
    return f"serving v{served}"


def arena_ratings(snapshot: TrainingSnapshot, settings: Settings) -> ArenaRatings:
    rows = snapshot.ratings
    rated = [r for r in rows if r.status == RATED]
    if snapshot.ratings_problem is not None:
        message = snapshot.ratings_problem
    elif not rows:
        message = "no version rated yet: the arena rates each new model version as it is published"
    else:
        skipped = len(rows) - len(rated)
        newest = f"v{rated[-1].version} rated {rated[-1].rating:.0f}" if rated else "no version rated yet"
        message = newest + (f"; {skipped} version{'s' * (skipped != 1)} skipped" if skipped else "")
    references = list(reference_players(get_game(settings.env_id)))
    return ArenaRatings(
        references=references,
        reference_ratings={name: round(snapshot.ladder[name], 1) for name in references if name in snapshot.ladder},
        versions=[VersionRating(**{k: getattr(r, k) for k in VersionRating.model_fields}) for r in rows],
        message=message,
    )


def match_summary(row: MatchRow) -> MatchSummary:
    """A stored match, with the Elo figures its result carries (what `devtools match` printed); computed from the
    stored scores for a result without them."""

    def elo(score: float) -> float | None:
        difference = elo_difference(score)
        return None if difference is None else round(difference, 1)

    result = row.detail.get("result") or {}
    computed = {"elo": elo(row.score), "elo_low": elo(row.score_low), "elo_high": elo(row.score_high)}
    figures = {key: result.get(key, value) for key, value in computed.items()}
    plain = {name: getattr(row, name) for name in MatchSummary.model_fields if hasattr(row, name)}
    return MatchSummary(**plain, **figures)
