import { cleanup, fireEvent, render, screen } from "@testing-library/svelte";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import App from "./App.svelte";

const catalog = { default: "tictactoe", games: [{ name: "tictactoe", label: "Tic-tac-toe", rows: 3, cols: 3, action_size: 9, action_kind: "cell", max_plies: 9 }] };
const stats = {
  env_id: "tictactoe", episodes: 3, transitions: 30, episodes_per_second: 0.5, replay_buffer_size: 30, iteration: 1,
  training_iterations: 0, model: null, model_message: "no model yet", model_versions: [], served_model_version: 0,
  loss_history: [], arena: { references: ["random"], versions: [], message: "none" }, matches: [], generated_at: 1,
  cursor: "CURSOR", reset: true, lengths: { loss_history: 0, arena_versions: 0, matches: 0 },
};

function setVisibility(state) {
  Object.defineProperty(document, "visibilityState", { configurable: true, get: () => state });
  document.dispatchEvent(new Event("visibilitychange"));
}

describe("App polling", () => {
  let paths;
  beforeEach(() => {
    vi.useFakeTimers();
    paths = [];
    vi.stubGlobal("fetch", async (path) => {
      paths.push(path);
      const body = path === "/api/catalog" ? catalog : { ...stats, reset: !path.includes("since=") };
      return { ok: true, status: 200, statusText: "OK", json: async () => body };
    });
  });
  afterEach(() => {
    cleanup();
    vi.unstubAllGlobals();
    vi.useRealTimers();
    setVisibility("visible");
  });

  const statsPaths = () => paths.filter((p) => p.startsWith("/stats"));

  it("asks /stats only while the Training tab is shown in a visible page, and then only since its cursor", async () => {
    render(App);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(paths).toEqual(["/api/catalog"]); // the Play tab: no /stats at all
    await fireEvent.click(screen.getByTestId("tab-training"));
    await vi.advanceTimersByTimeAsync(0);
    expect(statsPaths()).toEqual(["/stats"]);
    expect(screen.getByTestId("episodes").textContent).toBe("3");
    await vi.advanceTimersByTimeAsync(3000);
    expect(statsPaths()).toEqual(["/stats", "/stats?since=CURSOR"]);

    setVisibility("hidden"); // a background tab: no polling
    await vi.advanceTimersByTimeAsync(30_000);
    expect(statsPaths()).toHaveLength(2);
    setVisibility("visible"); // shown again: at once
    await vi.advanceTimersByTimeAsync(0);
    expect(statsPaths()).toHaveLength(3);

    await fireEvent.click(screen.getByTestId("tab-play"));
    await vi.advanceTimersByTimeAsync(30_000);
    expect(statsPaths()).toHaveLength(3);
  });
});
