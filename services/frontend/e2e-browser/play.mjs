// Real-browser check with Playwright (playwright-core) driving Debian's Chromium:
// load the page, play a whole tictactoe game by clicking, see the result, see the dashboard charts.
// Content-Security-Policy violations and page errors are reported (the built app runs under nginx's CSP).
//   FRONTEND_URL=http://127.0.0.1:5173 ARTIFACTS_DIR=artifacts/frontend node e2e-browser/play.mjs
//   PLAY_ONLY=1 stops after the game (a stack without training records has no charts to draw).
//   DOCS_IMAGES_DIR=../../docs/images also writes the README's screenshots there: play.png (the board after the
//   model's second reply, its search shading the cells) and dashboard.png (the Training tab).
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const url = process.env.FRONTEND_URL ?? "http://127.0.0.1:5173";
const artifacts = process.env.ARTIFACTS_DIR ?? "artifacts/frontend";
const executablePath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const docsImages = process.env.DOCS_IMAGES_DIR;
const GAME_OVER = "[data-testid='status'].game-over"; // the one status line, once the game has ended
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
    if (await page.locator(GAME_OVER).count()) break;
    const cell = page.locator("[data-testid^='cell-']:not([disabled])").first();
    await cell.click();
    result.moves += 1;
    await page.waitForFunction(
      (over) => document.querySelector(over) ||
        [...document.querySelectorAll("[data-testid^='cell-']")].some((c) => !c.disabled),
      GAME_OVER,
    );
    if (docsImages && turn === 1) {
      // Four marks and the model's shading; cropped below the play section, not the empty viewport.
      await page.getByTestId("policy").waitFor();
      const box = await page.locator("section.play").boundingBox();
      const clip = { x: 0, y: 0, width: 1200, height: Math.ceil(box.y + box.height + 24) };
      await page.screenshot({ path: join(docsImages, "play.png"), clip });
    }
  }
  await page.locator(GAME_OVER).waitFor();
  result.status = await page.getByTestId("status").innerText();
  result.marks = await page.locator("[data-testid^='cell-']").evaluateAll((cells) => cells.filter((c) => c.textContent.trim()).length);
  await page.screenshot({ path: join(artifacts, "play-game-over.png") });
  if (!process.env.PLAY_ONLY) {
    await page.getByTestId("tab-training").click();
    await page.getByTestId("chart-loss").locator("path.line").waitFor();
    result.lossPoints = await page.getByTestId("chart-loss").locator("circle").count();
    result.episodePoints = await page.getByTestId("chart-episodes").locator("circle").count();
    result.versionPoints = await page.getByTestId("chart-versions").locator("circle").count();
    result.ratingPoints = await page.getByTestId("chart-rating").locator("circle").count();
    result.arenaRows = await page.getByTestId("arena-row").allInnerTexts();
    result.matchRows = await page.getByTestId("match-row").allInnerTexts();
    result.modelVersion = await page.getByTestId("model-version").innerText();
    await page.screenshot({ path: join(artifacts, "dashboard.png"), fullPage: true });
    if (docsImages) copyFileSync(join(artifacts, "dashboard.png"), join(docsImages, "dashboard.png"));
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
