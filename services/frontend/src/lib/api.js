// The web API client. Errors come back as ApiError with a kind the UI can show:
// "unreachable" (network, proxy or 5xx gateway errors) or "rejected" (a 4xx with the server's detail).

export class ApiError extends Error {
  constructor(kind, message, status = 0, detail = "") {
    super(message);
    this.kind = kind;
    this.status = status;
    this.detail = detail; // the server's own sentence, when it sent one
  }
}

export async function request(path, { method = "GET", body, fetchImpl = globalThis.fetch } = {}) {
  let response;
  try {
    response = await fetchImpl(path, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiError("unreachable", `web unreachable: ${error.message}`);
  }
  let payload = null;
  try {
    payload = await response.json();
  } catch {
    payload = null;
  }
  if (response.ok) return payload;
  const said = payload && typeof payload.detail === "string" ? payload.detail : "";
  const detail = said || response.statusText;
  if (response.status >= 500) throw new ApiError("unreachable", `web unavailable (${response.status}): ${detail}`, response.status, said);
  throw new ApiError("rejected", detail || `request failed (${response.status})`, response.status, said);
}

/** The web's own sentence when it answers 503 because one part is away (e.g. /stats while its database is
 * down: games still work); null for anything else, such as a proxy's error page. */
export function partlyUnavailable(error) {
  return error.status === 503 && error.detail ? error.detail : null;
}

export const api = {
  /** /stats; with the `cursor` of the previous answer, only the history added since (lib/stats.js merges it). */
  stats: (since, opts) => request(since ? `/stats?since=${encodeURIComponent(since)}` : "/stats", opts),
  catalog: (opts) => request("/api/catalog", opts),
  model: (envId, opts) => request(`/api/model?env_id=${encodeURIComponent(envId)}`, opts),
  newGame: (envId, humanPlayer, opts) => request("/api/games", { ...opts, method: "POST", body: { env_id: envId, human_player: humanPlayer } }),
  move: (game, action, opts) =>
    request("/api/games/move", {
      ...opts,
      method: "POST",
      body: { env_id: game.env_id, human_player: game.human_player, moves: game.moves, action },
    }),
};
