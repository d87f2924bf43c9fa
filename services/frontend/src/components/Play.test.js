import { cleanup, fireEvent, render, screen } from "@testing-library/svelte";
import { tick } from "svelte";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import Play from "./Play.svelte";

const games = [{ name: "tictactoe", label: "Tic-tac-toe", rows: 3, cols: 3, action_size: 9, action_kind: "cell", max_plies: 9 }];
const view = (over) => ({
  env_id: "tictactoe", rows: 3, cols: 3, human_player: 1, to_play: 1, status: "in_progress", winner: null,
  moves: [], board: [[0, 0, 0], [0, 0, 0], [0, 0, 0]], legal_actions: [0, 1, 2, 3, 4, 5, 6, 7, 8],
  model_move: null, policy: null, value: null, model_version: 3, ...over,
});

// The web's answers, one per request, each released by the test: what the page shows while it waits is the point.
let pending;
function answerNext(body) {
  const { resolve } = pending.shift();
  resolve({ ok: true, status: 200, statusText: "OK", json: async () => body });
}
const settle = async () => {
  for (let i = 0; i < 5; i += 1) await tick();
};

describe("Play", () => {
  beforeEach(() => {
    pending = [];
    vi.stubGlobal("fetch", () => new Promise((resolve) => pending.push({ resolve })));
  });
  afterEach(() => {
    cleanup();
    vi.unstubAllGlobals();
  });

  it("shows the model thinking while its move is asked for, then one status line at game over", async () => {
    render(Play, { envId: "tictactoe", games });
    await fireEvent.click(screen.getByTestId("new-game"));
    expect(screen.getByTestId("status").textContent.trim()).toBe("Starting a game…");
    expect(screen.getByTestId("status").dataset.thinking).toBe("true");
    answerNext(view());
    await settle();
    expect(screen.getByTestId("status").textContent.trim()).toBe("Your move.");
    expect(screen.queryByTestId("thinking")).toBe(null);

    await fireEvent.click(screen.getByTestId("cell-1-1"));
    // In flight: the person's X on the board, a spinner and the status say so, nothing is clickable.
    expect(screen.getByTestId("status").textContent.trim()).toBe("The model is thinking…");
    expect(screen.getByTestId("thinking")).not.toBe(null);
    expect(screen.getByTestId("board").getAttribute("aria-busy")).toBe("true");
    expect(screen.getByTestId("cell-1-1").textContent.trim()).toBe("X");
    expect(screen.getByTestId("cell-0-0").disabled).toBe(true);
    expect(screen.getByTestId("new-game").disabled).toBe(true);

    answerNext(
      view({
        moves: [4, 0], board: [[2, 0, 0], [0, 1, 0], [0, 0, 0]], to_play: 1, model_move: 0, value: 0.25,
        policy: [0.6, 0, 0.3, 0, 0, 0, 0.1, 0, 0], status: "model_won", winner: 2,
      }),
    );
    await settle();
    expect(screen.queryByTestId("thinking")).toBe(null);
    expect(screen.getByTestId("board").getAttribute("aria-busy")).toBe("false");
    const said = [...document.body.querySelectorAll("p")].filter((p) => p.textContent.includes("Game over"));
    expect(said.map((p) => p.textContent.trim())).toEqual(["Game over: the model won. Start a new game to play again."]);
    // Moves named as the board shows them, never by action index.
    expect(screen.getAllByTestId("move").map((m) => m.textContent)).toEqual(["1. b2 (you)", "2. a3 (model)"]);
    expect([...screen.getByTestId("policy").querySelectorAll("li")].map((li) => li.textContent)).toEqual([
      "a3: 60 %", "c3: 30 %", "a1: 10 %",
    ]);
    expect(document.body.textContent).not.toMatch(/move \d/);
    expect(screen.getByTestId("cell-0-0").dataset.last).toBe("model");
    expect(screen.getByTestId("cell-1-1").dataset.last).toBe("you");
  });

  it("takes the person's move back when the web refuses it", async () => {
    render(Play, { envId: "tictactoe", games });
    await fireEvent.click(screen.getByTestId("new-game"));
    answerNext(view());
    await settle();
    await fireEvent.click(screen.getByTestId("cell-0-0"));
    const { resolve } = pending.shift();
    resolve({ ok: false, status: 409, statusText: "Conflict", json: async () => ({ detail: "cell 0 is occupied" }) });
    await settle();
    expect(screen.getByTestId("cell-0-0").textContent.trim()).toBe("");
    expect(screen.getByTestId("problem").textContent).toBe("cell 0 is occupied");
    expect(screen.getByTestId("status").textContent.trim()).toBe("Your move.");
  });
});
