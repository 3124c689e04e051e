// console.mjs drives the admin console in headless Chromium for
// console_test.go (TestConsoleInBrowser).
//
// Input: the CONSOLE_CONFIG environment variable, JSON:
//   { url: "http://127.0.0.1:port/", chromium: "/usr/bin/chromium",
//     playwrightDir: dir whose node_modules holds playwright-core,
//     kick: client id to kick with the console's button,
//     clients: number of connected clients expected in the clients table,
//     screenshotDir: where to write overview.png, clients.png, topics.png,
//     settleMs: how long to let the overview chart collect points,
//     timeoutMs }
//
// Output on stdout, one line each, for the Go test to check:
//   "SEEN <json>"    what the console showed: overview cards, listeners,
//                    clients and topics tables (each a list of rows of
//                    cell texts), read from the DOM
//   "KICKED <json>"  the status line and the clients table after the
//                    kick button was clicked and the confirm accepted
// Page console messages and errors go to stderr; a page error fails the
// run. The browser is always closed; the exit status is 1 on failure.
import { createRequire } from "node:module";
import path from "node:path";

const cfg = JSON.parse(process.env.CONSOLE_CONFIG || "{}");
const timeout = cfg.timeoutMs || 30000;
// playwright-core comes from the e2e node project (engine/e2e/browser),
// installed by tools/e2e-deps.sh; it is never downloaded here and neither
// is a browser.
const require = createRequire(path.join(cfg.playwrightDir, "package.json"));
const { chromium } = require("playwright-core");

const browser = await chromium.launch({
  executablePath: cfg.chromium || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  timeout,
});

const pageErrors = [];

async function table(page, id) {
  return page.evaluate((id) => {
    const rows = [...document.querySelectorAll(`#${id} tbody tr`)];
    return rows.map((tr) => [...tr.cells].map((td) => td.textContent.trim()));
  }, id);
}

async function show(page, view, tableId, minRows) {
  await page.goto(cfg.url + "#" + view, { timeout });
  await page.waitForFunction(
    ([view, id, n]) => {
      const sec = document.getElementById("view-" + view);
      const rows = document.querySelectorAll(`#${id} tbody tr td:not(.muted)`);
      return sec && !sec.hidden && rows.length > 0 && document.querySelectorAll(`#${id} tbody tr`).length >= n;
    },
    [view, tableId, minRows],
    { timeout, polling: 100 },
  );
}

async function main() {
  const ctx = await browser.newContext({ viewport: { width: 1360, height: 860 } });
  const page = await ctx.newPage();
  page.on("console", (m) => process.stderr.write(`console: ${m.text()}\n`));
  page.on("pageerror", (e) => {
    pageErrors.push(e.message);
    process.stderr.write(`page error: ${e.message}\n`);
  });
  // The kick button asks for confirmation.
  page.on("dialog", (d) => d.accept());

  // Overview: wait for cards and a few rate points, then screenshot.
  await page.goto(cfg.url, { timeout });
  await page.waitForSelector("#cards .card", { timeout });
  await page.waitForTimeout(cfg.settleMs || 3000);
  await page.waitForFunction(() => /^updated /.test(document.getElementById("status").textContent), null, { timeout });
  const cards = await page.evaluate(() =>
    Object.fromEntries([...document.querySelectorAll("#cards .card")].map((c) => [c.querySelector(".k").textContent, c.querySelector(".v").textContent])),
  );
  await page.screenshot({ path: path.join(cfg.screenshotDir, "overview.png"), fullPage: true });

  await show(page, "connectors", "listeners", 1);
  const listeners = await table(page, "listeners");

  await show(page, "clients", "clients", cfg.clients || 1);
  const clients = await table(page, "clients");
  await page.screenshot({ path: path.join(cfg.screenshotDir, "clients.png"), fullPage: true });

  await show(page, "topics", "topics", 1);
  const topics = await table(page, "topics");
  await page.screenshot({ path: path.join(cfg.screenshotDir, "topics.png"), fullPage: true });

  process.stdout.write("SEEN " + JSON.stringify({ cards, listeners, clients, topics }) + "\n");

  // Kick one client with its row's button.
  await show(page, "clients", "clients", cfg.clients || 1);
  const row = page.locator("#clients tbody tr", { has: page.locator("td:first-child", { hasText: cfg.kick }) });
  await row.getByRole("button", { name: "kick" }).click({ timeout });
  await page.waitForFunction((id) => document.getElementById("status").textContent === "kicked " + id, cfg.kick, {
    timeout,
    polling: 50,
  });
  const status = await page.evaluate(() => document.getElementById("status").textContent);
  // The console reloads the list right after the kick, but the broker
  // closes the connection asynchronously: search again until the row is
  // gone or shows the client offline (no kick button).
  const deadline = Date.now() + timeout;
  const stillConnected = (id) =>
    [...document.querySelectorAll("#clients tbody tr")].some((tr) => tr.cells[0]?.textContent === id && tr.querySelector("button.danger"));
  while (await page.evaluate(stillConnected, cfg.kick)) {
    if (Date.now() > deadline) throw new Error(`${cfg.kick} still listed as connected after the kick`);
    await page.waitForTimeout(200);
    await page.locator("#client-filter button[type=submit]").click();
  }
  process.stdout.write("KICKED " + JSON.stringify({ status, clients: await table(page, "clients") }) + "\n");
  if (pageErrors.length) throw new Error("page errors: " + pageErrors.join("; "));
}

let code = 0;
try {
  await main();
} catch (e) {
  process.stderr.write(`console.mjs: ${e.stack || e}\n`);
  code = 1;
} finally {
  await browser.close();
}
process.exit(code);
