// run.mjs drives headless Chromium for the Go e2e tests (browser_test.go).
//
// Input: the E2E_CONFIG environment variable, JSON:
//   { chromium: "/usr/bin/chromium", args: [extra flags], pages: [url, ...],
//     want: "subscribed" | "failed", count: messages expected per page,
//     settleMs: extra wait for unexpected messages, timeoutMs }
//
// Protocol on stdout/stdin, one line each:
//   -> "READY <json>"   every page (each in its own browser context, so no
//                       shared storage or connection) reached a final state
//   <- any line         the Go test has published
//   -> "RESULT <json>"  per page: state, status text, received messages
// Diagnostics (page console, errors) go to stderr. The browser is always
// closed before exit; the exit status is 0 unless the runner itself failed.
import { chromium } from "playwright-core";
import readline from "node:readline";

const cfg = JSON.parse(process.env.E2E_CONFIG || "{}");
const timeout = cfg.timeoutMs || 30000;
const terminal = new Set(["subscribed", "failed", "lost"]);

const browser = await chromium.launch({
  executablePath: cfg.chromium || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", ...(cfg.args || [])],
  timeout,
});

async function main() {
  const pages = [];
  for (const [i, url] of cfg.pages.entries()) {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    page.on("console", (m) => process.stderr.write(`page${i} console: ${m.text()}\n`));
    page.on("pageerror", (e) => process.stderr.write(`page${i} error: ${e.message}\n`));
    await page.goto(url, { timeout });
    pages.push(page);
  }
  const state = async (page) =>
    page.evaluate(() => {
      const s = document.getElementById("status");
      return {
        state: s.dataset.state,
        text: s.textContent,
        messages: [...document.querySelectorAll("#messages li")].map((li) => ({
          topic: li.dataset.topic,
          payload: li.dataset.payload,
        })),
      };
    });
  const states = await Promise.all(
    pages.map(async (page) => {
      await page.waitForFunction(
        (t) => t.includes(document.getElementById("status")?.dataset.state),
        [...terminal],
        { timeout, polling: 50 },
      );
      return state(page);
    }),
  );
  process.stdout.write("READY " + JSON.stringify(states) + "\n");

  const rl = readline.createInterface({ input: process.stdin });
  await new Promise((resolve) => rl.once("line", resolve));
  rl.close();

  await Promise.all(
    pages.map((page) =>
      page
        .waitForFunction((n) => document.querySelectorAll("#messages li").length >= n, cfg.count || 0, {
          timeout,
          polling: 50,
        })
        .catch(() => {}),
    ),
  );
  await new Promise((r) => setTimeout(r, cfg.settleMs || 500));
  const results = await Promise.all(pages.map(state));
  process.stdout.write("RESULT " + JSON.stringify(results) + "\n");
}

let status = 0;
try {
  await main();
} catch (e) {
  process.stderr.write(`run.mjs: ${e.stack || e}\n`);
  status = 1;
} finally {
  await browser.close();
}
process.exit(status);
