// Real-browser check with Playwright (playwright-core) driving Debian's Chromium:
// load the page, play a whole tictactoe game by clicking, see the result (the Training tab: dashboard.mjs).
// Content-Security-Policy violations and page errors are reported (the built app runs under nginx's CSP).
//   FRONTEND_URL=http://127.0.0.1:5173 ARTIFACTS_DIR=artifacts/frontend node e2e-browser/play.mjs
//   DOCS_IMAGES_DIR=../../docs/images also writes the README's screenshots there: play.png (the board after the
//   model's second reply, its search shading the cells).
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const url = process.env.FRONTEND_URL ?? "http://127.0.0.1:5173";
const artifacts = process.env.ARTIFACTS_DIR ?? "artifacts/frontend";
const executablePath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const docsImages = process.env.DOCS_IMAGES_DIR;
mkdirSync(artifacts, { recursive: true });
if (docsImages) mkdirSync(docsImages, { recursive: true });

// Playwright gives every launch a fresh temporary profile; the rest keeps Chromium off the network.
const args = [
  "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];
const browser = await chromium.launch({ executablePath, args, headless: true });
const result = { moves: 0, cspViolations: [], pageErrors: [] };
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  page.setDefaultTimeout(30_000);
  page.on("console", (message) => {
    if (message.text().includes("Content Security Policy")) result.cspViolations.push(message.text());
  });
  page.on("pageerror", (error) => result.pageErrors.push(String(error)));
  await page.goto(url);
  await page.getByTestId("game-select").selectOption("tictactoe"); // waits for the menu from /api/catalog
  result.games = await page.getByTestId("game-select").locator("option").allInnerTexts();
  await page.getByTestId("new-game").click();
  await page.getByTestId("board").waitFor();
  await page.screenshot({ path: join(artifacts, "play-start.png") });

  // Click the first enabled cell until the game is over.
  for (let turn = 0; turn < 9; turn += 1) {
    if (await page.getByTestId("game-over").count()) break;
    const cell = page.locator("[data-testid^='cell-']:not([disabled])").first();
    await cell.click();
    result.moves += 1;
    await page.waitForFunction(
      () => document.querySelector("[data-testid='game-over']") ||
        [...document.querySelectorAll("[data-testid^='cell-']")].some((c) => !c.disabled),
    );
    if (docsImages && turn === 1) {
      // Four marks and the model's shading; cropped below the play section, not the empty viewport.
      await page.getByTestId("policy").waitFor();
      const box = await page.locator("section.play").boundingBox();
      const clip = { x: 0, y: 0, width: 1200, height: Math.ceil(box.y + box.height + 24) };
      await page.screenshot({ path: join(docsImages, "play.png"), clip });
    }
  }
  await page.getByTestId("game-over").waitFor();
  result.status = await page.getByTestId("status").innerText();
  result.marks = await page.locator("[data-testid^='cell-']").evaluateAll((cells) => cells.filter((c) => c.textContent.trim()).length);
  await page.screenshot({ path: join(artifacts, "play-game-over.png") });
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
