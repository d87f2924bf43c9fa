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

/** One line telling the person what is going on. */
export function statusLine(game) {
  if (!game) return "Start a game.";
  switch (game.status) {
    case "human_won":
      return "Game over: you won!";
    case "model_won":
      return "Game over: the model won.";
    case "draw":
      return "Game over: a draw.";
    default:
      return game.to_play === game.human_player ? "Your move." : "The model is thinking…";
  }
}

/** Probability the model gave each cell or column (the action a click there means), for shading. */
export function probabilityAt(game, row, col) {
  if (!game || !game.policy) return 0;
  return game.policy[actionFor(game, row, col)] ?? 0;
}

export function isGameOver(game) {
  return Boolean(game) && game.status !== "in_progress";
}
