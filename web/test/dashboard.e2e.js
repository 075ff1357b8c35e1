"use strict";
/*
 * The dashboard in a real browser (Debian chromium through playwright-core) against a real
 * `netmon run` whose database holds synthetic history. Needs root (netmon captures) and a
 * built target/debug/netmon. Writes a screenshot to target/dashboard-overview.png.
 */

const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { spawn, execFileSync } = require("node:child_process");
const { chromium } = require("playwright-core");

const ROOT = path.resolve(__dirname, "../..");
const NETMON = path.join(ROOT, "target/debug/netmon");
const PORT = 7613;
const ORIGIN = `http://127.0.0.1:${PORT}`;

async function waitFor(what, check, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch (_) {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

test("the overview shows history, live rates and works offline", { timeout: 120_000 }, async (t) => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "netmon-web-"));
  t.after(() => fs.rmSync(home, { recursive: true, force: true }));
  const env = { ...process.env, NETMON_HOME: home };
  execFileSync(NETMON, ["demo-data", "--days", "10", "--step-seconds", "300"], { env, stdio: "ignore" });
  fs.writeFileSync(path.join(home, "config.json"), JSON.stringify({ web_server_port: PORT }));
  const netmon = spawn(NETMON, ["run", "--interval", "1"], { env, stdio: "ignore" });
  t.after(() => netmon.kill("SIGTERM"));
  await waitFor("netmon's API", async () => (await fetch(`${ORIGIN}/api/status`)).ok);

  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const foreign = [];
  const errors = [];
  page.on("request", (request) => {
    if (!request.url().startsWith(ORIGIN)) foreign.push(request.url());
  });
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });

  await page.goto(`${ORIGIN}/`);
  await page.waitForSelector("#timeline .main-svg");
  await page.waitForSelector("#pie .main-svg");
  await page.waitForFunction(() => document.querySelectorAll("#apps tbody tr").length >= 40);
  for (const period of ["today", "week", "month"]) {
    assert.match(await page.textContent(`#${period}`), /\d+(\.\d)? (KB|MB|GB|TB)/, period);
  }
  await page.waitForFunction(() => document.querySelectorAll("#domains tbody tr").length >= 10);
  const topDomain = await page.textContent("#domains tbody tr:first-child td:first-child");
  assert.match(topDomain, /^[a-z0-9.-]+\.[a-z]+$/, "a registrable domain, not a URL");
  const slices = await page.$$eval("#pie .slice", (nodes) => nodes.length);
  assert.equal(slices, 11, "top ten applications and other");
  await page
    .waitForFunction(() => document.getElementById("live-status").textContent.startsWith("live:"), null, { timeout: 15_000 })
    .catch(async (error) => {
      throw new Error(`no live event: status says ${JSON.stringify(await page.textContent("#live-status"))}; errors: ${errors}; ${error.message}`);
    });

  await page.click("button[data-range='7d']");
  await page.waitForFunction(() => document.querySelector("#timeline .ytitle")?.textContent.includes("60 min"));
  await page.fill("#filter", "app-4");
  const filtered = await page.$$eval("#apps tbody tr td:first-child", (cells) => cells.map((c) => c.textContent));
  assert.ok(filtered.length >= 1 && filtered.every((name) => name.startsWith("app-4")), filtered.join(","));
  await page.fill("#filter", "");

  fs.mkdirSync(path.join(ROOT, "target"), { recursive: true });
  await page.screenshot({ path: path.join(ROOT, "target/dashboard-overview.png"), fullPage: true });
  assert.deepEqual(foreign, [], "the dashboard loads nothing from outside this machine");
  assert.deepEqual(errors, [], "no errors in the page");
});
