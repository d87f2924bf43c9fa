// What the dashboard's charts plot, as uPlot's aligned data ([xs, ys1, ys2, ...], null where a series has no
// point), and how their numbers read. Drawing is uPlot's (LineChart.svelte); everything here is plain data.

const MAX_SAMPLES = 720; // an hour of /stats polls at 5 s

/** The polls kept for the throughput chart: `samples` plus this /stats answer, oldest first, bounded. */
export function addSample(samples, stats) {
  if (!stats || samples.some((s) => s.t === stats.generated_at)) return samples;
  const next = [...samples, { t: stats.generated_at, episodes: stats.episodes, transitions: stats.transitions }];
  return next.length > MAX_SAMPLES ? next.slice(next.length - MAX_SAMPLES) : next;
}

/** TensorBoard's smoothing: an exponential moving average with weight `weight` (0 = none), debiased so the first
 *  points are not pulled towards 0. Nulls (no point) stay null and do not move the average. */
export function ema(values, weight) {
  let last = 0;
  let n = 0;
  return values.map((v) => {
    if (v === null || v === undefined || !Number.isFinite(v)) return null;
    n += 1;
    last = last * weight + (1 - weight) * v;
    return last / (1 - weight ** n);
  });
}

/** Loss per iteration: policy, value and total, smoothed when asked. On a log scale a loss of 0 or less has no
 *  place, so it is left out (null) rather than dragging the axis to minus infinity. */
export function lossData(history, { smoothing = 0, log = false } = {}) {
  const xs = history.map((p) => p.iteration);
  const series = ["policy_loss", "value_loss", "total_loss"].map((key) => {
    const values = ema(
      history.map((p) => p[key]),
      smoothing,
    );
    return log ? values.map((v) => (v !== null && v > 0 ? v : null)) : values;
  });
  return [xs, ...series];
}

/** Seconds each iteration took, by iteration. */
export function iterationTimeData(history) {
  return [history.map((p) => p.iteration), history.map((p) => p.duration_s)];
}

/** Episodes and transitions per second over wall-clock time: the counts at each finished iteration and at each
 *  /stats poll, in time order, differenced. A rate sits at the end of its interval; no rate before the second
 *  count. Counts that went backwards (a new replay database) start afresh rather than plot a negative rate. */
export function throughputData(history, samples) {
  const counts = [
    ...history.map((p) => ({ t: p.finished_at, episodes: p.episodes_seen, transitions: p.transitions_seen })),
    ...samples,
  ].sort((a, b) => a.t - b.t);
  const xs = [];
  const episodes = [];
  const transitions = [];
  for (let i = 1; i < counts.length; i++) {
    const [a, b] = [counts[i - 1], counts[i]];
    const dt = b.t - a.t;
    if (dt <= 0 || b.episodes < a.episodes || b.transitions < a.transitions) continue;
    xs.push(b.t);
    episodes.push((b.episodes - a.episodes) / dt);
    transitions.push((b.transitions - a.transitions) / dt);
  }
  return [xs, episodes, transitions];
}

function rated(arena) {
  return (arena?.versions ?? []).filter((v) => v.status === "rated");
}

/** The reference players drawn as horizontal lines on the rating chart: each one /stats gives a rating for (over
 *  every game the arena stored), in the order of `references`. Random is the anchor at 0
 *  (cartridge.arena.ratings.ANCHOR), also before the arena has played. */
export function referenceLines(arena) {
  const known = arena?.reference_ratings ?? {};
  return (arena?.references ?? []).flatMap((name) => {
    const rating = known[name] ?? (name === "random" ? 0 : undefined);
    return rating === undefined ? [] : [{ name, rating }];
  });
}

/** Rating by rated version (skipped versions have none), and one constant series per reference line. */
export function ratingData(arena) {
  const versions = rated(arena);
  const xs = versions.map((v) => v.version);
  return [xs, versions.map((v) => v.rating), ...referenceLines(arena).map((line) => xs.map(() => line.rating))];
}

/** The share of labelled positions where the move is optimal, in %, by rated version: the raw network's top move,
 *  and the arena's search with that network. */
export function optimalData(arena) {
  const versions = rated(arena);
  const percent = (share) => (share === null || share === undefined ? null : 100 * share);
  return [versions.map((v) => v.version), versions.map((v) => percent(v.optimal_network)), versions.map((v) => percent(v.optimal_search))];
}

/** Axis labels for integer axes (iterations, versions): whole numbers only, never "12.00". */
export function integerTicks(splits) {
  return splits.map((v) => (Number.isInteger(v) ? String(v) : ""));
}

/** Axis labels for a wall-clock axis (Unix seconds, shown in local time): "14:05", with seconds when the ticks are
 *  less than a minute apart, and the date ("Dec 6") when they are a day or more apart. */
export function timeTicks(splits, increment) {
  const options =
    increment >= 86400 ? { month: "short", day: "numeric" } : { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  if (increment < 60) options.second = "2-digit";
  const format = new Intl.DateTimeFormat([], options);
  return splits.map((t) => (t === null ? "" : format.format(new Date(t * 1000))));
}

/** Tick spacings uPlot may choose for an integer axis: 1, 2, 5, 10, 20, 50, ... */
export const INTEGER_INCREMENTS = [1, 2, 5].flatMap((m) => [1, 10, 100, 1_000, 10_000, 100_000].map((p) => m * p)).sort((a, b) => a - b);

/** A value for a legend or a tick: 3 significant digits, "–" for none. */
export function formatValue(value, unit = "") {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  const abs = Math.abs(value);
  const digits = abs >= 100 || Number.isInteger(value) ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return `${value.toFixed(digits)}${unit}`;
}

/** Labels for a value axis, one precision for all of them, from the spacing of the ticks ("0.5 1.0 1.5", "10 20");
 *  on a log scale the ticks are spaced unevenly, so each gets the decimals its own size needs ("0.2 0.5 1 2"). */
export function axisTicks(splits, increment, { unit = "", log = false } = {}) {
  const decimals = (step) => {
    let d = 0; // the fewest that write the step exactly: 0.25 needs 2, 0.5 one, 10 none
    while (d < 6 && Math.abs(Math.round(step * 10 ** d) - step * 10 ** d) > 1e-6) d += 1;
    return d;
  };
  // uPlot passes null for a tick it leaves unlabelled
  return splits.map((v) => (v === null ? "" : `${v.toFixed(decimals(log ? Math.abs(v) : increment))}${unit}`));
}

/** A duration for people: "45 s", "12 min", "3 h 05 min", "2 d 4 h". */
export function formatDuration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

/** The progress line's parts: the iteration against the target (0 = the trainer runs forever), when /stats was
 *  read, and how old the served model is (known when it is the newest published; an older one is named). */
export function progress(stats) {
  const target = stats.training_iterations;
  const iteration = target > 0 ? `iteration ${stats.iteration} of ${target}` : `iteration ${stats.iteration} (runs until stopped)`;
  const updated = new Date(stats.generated_at * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
  let model = "no model yet";
  if (stats.model && stats.served_model_version === stats.model.version) {
    model = `serving v${stats.model.version}, published ${formatDuration(stats.generated_at - stats.model.published_at)} ago`;
  } else if (stats.model) {
    const age = formatDuration(stats.generated_at - stats.model.published_at);
    model = `serving v${stats.served_model_version}; v${stats.model.version} published ${age} ago`;
  }
  return { iteration, updated, model };
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
