import { describe, expect, it } from "vitest";
import { ApiError, api, partlyUnavailable, request } from "./api.js";

const reply = (status, body) => async () => ({
  ok: status < 400,
  status,
  statusText: `status ${status}`,
  json: async () => {
    if (body === undefined) throw new SyntaxError("no json");
    return body;
  },
});

describe("request", () => {
  it("returns the JSON body of a 2xx", async () => {
    await expect(request("/stats", { fetchImpl: reply(200, { episodes: 3 }) })).resolves.toEqual({ episodes: 3 });
  });

  it("turns a network failure into an 'unreachable' error", async () => {
    const failing = async () => {
      throw new TypeError("Failed to fetch");
    };
    const error = await request("/stats", { fetchImpl: failing }).catch((e) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error.kind).toBe("unreachable");
    expect(error.message).toContain("web unreachable");
  });

  it("shows the server's detail for a 4xx", async () => {
    const error = await request("/api/games/move", { fetchImpl: reply(409, { detail: "tictactoe: cell 4 is occupied" }) }).catch((e) => e);
    expect(error.kind).toBe("rejected");
    expect(error.status).toBe(409);
    expect(error.message).toBe("tictactoe: cell 4 is occupied");
  });

  it("treats a 5xx or a proxy error page as the web being unavailable", async () => {
    const error = await request("/stats", { fetchImpl: reply(502, undefined) }).catch((e) => e);
    expect(error.kind).toBe("unreachable");
    expect(error.status).toBe(502);
  });

  it("sends the move history, the player and the action", async () => {
    let sent;
    const capture = async (path, init) => {
      sent = { path, ...init, body: JSON.parse(init.body) };
      return reply(200, {})();
    };
    await api.move({ env_id: "connect4", human_player: 2, moves: [3, 3] }, 4, { fetchImpl: capture });
    expect(sent.path).toBe("/api/games/move");
    expect(sent.method).toBe("POST");
    expect(sent.body).toEqual({ env_id: "connect4", human_player: 2, moves: [3, 3], action: 4 });
  });

  it("reads the game catalog from /api/catalog", async () => {
    let path;
    const capture = async (p) => {
      path = p;
      return reply(200, { default: "connect4", games: [] })();
    };
    await expect(api.catalog({ fetchImpl: capture })).resolves.toEqual({ default: "connect4", games: [] });
    expect(path).toBe("/api/catalog");
  });

  it("tells a part of the web that is away from a web that is unreachable", async () => {
    const away = await request("/stats", { fetchImpl: reply(503, { detail: "the replay buffer is unreachable" }) }).catch((e) => e);
    expect(partlyUnavailable(away)).toBe("the replay buffer is unreachable");
    const proxy = await request("/stats", { fetchImpl: reply(503, undefined) }).catch((e) => e);
    expect(partlyUnavailable(proxy)).toBe(null);
    const down = await request("/stats", { fetchImpl: reply(500, { detail: "boom" }) }).catch((e) => e);
    expect(partlyUnavailable(down)).toBe(null);
  });

  it("asks /stats for the history since a cursor once it holds one", async () => {
    const paths = [];
    const capture = async (p) => {
      paths.push(p);
      return reply(200, {})();
    };
    await api.stats(undefined, { fetchImpl: capture });
    await api.stats("eyJh+/=", { fetchImpl: capture });
    expect(paths).toEqual(["/stats", "/stats?since=eyJh%2B%2F%3D"]);
  });
});
