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

  it("writes column letters under the board and row numbers beside a cell board, as moves are named", () => {
    render(Board, { game, onplay: () => {} });
    expect(screen.getAllByTestId("col-label").map((l) => l.textContent)).toEqual(["a", "b", "c"]);
    const rows = [...screen.getByTestId("board").querySelectorAll(".row-label")].map((l) => l.textContent);
    expect(rows).toEqual(["3", "2", "1"]);
    expect(screen.getByTestId("cell-0-0").getAttribute("aria-label")).toMatch(/^a3, /);
  });

  it("writes only column letters where stones drop", () => {
    const board = Array.from({ length: 6 }, () => Array(7).fill(0));
    render(Board, { game: { ...game, action_kind: "column", rows: 6, cols: 7, board, moves: [] }, onplay: () => {} });
    expect(screen.getAllByTestId("col-label").map((l) => l.textContent).join("")).toBe("abcdefg");
    expect(screen.getByTestId("board").querySelectorAll(".row-label")).toHaveLength(0);
  });

  it("marks the newest move of each side", () => {
    const played = { ...game, moves: [4, 0, 8], board: [[2, 0, 0], [0, 1, 0], [0, 0, 1]], to_play: 2 };
    render(Board, { game: played, onplay: () => {} });
    const marked = [...screen.getByTestId("board").querySelectorAll("[data-last]")];
    expect(marked.map((c) => [c.dataset.testid, c.dataset.last])).toEqual([
      ["cell-0-0", "you"],
      ["cell-2-2", "model"],
    ]);
    expect(screen.getByTestId("cell-2-2").getAttribute("aria-label")).toContain("the model's last move");
  });

  it("says it is busy and takes no click while the model thinks", () => {
    render(Board, { game, busy: true, onplay: () => {} });
    expect(screen.getByTestId("board").getAttribute("aria-busy")).toBe("true");
    expect(screen.getAllByRole("button").every((b) => b.disabled)).toBe(true);
  });
});
