import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";

// Locally the Vite dev server proxies the API to the web service (devtools sets WEB_URL);
// in the cluster nginx (or the Gateway) does the same, so the app always calls same-origin paths.
const webUrl = process.env.WEB_URL || "http://127.0.0.1:8080";
// Keys starting with ^ are regular expressions: /health must not also catch the frontend's own /healthz probe. Vite
// matches them against the URL with its query, so /stats?since=<cursor> (the dashboard's incremental polls) needs
// the "(\?|$)" (vite: packages/vite/src/node/server/middlewares/proxy.ts, doesProxyContextMatchUrl tests req.url).
const proxy = Object.fromEntries(["^/api/", "^/stats(\\?|$)", "^/health$"].map((path) => [path, { target: webUrl }]));

export default defineConfig({
  plugins: [svelte()],
  server: {
    host: process.env.FRONTEND_HOST || "127.0.0.1",
    port: Number(process.env.FRONTEND_PORT || 5173),
    strictPort: true,
    proxy,
  },
  preview: { host: "127.0.0.1", port: Number(process.env.FRONTEND_PORT || 4173), strictPort: true, proxy },
  build: { outDir: "dist", assetsDir: "assets", sourcemap: false },
  resolve: process.env.VITEST ? { conditions: ["browser"] } : undefined,
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.js"],
    setupFiles: ["src/test/jsdom-setup.js"],
  },
});
