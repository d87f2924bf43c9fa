// Real-browser check with Playwright (playwright-core) driving Debian's Chromium:
// load the page, play a whole tictactoe game by clicking, see the result (the Training tab: dashboard.mjs).
// Content-Security-Policy violations and page errors are reported (the built app runs under nginx's CSP).
//   FRONTEND_URL=http://127.0.0.1:5173 ARTIFACTS_DIR=artifacts/frontend node e2e-browser/play.mjs
//   DOCS_IMAGES_DIR=../../docs/images also writes the README's screenshots there: play.png (the board after the
//   model's second reply, its search shading the cells).
//   PLAY_ONLY=1 stops after the game (a stack without training records answers no /stats to poll).
// It also notes every /stats request (none may leave the Play tab; the Training tab's first poll whole, the next
// incremental), the model's thinking state after each click (the model's moves are held back 400 ms to see it), and
// plays two moves at 360 px (play-360.png). The Training tab's charts, tables and layout: dashboard.mjs.
import { mkdirSync } from "node:fs";
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
const result = { moves: 0, cspViolations: [], pageErrors: [], statsRequests: [], thinkingSeen: 0 };
// The model's moves reach the web 400 ms late, so the page's thinking state is there to be seen however fast it answers.
const MODEL_DELAY_MS = 400;
const isStats = (request) => new URL(request.url()).pathname === "/stats";

async function openPage(viewport) {
  const page = await browser.newPage({ viewport });
  page.setDefaultTimeout(30_000);
  page.on("console", (message) => {
    if (message.text().includes("Content Security Policy")) result.cspViolations.push(message.text());
  });
  page.on("pageerror", (error) => result.pageErrors.push(String(error)));
  page.on("request", (request) => {
    if (isStats(request)) result.statsRequests.push(new URL(request.url()).search);
  });
  await page.route(/\/api\/games(\/move)?$/, async (route) => {
    await new Promise((resolve) => setTimeout(resolve, MODEL_DELAY_MS));
    await route.continue();
  });
  await page.goto(url);
  return page;
}

// A click on the first open cell, then the thinking state while the model's reply is asked for: counted when seen.
async function playOneMove(page) {
  await page.locator("[data-testid^='cell-']:not([disabled])").first().click();
  const thinking = page.locator("[data-testid='board'][aria-busy='true']");
  await thinking.waitFor({ timeout: MODEL_DELAY_MS * 10 });
  if ((await page.getByTestId("status").getAttribute("data-thinking")) === "true" && (await page.getByTestId("thinking").count())) {
    result.thinkingSeen += 1;
  }
  await page.waitForFunction(
    (over) => document.querySelector(over) ||
      [...document.querySelectorAll("[data-testid^='cell-']")].some((c) => !c.disabled),
    GAME_OVER,
  );
}

try {
  const page = await openPage({ width: 1200, height: 900 });
  await page.getByTestId("game-select").selectOption("tictactoe"); // waits for the menu from /api/catalog
  result.games = await page.getByTestId("game-select").locator("option").allInnerTexts();
  await page.getByTestId("new-game").click();
  await page.getByTestId("board").waitFor();
  await page.screenshot({ path: join(artifacts, "play-start.png") });

  // Click the first enabled cell until the game is over.
  for (let turn = 0; turn < 9; turn += 1) {
    if (await page.locator(GAME_OVER).count()) break;
    await playOneMove(page);
    result.moves += 1;
    if (turn === 1) {
      // Four marks, the newest of each side ringed, the moves and the model's search named.
      await page.getByTestId("policy").waitFor();
      result.midgameMoves = await page.getByTestId("move").allInnerTexts();
      result.midgamePolicy = await page.getByTestId("policy").locator("li").allInnerTexts();
      await page.screenshot({ path: join(artifacts, "play-midgame.png") });
      if (docsImages) {
        // Cropped below the play section, not the empty viewport.
        const box = await page.locator("section.play").boundingBox();
        const clip = { x: 0, y: 0, width: 1200, height: Math.ceil(box.y + box.height + 24) };
        await page.screenshot({ path: join(docsImages, "play.png"), clip });
      }
    }
  }
  await page.locator(GAME_OVER).waitFor();
  result.status = await page.getByTestId("status").innerText();
  // Every paragraph or element of its own that says the game is over (one status line, not two).
  result.gameOverLines = await page.locator("main p, main [role='status']").evaluateAll(
    (nodes) => nodes.filter((n) => n.textContent.includes("Game over")).length,
  );
  result.lastMarks = (await page.locator("[data-last]").evaluateAll((cells) => cells.map((c) => c.dataset.last))).sort();
  result.finalMoves = await page.getByTestId("move").allInnerTexts();
  result.statsRequestsOnPlay = result.statsRequests.length;
  result.marks = await page.locator("[data-testid^='cell-']").evaluateAll((cells) => cells.filter((c) => c.textContent.trim()).length);
  await page.screenshot({ path: join(artifacts, "play-game-over.png") });
  if (!process.env.PLAY_ONLY) {
    await page.getByTestId("tab-training").click();
    // The next poll, 3 s on, asks only for the history since the first answer's cursor.
    await page.waitForRequest((request) => isStats(request) && request.url().includes("since="), { timeout: 10_000 });
  }
  await page.close();

  // A phone: the board, its labels and the move list fit 360 px without scrolling sideways.
  const phone = await openPage({ width: 360, height: 740 });
  await phone.getByTestId("game-select").selectOption("tictactoe");
  await phone.getByTestId("new-game").click();
  await phone.getByTestId("board").waitFor();
  await playOneMove(phone);
  await playOneMove(phone);
  result.phoneOverflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  await phone.screenshot({ path: join(artifacts, "play-360.png"), fullPage: true });
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
