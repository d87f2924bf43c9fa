import { cleanup, fireEvent, render, screen } from "@testing-library/svelte";
import { afterEach, describe, expect, it, vi } from "vitest";
import Board from "./Board.svelte";

const game = {
  env_id: "tictactoe", action_kind: "cell", rows: 3, cols: 3, moves: [4], human_player: 2, to_play: 2, status: "in_progress",
  board: [[0, 0, 0], [0, 1, 0], [0, 0, 0]], legal_actions: [0, 1, 2, 3, 5, 6, 7, 8], policy: null,
};

describe("Board", () => {
  afterEach(cleanup);

  it("renders every cell with its mark and enables only legal ones", () => {
    render(Board, { game, onplay: () => {} });
    expect(screen.getByTestId("cell-1-1").textContent.trim()).toBe("X");
    expect(screen.getByTestId("cell-1-1").disabled).toBe(true);
    expect(screen.getByTestId("cell-0-0").disabled).toBe(false);
    expect(screen.getAllByRole("button")).toHaveLength(9);
  });

  it("reports the clicked cell", async () => {
    const onplay = vi.fn();
    render(Board, { game, onplay });
    await fireEvent.click(screen.getByTestId("cell-2-0"));
    expect(onplay).toHaveBeenCalledWith(2, 0);
  });

  it("disables the board when the game is over", () => {
    render(Board, { game: { ...game, status: "model_won" }, onplay: () => {} });
    expect(screen.getAllByRole("button").every((b) => b.disabled)).toBe(true);
  });

  it("draws discs in columns when stones drop, whatever the game is called", () => {
    const board = Array.from({ length: 6 }, () => Array(7).fill(0));
    board[5][3] = 1;
    const connect4 = { ...game, env_id: "drop4", action_kind: "column", rows: 6, cols: 7, board, legal_actions: [0, 1, 2, 3, 4, 5, 6], moves: [3] };
    render(Board, { game: connect4, onplay: () => {} });
    expect(screen.getByTestId("board").classList.contains("column-board")).toBe(true);
    expect(screen.getByTestId("cell-5-3").querySelector(".disc")).not.toBe(null);
    expect(screen.getAllByRole("button")).toHaveLength(42);
  });
});
