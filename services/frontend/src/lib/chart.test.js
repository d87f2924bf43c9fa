import { describe, expect, it } from "vitest";
import {
  addSample,
  episodeSeries,
  extent,
  linePath,
  markers,
  matchRows,
  ratingSeries,
  scale,
  scoreRows,
  signedElo,
  versionSeries,
} from "./chart.js";

describe("chart scaling", () => {
  it("pads a flat series so it still has a range", () => {
    expect(extent([2, 2])).toEqual([1, 3]);
    expect(extent([])).toEqual([0, 1]);
    expect(extent([3, 1, 2])).toEqual([1, 3]);
  });

  it("maps the domain onto the range linearly", () => {
    const s = scale([0, 10], [100, 200]);
    expect(s(0)).toBe(100);
    expect(s(5)).toBe(150);
    expect(s(10)).toBe(200);
  });

  it("draws a path from the lowest y at the bottom to the highest at the top", () => {
    const path = linePath([{ x: 1, y: 2.0 }, { x: 2, y: 1.0 }], 200, 100, 10);
    expect(path).toBe("M10.0 10.0 L190.0 90.0");
    expect(linePath([], 200, 100)).toBe("");
  });

  it("places one marker per point", () => {
    const dots = markers([{ x: 1, y: 1 }, { x: 2, y: 3 }, { x: 3, y: 2 }], 100, 100, 0);
    expect(dots.map((d) => [d.cx, d.cy])).toEqual([[0, 100], [50, 0], [100, 50]]);
  });
});

describe("dashboard series", () => {
  const history = [
    { iteration: 1, finished_at: 100, episodes_seen: 40, model_version: 1 },
    { iteration: 2, finished_at: 200, episodes_seen: 80, model_version: 2 },
  ];

  it("keeps one sample per /stats answer, oldest first, and bounds them", () => {
    let samples = addSample([], { generated_at: 150, episodes: 60 });
    samples = addSample(samples, { generated_at: 150, episodes: 60 }); // the same answer twice
    samples = addSample(samples, { generated_at: 250, episodes: 95 });
    expect(samples).toEqual([{ x: 150, y: 60 }, { x: 250, y: 95 }]);
    expect(addSample(samples, null)).toBe(samples);
    let many = [];
    for (let t = 0; t < 800; t++) many = addSample(many, { generated_at: t, episodes: t });
    expect(many.length).toBe(720);
    expect(many[0].x).toBe(80);
  });

  it("joins iteration counts and live samples into one time series", () => {
    const series = episodeSeries(history, [{ x: 150, y: 60 }, { x: 250, y: 95 }]);
    expect(series.map((p) => [p.x, p.y])).toEqual([[100, 40], [150, 60], [200, 80], [250, 95]]);
    // Before the first iteration the live samples alone draw the chart.
    expect(episodeSeries([], [{ x: 5, y: 3 }]).map((p) => p.y)).toEqual([3]);
  });

  it("shows the current model even when no iteration record names it", () => {
    expect(versionSeries(history, { version: 2, published_at: 201 }).map((p) => p.y)).toEqual([1, 2]);
    expect(versionSeries([], { version: 7, published_at: 50 }).map((p) => [p.x, p.y])).toEqual([[50, 7]]);
    expect(versionSeries([], null)).toEqual([]);
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

  it("charts the rated versions' ratings by version, leaving the skipped ones out", () => {
    expect(ratingSeries(arena).map((p) => [p.x, p.y])).toEqual([[1, 40.4], [3, 250]]);
    expect(ratingSeries(undefined)).toEqual([]);
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
