import { cleanup, fireEvent, render, screen } from "@testing-library/svelte";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import App from "./App.svelte";

const catalog = { default: "tictactoe", games: [{ name: "tictactoe", label: "Tic-tac-toe", rows: 3, cols: 3, action_size: 9, action_kind: "cell", max_plies: 9 }] };
const game = {
  env_id: "tictactoe", rows: 3, cols: 3, human_player: 1, to_play: 1, status: "in_progress", winner: null,
  moves: [], board: [[0, 0, 0], [0, 0, 0], [0, 0, 0]], legal_actions: [0, 1, 2, 3, 4, 5, 6, 7, 8],
  model_move: null, policy: null, value: null, model_version: 3,
};
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
      const body =
        path === "/api/catalog" ? catalog : path === "/api/games" ? game : { ...stats, reset: !path.includes("since=") };
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

  it("keeps the game in progress while the Training tab is looked at", async () => {
    render(App);
    await vi.advanceTimersByTimeAsync(0);
    await fireEvent.click(screen.getByTestId("new-game"));
    await vi.advanceTimersByTimeAsync(0);
    expect(screen.getByTestId("status").textContent.trim()).toBe("Your move.");
    await fireEvent.click(screen.getByTestId("tab-training"));
    await vi.advanceTimersByTimeAsync(0);
    expect(screen.getByTestId("play-panel").hidden).toBe(true);
    await fireEvent.click(screen.getByTestId("tab-play"));
    expect(screen.getByTestId("play-panel").hidden).toBe(false);
    expect(screen.getByTestId("status").textContent.trim()).toBe("Your move.");
    expect(paths.filter((p) => p === "/api/games")).toHaveLength(1);
  });
});
