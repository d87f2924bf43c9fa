// Scaling helpers for the small SVG charts (no chart library: a few paths are all we need).

export function extent(values) {
  if (values.length === 0) return [0, 1];
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (lo === hi) {
    lo -= 1;
    hi += 1;
  }
  return [lo, hi];
}

export function scale([d0, d1], [r0, r1]) {
  return (v) => r0 + ((v - d0) / (d1 - d0)) * (r1 - r0);
}

/** SVG path "M x y L x y ..." for points [{x, y}] inside a width x height box with padding. */
export function linePath(points, width, height, pad = 24) {
  if (points.length === 0) return "";
  const sx = scale(extent(points.map((p) => p.x)), [pad, width - pad]);
  const sy = scale(extent(points.map((p) => p.y)), [height - pad, pad]);
  return points.map((p, i) => `${i ? "L" : "M"}${sx(p.x).toFixed(1)} ${sy(p.y).toFixed(1)}`).join(" ");
}

/** Scaled circle positions, for markers. */
export function markers(points, width, height, pad = 24) {
  const sx = scale(extent(points.map((p) => p.x)), [pad, width - pad]);
  const sy = scale(extent(points.map((p) => p.y)), [height - pad, pad]);
  return points.map((p) => ({ cx: sx(p.x), cy: sy(p.y), ...p }));
}

const MAX_SAMPLES = 720; // an hour of /stats polls at 5 s

/** The polls kept for "episodes over time": `samples` plus this /stats answer, oldest first, bounded. */
export function addSample(samples, stats) {
  if (!stats || samples.some((s) => s.x === stats.generated_at)) return samples;
  const next = [...samples, { x: stats.generated_at, y: stats.episodes }];
  return next.length > MAX_SAMPLES ? next.slice(next.length - MAX_SAMPLES) : next;
}

/** Episodes over time: the count at each finished iteration, joined with the live samples of each poll,
 *  so the chart moves between iterations and before the first one. */
export function episodeSeries(history, samples) {
  const points = [
    ...history.map((p) => ({ x: p.finished_at, y: p.episodes_seen, label: `${p.episodes_seen} episodes after iteration ${p.iteration}` })),
    ...samples.map((s) => ({ x: s.x, y: s.y, label: `${s.y} episodes at ${new Date(s.x * 1000).toLocaleTimeString()}` })),
  ];
  return points.sort((a, b) => a.x - b.x);
}

/** Model versions over time: each iteration's publication, and the current model (also before any
 *  iteration record, e.g. a model published by an earlier trainer). */
export function versionSeries(history, model) {
  const points = history.map((p) => ({ x: p.finished_at, y: p.model_version, label: `v${p.model_version} from iteration ${p.iteration}` }));
  if (model && !history.some((p) => p.model_version === model.version)) {
    points.push({ x: model.published_at, y: model.version, label: `v${model.version} (current)` });
  }
  return points.sort((a, b) => a.x - b.x);
}

/** Rating over versions: each rated version's rating (random = 0); skipped versions have none. */
export function ratingSeries(arena) {
  return (arena?.versions ?? [])
    .filter((v) => v.status === "rated")
    .map((v) => ({ x: v.version, y: v.rating, label: `v${v.version}: rating ${v.rating.toFixed(0)}` }));
}

/** The scores table: one row per version the arena reached, newest first, a cell per reference opponent
 *  ("–" where a version did not play it), and why a skipped version was skipped. */
export function scoreRows(arena) {
  const references = arena?.references ?? [];
  return [...(arena?.versions ?? [])].reverse().map((v) => ({
    version: v.version,
    status: v.status,
    rating: v.rating === null ? "–" : v.rating.toFixed(0),
    cells: references.map((name) => {
      const s = v.scores[name];
      return s ? `${s.score.toFixed(2)} (${s.wins}/${s.draws}/${s.losses})` : "–";
    }),
    optimal: v.optimal_search === null ? "–" : `${(100 * v.optimal_search).toFixed(0)} %`,
    note: v.note,
  }));
}

/** An Elo difference for reading: "+35", "−120", and "+∞" / "−∞" where /stats gives null (a score of 1 or 0). */
export function signedElo(value, unbounded) {
  if (value === null || value === undefined) return unbounded;
  const rounded = Math.round(value);
  return rounded < 0 ? `−${-rounded}` : `+${rounded}`;
}

/** The Matches table: one row per on-demand match (`devtools match A B`), newest first as /stats lists them, from
 *  player A's side: wins/draws/losses, the score with its 95 % interval, the Elo difference with its interval. */
export function matchRows(matches) {
  return (matches ?? []).map((m) => ({
    id: m.match_id,
    game: m.env_id,
    players: `${m.player_a} vs ${m.player_b}`,
    games: m.games,
    record: `${m.wins}/${m.draws}/${m.losses}`,
    score: `${m.score.toFixed(2)} (${m.score_low.toFixed(2)}–${m.score_high.toFixed(2)})`,
    elo:
      `${signedElo(m.elo, m.score >= 1 ? "+∞" : "−∞")} ` +
      `(${signedElo(m.elo_low, "−∞")} to ${signedElo(m.elo_high, "+∞")})`,
    when: new Date(m.finished_at * 1000).toISOString().slice(0, 16).replace("T", " "),
  }));
}
