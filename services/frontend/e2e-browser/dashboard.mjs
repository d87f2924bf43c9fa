// Real-browser check of the Training tab with Playwright (playwright-core) driving Debian's Chromium, at a phone's
// width (360 px, touch) and a desktop's (1280 px), and at 1280 px in the dark colour scheme. It reads what a person
// sees: each chart's axis tick labels (LineChart puts the labels it drew on the figure), the legends, the values the
// legend shows under the cursor (a mouse hover, a finger's tap), whether anything overflows the page, the tables.
//   FRONTEND_URL=http://127.0.0.1:5173 ARTIFACTS_DIR=artifacts/frontend node e2e-browser/dashboard.mjs
//   DOCS_IMAGES_DIR=../../docs/images also writes the README's dashboard.png there (the 1280 px page).
// Prints one JSON line: { "1280": {...}, "360": {...}, "dark": {...}, pageErrors, cspViolations }.
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const url = process.env.FRONTEND_URL ?? "http://127.0.0.1:5173";
const artifacts = process.env.ARTIFACTS_DIR ?? "artifacts/frontend";
const executablePath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const docsImages = process.env.DOCS_IMAGES_DIR;
mkdirSync(artifacts, { recursive: true });
if (docsImages) mkdirSync(docsImages, { recursive: true });

const CHARTS = ["chart-loss", "chart-throughput", "chart-iteration-time", "chart-rating", "chart-optimal"];
const args = [
  "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];
const browser = await chromium.launch({ executablePath, args, headless: true });
const result = { cspViolations: [], pageErrors: [] };

/** The legend's rows of a chart, as { label: value } (the first row is the x axis). */
async function legend(chart) {
  const rows = await chart.locator(".u-legend .u-series").evaluateAll((trs) =>
    trs.map((tr) => [tr.querySelector(".u-label")?.textContent.trim(), tr.querySelector(".u-value")?.textContent.trim()]),
  );
  return Object.fromEntries(rows);
}

async function readDashboard(name, { width, colorScheme = "light", touch = false }) {
  const context = await browser.newContext({ viewport: { width, height: 900 }, colorScheme, hasTouch: touch });
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  page.on("console", (message) => {
    if (message.text().includes("Content Security Policy")) result.cspViolations.push(message.text());
  });
  page.on("pageerror", (error) => result.pageErrors.push(String(error)));
  await page.goto(url);
  // The Training tab's second poll asks only for what was added since the first answer: it must come back as /stats.
  const incremental = page.waitForResponse((r) => new URL(r.url()).pathname === "/stats" && r.url().includes("since="));
  await page.getByTestId("tab-training").click();
  // Every chart drawn with data: its x axis has tick labels (the throughput chart needs the first poll).
  await page.waitForFunction(
    (ids) => ids.every((id) => document.querySelector(`[data-testid='${id}']`)?.dataset.xTicks),
    CHARTS,
  );
  const seen = { charts: {} };
  for (const id of CHARTS) {
    const chart = page.getByTestId(id);
    seen.charts[id] = {
      xTicks: (await chart.getAttribute("data-x-ticks")).split("|").filter(Boolean),
      yTicks: (await chart.getAttribute("data-y-ticks")).split("|").filter(Boolean),
      legend: Object.keys(await legend(chart)),
      box: await chart.evaluate((el) => {
        const r = el.getBoundingClientRect();
        return { left: r.left, right: r.right, width: r.width };
      }),
    };
  }
  seen.viewport = await page.evaluate(() => ({
    innerWidth: window.innerWidth,
    scrollWidth: document.documentElement.scrollWidth,
    background: getComputedStyle(document.documentElement).backgroundColor,
  }));
  seen.tableScroll = await page.locator(".table-scroll").evaluateAll((boxes) =>
    boxes.map((b) => ({ clientWidth: b.clientWidth, scrollWidth: b.scrollWidth, right: b.getBoundingClientRect().right })),
  );
  const answer = await incremental;
  seen.incremental = { status: answer.status(), type: answer.headers()["content-type"] ?? "" };
  seen.banners = await page.locator("[data-testid='web-unreachable'], [data-testid='stats-unavailable']").allInnerTexts();
  seen.progress = await page.getByTestId("progress").innerText();
  seen.arenaRows = await page.getByTestId("arena-row").allInnerTexts();
  seen.matchRows = await page.getByTestId("match-row").allInnerTexts();
  seen.modelVersion = await page.getByTestId("model-version").innerText();

  // The cursor on the loss chart's last iteration: the legend shows each loss there.
  const loss = page.getByTestId("chart-loss");
  const over = loss.locator(".u-over");
  await over.scrollIntoViewIfNeeded(); // the mouse and a finger reach only what is on screen
  const box = await over.boundingBox();
  const lastPoint = { x: box.x + box.width - 2, y: box.y + box.height / 2 };
  if (touch) {
    await page.touchscreen.tap(lastPoint.x, lastPoint.y);
    seen.tapped = await legend(loss);
    await page.waitForTimeout(3500); // a /stats poll later (every 3 s) the values are still there
    seen.tappedLater = await legend(loss);
  } else {
    await page.mouse.move(lastPoint.x, lastPoint.y);
    seen.hovered = await legend(loss);
    await page.getByTestId("loss-smooth").check();
    await page.mouse.move(lastPoint.x - 1, lastPoint.y); // the chart is drawn afresh: put the cursor back
    await page.mouse.move(lastPoint.x, lastPoint.y);
    seen.smoothed = await legend(loss);
    await page.getByTestId("loss-smooth").uncheck();
    await page.getByTestId("loss-log").check();
    seen.logYTicks = (await loss.getAttribute("data-y-ticks")).split("|").filter(Boolean);
    await page.getByTestId("loss-log").uncheck();
    await page.mouse.move(0, 0);
  }
  const rating = page.getByTestId("chart-rating").locator(".u-over");
  await rating.scrollIntoViewIfNeeded();
  const ratingBox = await rating.boundingBox();
  await page.mouse.move(ratingBox.x + ratingBox.width - 2, ratingBox.y + ratingBox.height / 2);
  seen.ratingLegend = await legend(page.getByTestId("chart-rating"));
  if (!touch) {
    await page.waitForTimeout(3500); // a /stats poll later (every 3 s) the chart is the same, its cursor too
    seen.ratingLegendLater = await legend(page.getByTestId("chart-rating"));
  }
  await page.mouse.move(0, 0);

  const shot = join(artifacts, `dashboard-${name}.png`);
  await page.screenshot({ path: shot, fullPage: true });
  await context.close();
  return seen;
}

try {
  result["1280"] = await readDashboard("1280", { width: 1280 });
  result["360"] = await readDashboard("360", { width: 360, touch: true });
  result.dark = await readDashboard("1280-dark", { width: 1280, colorScheme: "dark" });
  if (docsImages) copyFileSync(join(artifacts, "dashboard-1280.png"), join(docsImages, "dashboard.png"));
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
