import { describe, expect, it } from "vitest";
import {
  actionFor, canPlay, isGameOver, lastMoves, moveList, moveName, policyList, probabilityAt, statusLine, withCatalog, withPendingMove,
} from "./game.js";

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
    expect(statusLine(tictactoe, true)).toBe("The model is thinking…"); // its move request in flight
    expect(statusLine(null, true)).toBe("Starting a game…");
    // One line says the game is over and what to do next.
    expect(statusLine({ ...tictactoe, status: "human_won" })).toBe("Game over: you won! Start a new game to play again.");
    expect(statusLine({ ...tictactoe, status: "model_won" })).toBe("Game over: the model won. Start a new game to play again.");
    expect(statusLine({ ...tictactoe, status: "draw" })).toBe("Game over: a draw. Start a new game to play again.");
    expect(isGameOver({ ...tictactoe, status: "draw" })).toBe(true);
    expect(isGameOver(tictactoe)).toBe(false);
  });

  it("reads the model's probability for a cell", () => {
    expect(probabilityAt(tictactoe, 1, 1)).toBe(1);
    expect(probabilityAt(tictactoe, 0, 0)).toBe(0);
    expect(probabilityAt({ ...tictactoe, policy: null }, 1, 1)).toBe(0);
  });

  it("names moves as the board shows them: column letters where stones drop, cells by letter and number", () => {
    expect([0, 3, 6].map((a) => moveName(connect4, a))).toEqual(["a", "d", "g"]);
    // Row 0 is the top row, numbered 3 beside the board (1 at the bottom, as on a chess board).
    expect([0, 2, 4, 6, 8].map((a) => moveName(tictactoe, a))).toEqual(["a3", "c3", "b2", "a1", "c1"]);
    expect(moveList({ ...tictactoe, moves: [4, 0, 8] })).toEqual([
      { n: 1, who: "model", name: "b2" },
      { n: 2, who: "you", name: "a3" },
      { n: 3, who: "model", name: "c1" },
    ]);
  });

  it("lists the model's search by named move, most visited first, leaving out unvisited moves", () => {
    const searched = { ...connect4, policy: [0.1, 0, 0, 0.6, 0.3, 0, 0] };
    expect(policyList(searched).map((m) => `${m.name} ${m.share}`)).toEqual(["d 0.6", "e 0.3", "a 0.1"]);
    expect(policyList({ ...connect4, policy: null })).toEqual([]);
    expect(policyList(null)).toEqual([]);
  });

  it("finds each side's newest move, where stones dropped even under later stones", () => {
    // Column d three times: the first stone (you, moving first) at the bottom, the model's on it, then yours.
    const stacked = { ...connect4, moves: [3, 3, 3, 0], human_player: 1 };
    expect(lastMoves(stacked)).toEqual({ you: [3, 3], model: [5, 0] });
    expect(lastMoves({ ...connect4, moves: [2], human_player: 2 })).toEqual({ you: null, model: [5, 2] });
    expect(lastMoves({ ...tictactoe, moves: [4, 0], human_player: 2 })).toEqual({ you: [0, 0], model: [1, 1] });
    expect(lastMoves({ ...tictactoe, moves: [] })).toEqual({ you: null, model: null });
  });

  it("shows the person's move on the board while the model thinks, without the old shading", () => {
    const pending = withPendingMove(tictactoe, 0);
    expect(pending.board[0][0]).toBe(2);
    expect(pending.moves).toEqual([4, 0]);
    expect(pending.to_play).toBe(1);
    expect(pending.policy).toBe(null);
    expect(tictactoe.board[0][0]).toBe(0); // the view it came from is untouched
    const board = Array.from({ length: 6 }, () => Array(7).fill(0));
    board[5][3] = 1; // the model moved first
    const dropped = withPendingMove({ ...connect4, board, moves: [3], human_player: 2, to_play: 2 }, 3);
    expect(dropped.board[4][3]).toBe(2);
    expect(lastMoves(dropped).you).toEqual([4, 3]);
  });
});
