import { describe, expect, it } from "vitest";
import {
  INTEGER_INCREMENTS,
  addSample,
  axisTicks,
  ema,
  formatDuration,
  formatValue,
  integerTicks,
  iterationTimeData,
  lossData,
  matchRows,
  optimalData,
  progress,
  ratingData,
  referenceLines,
  scoreRows,
  signedElo,
  throughputData,
  timeTicks,
} from "./chart.js";

describe("smoothing", () => {
  it("is TensorBoard's debiased moving average: the first point is itself, later ones lag", () => {
    const smoothed = ema([1, 3, 3], 0.5);
    expect(smoothed[0]).toBe(1); // debiased: not pulled towards 0
    expect(smoothed[1]).toBeCloseTo((0.25 + 1.5) / 0.75); // (0.5 * 0.5 + 0.5 * 3) / (1 - 0.25)
    expect(smoothed[2]).toBeGreaterThan(smoothed[1]);
    expect(smoothed[2]).toBeLessThan(3);
  });

  it("leaves the values alone at weight 0 and skips missing points", () => {
    expect(ema([2, 1, 4], 0)).toEqual([2, 1, 4]);
    expect(ema([2, null, 2], 0.9)).toEqual([2, null, 2]);
  });
});

describe("dashboard series", () => {
  const history = [
    { iteration: 1, finished_at: 100, episodes_seen: 40, transitions_seen: 400, model_version: 1, policy_loss: 1.6, value_loss: 0.4, total_loss: 2.0, duration_s: 12.5 },
    { iteration: 2, finished_at: 200, episodes_seen: 80, transitions_seen: 900, model_version: 2, policy_loss: 1.2, value_loss: 0, total_loss: 1.2, duration_s: 14 },
  ];

  it("keeps one sample per /stats answer, oldest first, and bounds them", () => {
    let samples = addSample([], { generated_at: 150, episodes: 60, transitions: 650 });
    samples = addSample(samples, { generated_at: 150, episodes: 60, transitions: 650 }); // the same answer twice
    samples = addSample(samples, { generated_at: 250, episodes: 95, transitions: 1000 });
    expect(samples).toEqual([{ t: 150, episodes: 60, transitions: 650 }, { t: 250, episodes: 95, transitions: 1000 }]);
    expect(addSample(samples, null)).toBe(samples);
    let many = [];
    for (let t = 0; t < 800; t++) many = addSample(many, { generated_at: t, episodes: t, transitions: t });
    expect(many.length).toBe(720);
    expect(many[0].t).toBe(80);
  });

  it("plots policy, value and total loss by iteration, smoothed on request", () => {
    expect(lossData(history)).toEqual([[1, 2], [1.6, 1.2], [0.4, 0], [2.0, 1.2]]);
    const smoothed = lossData(history, { smoothing: 0.6 });
    expect(smoothed[3][0]).toBeCloseTo(2.0);
    expect(smoothed[3][1]).toBeGreaterThan(1.2); // pulled towards the earlier, higher loss
  });

  it("leaves a loss of 0 out on a log scale", () => {
    expect(lossData(history, { log: true })[2]).toEqual([0.4, null]);
  });

  it("turns counts at iterations and polls into rates per second, in time order", () => {
    const [xs, episodes, transitions] = throughputData(history, [{ t: 150, episodes: 60, transitions: 650 }, { t: 250, episodes: 95, transitions: 1000 }]);
    expect(xs).toEqual([150, 200, 250]);
    expect(episodes).toEqual([0.4, 0.4, 0.3]);
    expect(transitions).toEqual([5, 5, 2]);
  });

  it("has no rate from a single count, and starts afresh when the counts go backwards", () => {
    expect(throughputData([], [{ t: 5, episodes: 3, transitions: 30 }])).toEqual([[], [], []]);
    const reset = throughputData(history, [{ t: 300, episodes: 10, transitions: 100 }, { t: 310, episodes: 20, transitions: 150 }]);
    expect(reset).toEqual([[200, 310], [0.4, 1], [5, 5]]);
  });

  it("plots each iteration's duration", () => {
    expect(iterationTimeData(history)).toEqual([[1, 2], [12.5, 14]]);
  });
});

