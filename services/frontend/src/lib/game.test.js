import { describe, expect, it } from "vitest";
import { actionFor, canPlay, isGameOver, probabilityAt, statusLine, withCatalog } from "./game.js";

const tictactoe = {
  env_id: "tictactoe", action_kind: "cell", rows: 3, cols: 3, moves: [4], human_player: 2, to_play: 2, status: "in_progress",
  board: [[0, 0, 0], [0, 1, 0], [0, 0, 0]], legal_actions: [0, 1, 2, 3, 5, 6, 7, 8],
  policy: [0, 0, 0, 0, 1, 0, 0, 0, 0],
};
const connect4 = { ...tictactoe, env_id: "connect4", action_kind: "column", rows: 6, cols: 7, legal_actions: [0, 1, 2, 4, 5, 6], human_player: 1, to_play: 1 };

const catalog = [
  { name: "tictactoe", label: "Tic-tac-toe", rows: 3, cols: 3, action_size: 9, action_kind: "cell", max_plies: 9 },
  { name: "connect4", label: "Connect Four", rows: 6, cols: 7, action_size: 7, action_kind: "column", max_plies: 42 },
];

describe("game view logic", () => {
  it("takes how clicks become actions from the game's catalog entry, for any game the server lists", () => {
    const drop5 = { name: "drop5", label: "Drop Five", rows: 6, cols: 9, action_size: 9, action_kind: "column", max_plies: 54 };
    const view = { env_id: "drop5", rows: 6, cols: 9 };
    expect(withCatalog(view, [...catalog, drop5])).toEqual({ ...view, action_kind: "column", label: "Drop Five" });
    expect(actionFor(withCatalog(view, [...catalog, drop5]), 5, 8)).toBe(8);
    expect(actionFor(withCatalog({ env_id: "tictactoe", rows: 3, cols: 3 }, catalog), 2, 1)).toBe(7);
    expect(() => withCatalog({ env_id: "chess" }, catalog)).toThrow("game chess is not in the catalog");
  });

  it("maps a click to a cell in tictactoe and to a column in connect4", () => {
    expect(actionFor(tictactoe, 2, 1)).toBe(7);
    expect(actionFor(connect4, 5, 3)).toBe(3);
    expect(actionFor(connect4, 0, 6)).toBe(6);
  });

  it("allows only legal moves on the human's turn while no request runs", () => {
    expect(canPlay(tictactoe, 0, 0)).toBe(true);
    expect(canPlay(tictactoe, 1, 1)).toBe(false); // occupied
    expect(canPlay(tictactoe, 0, 0, true)).toBe(false); // busy
    expect(canPlay({ ...tictactoe, to_play: 1 }, 0, 0)).toBe(false);
    expect(canPlay({ ...tictactoe, status: "draw" }, 0, 0)).toBe(false);
    expect(canPlay(connect4, 0, 3)).toBe(false); // full column
    expect(canPlay(connect4, 2, 2)).toBe(true);
  });

  it("says whose move it is and how the game ended", () => {
    expect(statusLine(null)).toBe("Start a game.");
    expect(statusLine(tictactoe)).toBe("Your move.");
    expect(statusLine({ ...tictactoe, to_play: 1 })).toContain("thinking");
    expect(statusLine({ ...tictactoe, status: "human_won" })).toBe("Game over: you won!");
    expect(statusLine({ ...tictactoe, status: "model_won" })).toBe("Game over: the model won.");
    expect(statusLine({ ...tictactoe, status: "draw" })).toBe("Game over: a draw.");
    expect(isGameOver({ ...tictactoe, status: "draw" })).toBe(true);
    expect(isGameOver(tictactoe)).toBe(false);
  });

  it("reads the model's probability for a cell", () => {
    expect(probabilityAt(tictactoe, 1, 1)).toBe(1);
    expect(probabilityAt(tictactoe, 0, 0)).toBe(0);
    expect(probabilityAt({ ...tictactoe, policy: null }, 1, 1)).toBe(0);
  });
});
