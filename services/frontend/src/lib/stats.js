// /stats polling: only while the Training tab is shown and the page is visible, and after the first answer only
// the history added since (GET /stats?since=<cursor>), merged into one object shaped as a full answer.

/** The newest `n` rows of an oldest-first list. */
const newest = (rows, n) => rows.slice(Math.max(0, rows.length - n));

/**
 * `held` (the merged object so far, or null) with an answer to /stats?since= added, as the web's schema says:
 * a `reset` answer is whole; otherwise loss_history and arena.versions (oldest first) get the new rows at the end,
 * matches (newest first) at the start, and each keeps the newest `lengths` rows. Every other field is the answer's.
 */
export function mergeStats(held, answer) {
  if (!held || answer.reset) return answer;
  const { lengths } = answer;
  return {
    ...answer,
    loss_history: newest([...held.loss_history, ...answer.loss_history], lengths.loss_history),
    arena: { ...answer.arena, versions: newest([...held.arena.versions, ...answer.arena.versions], lengths.arena_versions) },
    matches: [...answer.matches, ...held.matches].slice(0, lengths.matches),
  };
}

/**
 * Polls `load(since)` every `intervalMs` while active, one request at a time, and hands each merged answer to
 * `onstats` (errors to `onerror`). `setActive(false)` stops it at once; `setActive(true)` polls at once and then on
 * the interval. A 422 (a cursor the web no longer takes, e.g. after an upgrade) drops the cursor for a whole answer.
 */
export function statsPoller({ load, onstats, onerror, intervalMs = 3000, timers = globalThis }) {
  let held = null;
  let active = false;
  let running = false; // a request is in flight: a re-activation must not start a second chain
  let timer = null;

  async function poll() {
    timer = null;
    if (!active || running) return;
    running = true;
    try {
      held = mergeStats(held, await load(held?.cursor));
      onstats(held);
    } catch (error) {
      if (error.status === 422) held = null;
      onerror(error);
    } finally {
      running = false;
    }
    if (active && timer === null) timer = timers.setTimeout(poll, intervalMs);
  }

  return {
    setActive(on) {
      if (on === active) return;
      active = on;
      if (timer !== null) timers.clearTimeout(timer);
      timer = null;
      if (on) poll();
    },
  };
}

/** Whether the page is shown (not a background tab or a minimised window). */
export const pageVisible = (doc = globalThis.document) => doc.visibilityState !== "hidden";