describe("axes and legends", () => {
  it("labels integer axes with whole numbers only", () => {
    expect(integerTicks([1, 1.5, 2, 12])).toEqual(["1", "", "2", "12"]);
    expect(INTEGER_INCREMENTS.slice(0, 5)).toEqual([1, 2, 5, 10, 20]);
    expect(INTEGER_INCREMENTS.every(Number.isInteger)).toBe(true);
  });

  it("labels a time axis with local clock times, seconds only when the ticks need them, dates across days", () => {
    const noon = new Date(2026, 11, 6, 12, 5, 30).getTime() / 1000;
    expect(timeTicks([noon], 300)).toEqual(["12:05"]);
    expect(timeTicks([noon], 10)).toEqual(["12:05:30"]);
    expect(timeTicks([noon], 86400)[0]).toMatch(/6/);
    expect(timeTicks([noon], 86400)[0]).not.toMatch(/12:05/);
  });

  it("labels a value axis with one precision, from the ticks' spacing; a log axis tick by tick", () => {
    expect(axisTicks([0.5, 1, 1.5], 0.5)).toEqual(["0.5", "1.0", "1.5"]);
    expect(axisTicks([10, 20], 10, { unit: " %" })).toEqual(["10 %", "20 %"]);
    expect(axisTicks([0.25, 0.5], 0.25)).toEqual(["0.25", "0.50"]);
    expect(axisTicks([0.2, 0.5, 1, 2], 0, { log: true })).toEqual(["0.2", "0.5", "1", "2"]);
    expect(axisTicks([null, 1], 1)).toEqual(["", "1"]);
  });

  it("reads values with three significant digits, integers as integers", () => {
    expect(formatValue(12)).toBe("12");
    expect(formatValue(0.12345)).toBe("0.123");
    expect(formatValue(1.2345, " s")).toBe("1.23 s");
    expect(formatValue(31.25, " %")).toBe("31.3 %");
    expect(formatValue(412.7)).toBe("413");
    expect(formatValue(null)).toBe("–");
  });

  it("says durations in units people read", () => {
    expect(formatDuration(42.4)).toBe("42 s");
    expect(formatDuration(600)).toBe("10 min");
    expect(formatDuration(3 * 3600 + 5 * 60)).toBe("3 h 05 min");
    expect(formatDuration(2 * 86400 + 4 * 3600)).toBe("2 d 4 h");
    expect(formatDuration(-3)).toBe("0 s"); // clocks a little apart
  });
});

describe("progress", () => {
  const stats = { iteration: 12, training_iterations: 100, generated_at: 10_000, model: { version: 12, published_at: 9_400 }, served_model_version: 12 };

  it("says the iteration against the target, or that training runs until stopped", () => {
    expect(progress(stats).iteration).toBe("iteration 12 of 100");
    expect(progress({ ...stats, training_iterations: 0 }).iteration).toBe("iteration 12 (runs until stopped)");
  });

  it("says how old the served model is, and which one is served when it is not the newest", () => {
    expect(progress(stats).model).toBe("serving v12, published 10 min ago");
    expect(progress({ ...stats, served_model_version: 11 }).model).toBe("serving v11; v12 published 10 min ago");
    expect(progress({ ...stats, model: null }).model).toBe("no model yet");
    expect(progress(stats).updated).toMatch(/^\d\d:\d\d:\d\d$/); // 24-hour, like the time axis
  });
});

