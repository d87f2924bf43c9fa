import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "./api.js";
import { mergeStats, pageVisible, statsPoller } from "./stats.js";

const point = (iteration) => ({ iteration, total_loss: 1 / iteration, finished_at: 1000 + iteration });
const version = (v) => ({ version: v, status: "rated", rating: 10 * v, finished_at: 2000 + v });
const match = (id) => ({ match_id: id, finished_at: 3000 });
// A /stats answer: `rows` the histories it carries, `all` how long the full answer's are.
function answer({ loss = [], versions = [], matches = [], reset = false, all = {}, cursor = "c", episodes = 0 }) {
  return {
    episodes, cursor, reset, loss_history: loss, matches,
    arena: { references: ["random"], versions, message: "m" },
    lengths: { loss_history: loss.length, arena_versions: versions.length, matches: matches.length, ...all },
  };
}

describe("mergeStats", () => {
  it("adds new history at the new end of each list, takes every other field from the answer", () => {
    const full = answer({ loss: [point(1), point(2)], versions: [version(1)], matches: [match("m1")], reset: true });
    const since = answer({
      loss: [point(3)], versions: [version(2)], matches: [match("m2")], cursor: "d", episodes: 9,
      all: { loss_history: 3, arena_versions: 2, matches: 2 },
    });
    const merged = mergeStats(mergeStats(null, full), since);
    expect(merged.loss_history.map((p) => p.iteration)).toEqual([1, 2, 3]);
    expect(merged.arena.versions.map((v) => v.version)).toEqual([1, 2]);
    expect(merged.matches.map((m) => m.match_id)).toEqual(["m2", "m1"]); // newest first, as the full answer
    expect([merged.cursor, merged.episodes, merged.arena.message]).toEqual(["d", 9, "m"]);
  });

  it("keeps the newest rows a full answer holds when the web's window slid, and none when it is empty", () => {
    const held = answer({ loss: [point(1), point(2), point(3)], matches: [match("a"), match("b")], reset: true });
    const slid = mergeStats(held, answer({ loss: [point(4), point(5)], matches: [match("c")], all: { loss_history: 3, matches: 2 } }));
    expect(slid.loss_history.map((p) => p.iteration)).toEqual([3, 4, 5]);
    expect(slid.matches.map((m) => m.match_id)).toEqual(["c", "a"]);
    const wiped = mergeStats(held, answer({ all: { loss_history: 0, matches: 0 } }));
    expect([wiped.loss_history, wiped.matches]).toEqual([[], []]);
  });

  it("replaces everything with a whole (reset) answer, such as a fresh database's", () => {
    const held = answer({ loss: [point(7)], reset: true });
    expect(mergeStats(held, answer({ loss: [point(1)], reset: true })).loss_history).toEqual([point(1)]);
  });
});

describe("statsPoller", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  function poller(replies) {
    const asked = [];
    const seen = [];
    const errors = [];
    const load = vi.fn(async (since) => {
      asked.push(since);
      const next = replies.shift();
      if (next instanceof Error) throw next;
      return next;
    });
    const p = statsPoller({ load, onstats: (s) => seen.push(s), onerror: (e) => errors.push(e), intervalMs: 3000 });
    return { p, asked, seen, errors };
  }

  it("asks nothing until active, then at once, then every interval since the last cursor; nothing once inactive", async () => {
    const replies = [answer({ loss: [point(1)], reset: true, cursor: "c1" }), answer({ loss: [point(2)], cursor: "c2", all: { loss_history: 2 } })];
    const { p, asked, seen } = poller(replies);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(asked).toEqual([]);
    p.setActive(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(asked).toEqual([undefined]);
    await vi.advanceTimersByTimeAsync(3000);
    expect(asked).toEqual([undefined, "c1"]);
    expect(seen.at(-1).loss_history.map((r) => r.iteration)).toEqual([1, 2]);
    p.setActive(false);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(asked).toHaveLength(2);
    p.setActive(true); // back on the tab: at once, from where it was
    replies.push(answer({ cursor: "c3", all: { loss_history: 2 } }));
    await vi.advanceTimersByTimeAsync(0);
    expect(asked).toEqual([undefined, "c1", "c2"]);
  });

  it("never runs two chains when switched off and on while a request is in flight", async () => {
    let release;
    const load = vi.fn(() => new Promise((resolve) => (release = resolve)));
    const p = statsPoller({ load, onstats: () => {}, onerror: () => {}, intervalMs: 3000 });
    p.setActive(true);
    p.setActive(false);
    p.setActive(true);
    expect(load).toHaveBeenCalledTimes(1);
    release(answer({ reset: true }));
    await vi.advanceTimersByTimeAsync(2999);
    expect(load).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(load).toHaveBeenCalledTimes(2);
  });

  it("drops a cursor the web refuses and asks for the whole answer", async () => {
    const refused = new ApiError("rejected", "query.since: not a cursor this server issued", 422);
    const { p, asked, errors } = poller([answer({ reset: true, cursor: "old" }), refused, answer({ reset: true })]);
    p.setActive(true);
    await vi.advanceTimersByTimeAsync(6000);
    expect(asked).toEqual([undefined, "old", undefined]);
    expect(errors).toEqual([refused]);
  });
});

it("tells a hidden page from a shown one", () => {
  expect(pageVisible({ visibilityState: "visible" })).toBe(true);
  expect(pageVisible({ visibilityState: "hidden" })).toBe(false);
});
