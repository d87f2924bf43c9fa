import { cleanup, fireEvent, render, screen } from "@testing-library/svelte";
import { afterEach, describe, expect, it, vi } from "vitest";
import Board from "./Board.svelte";

const game = {
  env_id: "tictactoe", rows: 3, cols: 3, moves: [4], human_player: 2, to_play: 2, status: "in_progress",
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
});