describe("arena ratings", () => {
  const score = (wins, draws, losses) => ({ games: wins + draws + losses, wins, draws, losses, score: (wins + draws / 2) / (wins + draws + losses) });
  const arena = {
    references: ["random", "minimax"],
    message: "v3 rated 250; 1 version skipped",
    versions: [
      { version: 1, status: "rated", rating: 40.4, note: "", scores: { random: score(3, 0, 1), v0: score(1, 0, 0) }, optimal_search: 0.5, optimal_network: 0.4, games: 4, finished_at: 1 },
      { version: 2, status: "skipped", rating: null, note: "published while the arena was busy", scores: {}, optimal_search: null, optimal_network: null, games: 0, finished_at: 2 },
      { version: 3, status: "rated", rating: 250, note: "", scores: { random: score(4, 0, 0), minimax: score(0, 3, 1) }, optimal_search: 0.915, optimal_network: 0.8, games: 8, finished_at: 3 },
    ],
  };

  it("charts the rated versions' ratings by version, leaving the skipped ones out, random's 0 as a line", () => {
    expect(ratingData(arena)).toEqual([[1, 3], [40.4, 250], [0, 0]]);
    expect(referenceLines(arena)).toEqual([{ name: "random", rating: 0 }]); // no games yet: random, the anchor
    expect(ratingData(undefined)).toEqual([[], []]);
  });

  it("draws each reference /stats rates as a line, in the order of the references", () => {
    const rated = { ...arena, reference_ratings: { minimax: 612.3, random: 0 } };
    expect(referenceLines(rated)).toEqual([{ name: "random", rating: 0 }, { name: "minimax", rating: 612.3 }]);
    expect(ratingData(rated)).toEqual([[1, 3], [40.4, 250], [0, 0], [612.3, 612.3]]);
  });

  it("charts the share of optimal moves in %, the network's alone and with the arena's search", () => {
    expect(optimalData(arena)).toEqual([[1, 3], [40, 80], [50, 91.5]]);
  });

  it("tabulates each version's score against each reference, newest first, and why a version was skipped", () => {
    const rows = scoreRows(arena);
    expect(rows.map((r) => r.version)).toEqual([3, 2, 1]);
    expect(rows[0]).toMatchObject({ rating: "250", cells: ["1.00 (4/0/0)", "0.38 (0/3/1)"], optimal: "92 %" });
    expect(rows[1]).toMatchObject({ status: "skipped", rating: "–", note: "published while the arena was busy" });
    expect(rows[2].cells).toEqual(["0.75 (3/0/1)", "–"]); // v1 never played minimax; v0 is no reference
  });
});

describe("matches table", () => {
  const drawn = {
    match_id: "a1", env_id: "tictactoe", player_a: "v9", player_b: "minimax", games: 20, wins: 0, draws: 20,
    losses: 0, score: 0.5, score_low: 0.2993, score_high: 0.7007, elo: 0, elo_low: -147.8, elo_high: 147.8,
    seed: 4, finished_at: 1700000000,
  };
  const won = { ...drawn, match_id: "b2", player_b: "random", wins: 20, draws: 0, score: 1, score_low: 0.8389,
    score_high: 1, elo: null, elo_low: 286.2, elo_high: null };

  it("shows each match from A's side, with the score's interval and the Elo difference's", () => {
    const [row] = matchRows([drawn]);
    expect(row).toEqual({
      id: "a1", game: "tictactoe", players: "v9 vs minimax", games: 20, record: "0/20/0",
      score: "0.50 (0.30–0.70)", elo: "+0 (−148 to +148)", when: "2023-11-14 22:13",
    });
  });

  it("says unbounded where a score of 1 or 0 implies no finite difference", () => {
    expect(matchRows([won])[0].elo).toBe("+∞ (+286 to +∞)");
    const lost = { ...won, wins: 0, losses: 20, score: 0, score_low: 0, score_high: 0.1611, elo_low: null, elo_high: -286.2 };
    expect(matchRows([lost])[0].elo).toBe("−∞ (−∞ to −286)");
    expect(signedElo(-0.4, "")).toBe("+0");
    expect(matchRows(undefined)).toEqual([]);
  });
});
