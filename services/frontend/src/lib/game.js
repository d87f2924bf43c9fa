// Pure game-view logic, kept out of components so it is unit-tested without a DOM.

export const SYMBOLS = { 0: "", 1: "X", 2: "O" };

/**
 * A game view from the API with its game's catalog entry (GET /api/catalog) merged in, so the board
 * knows how a click becomes an action ("cell" or "column") and what to call the game.
 */
export function withCatalog(view, games) {
  const entry = games.find((g) => g.name === view.env_id);
  if (!entry) throw new Error(`game ${view.env_id} is not in the catalog`);
  return { ...view, action_kind: entry.action_kind, label: entry.label };
}

/** The action a click on (row, col) means: the cell, or the column where stones drop. */
export function actionFor(game, row, col) {
  return game.action_kind === "column" ? col : row * game.cols + col;
}

/** Whether a click on (row, col) is a move the human may make now. */
export function canPlay(game, row, col, busy = false) {
  if (!game || busy || game.status !== "in_progress" || game.to_play !== game.human_player) return false;
  return game.legal_actions.includes(actionFor(game, row, col));
}

/** The one line telling the person what is going on (``thinking``: the model's move request is in flight). */
export function statusLine(game, thinking = false) {
  if (!game) return thinking ? "Starting a game…" : "Start a game.";
  const again = " Start a new game to play again.";
  switch (game.status) {
    case "human_won":
      return "Game over: you won!" + again;
    case "model_won":
      return "Game over: the model won." + again;
    case "draw":
      return "Game over: a draw." + again;
    default:
      return thinking || game.to_play !== game.human_player ? "The model is thinking…" : "Your move.";
  }
}

/** A column's letter as the board shows it under the board: a, b, c… from the left. */
export const columnLetter = (col) => String.fromCharCode(97 + col);

/** A row's number as the board shows it beside a cell board: 1 at the bottom, as on a chess board. */
export const rowNumber = (game, row) => game.rows - row;

/**
 * An action named as the board shows it: the column's letter where stones drop ("d"), else the cell ("b2":
 * column letter, then row number).
 */
export function moveName(game, action) {
  if (game.action_kind === "column") return columnLetter(action);
  const row = Math.floor(action / game.cols);
  return `${columnLetter(action % game.cols)}${rowNumber(game, row)}`;
}

/** The player (1 moves first) who made the ``index``-th move (0-based). */
const mover = (index) => (index % 2) + 1;

/**
 * Where each of ``moves`` landed, as [row, col]: the cell itself, or the lowest empty cell of the column
 * (replayed from the start, so a stone is found even when later stones sit on it).
 */
export function landings(game, moves = game.moves) {
  if (game.action_kind !== "column") return moves.map((a) => [Math.floor(a / game.cols), a % game.cols]);
  const filled = Array(game.cols).fill(0);
  return moves.map((col) => [game.rows - 1 - filled[col]++, col]);
}

/** The cells of each side's newest move: { you: [row, col] | null, model: [row, col] | null }. */
export function lastMoves(game) {
  const where = landings(game);
  const newest = (player) => {
    for (let i = where.length - 1; i >= 0; i -= 1) if (mover(i) === player) return where[i];
    return null;
  };
  return { you: newest(game.human_player), model: newest(3 - game.human_player) };
}

/** Every move so far, named, with who made it: [{ n, who: "you" | "model", name }]. */
export function moveList(game) {
  return game.moves.map((action, i) => ({
    n: i + 1,
    who: mover(i) === game.human_player ? "you" : "model",
    name: moveName(game, action),
  }));
}

/** The model's search as named moves, most visited first, leaving out moves it did not visit. */
export function policyList(game) {
  if (!game?.policy) return [];
  return game.policy
    .map((p, action) => ({ name: moveName(game, action), share: p }))
    .filter((m) => m.share > 0)
    .sort((a, b) => b.share - a.share);
}

/**
 * The board with the person's move shown while the model thinks about its reply: their stone on the board,
 * the model to play, no search shading (the server's answer then replaces this view).
 */
export function withPendingMove(game, action) {
  const [row, col] = landings(game, [...game.moves, action]).at(-1);
  const board = game.board.map((cells, r) => (r === row ? cells.map((v, c) => (c === col ? game.human_player : v)) : cells));
  return { ...game, board, moves: [...game.moves, action], to_play: 3 - game.human_player, policy: null, value: null };
}

/** Probability the model gave each cell or column (the action a click there means), for shading. */
export function probabilityAt(game, row, col) {
  if (!game || !game.policy) return 0;
  return game.policy[actionFor(game, row, col)] ?? 0;
}

export function isGameOver(game) {
  return Boolean(game) && game.status !== "in_progress";
}
