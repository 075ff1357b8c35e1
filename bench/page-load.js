"use strict";
/*
 * Page-load benchmark of the dashboard: every page, opened cold (a fresh browser context, so
 * nothing cached) against a real `netmon run` over a database of heavy synthetic use, until the
 * page is interactive (its charts drawn and tables filled: `<body data-ready=PAGE>`). Prints
 * the median and worst time per page. Needs root (netmon captures); run it in a private network
 * namespace:
 *
 *   npm run -s build:web && cargo build --release -p netmon-cli
 *   scripts/in-netns.sh node bench/page-load.js [--netmon target/release/netmon] [--days 90] [--runs 5]
 */

const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { parseArgs } = require("node:util");
const { spawn, execFileSync } = require("node:child_process");
const { chromium } = require("playwright-core");

const ROOT = path.resolve(__dirname, "..");
const PORT = 7614;
const ORIGIN = `http://127.0.0.1:${PORT}`;
const PAGES = ["overview", "overview?range=30d", "apps", "apps?range=30d", "domains", "domains?range=30d", "history", "config"];
const BUDGET_MS = 1000;

const { values: options } = parseArgs({
  options: {
    netmon: { type: "string", default: path.join(ROOT, "target/release/netmon") },
    days: { type: "string", default: "90" },
    runs: { type: "string", default: "5" },
  },
});

async function waitForServer() {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (await fetch(`${ORIGIN}/api/status`).then((r) => r.ok, () => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`netmon did not answer on ${ORIGIN}`);
}

/**
 * Milliseconds until interactive when the page is reloaded in a browser that has opened it
 * before (its HTTP cache and compiled-script cache hold Plotly.js): the dashboard tab reopened.
 */
async function reloadOnce(page, hash) {
  await page.reload();
  await page.waitForSelector(`body[data-ready='${hash.split("?")[0]}']`, { state: "attached", timeout: 30_000 });
  return Number(await page.evaluate(() => document.body.dataset.readyMs));
}

/** Milliseconds from navigation start until the page says it is interactive, cold and reloaded. */
async function loadOnce(browser, hash) {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (error) => errors.push(error.message));
  await page.goto(`${ORIGIN}/#${hash}`);
  await page.waitForSelector(`body[data-ready='${hash.split("?")[0]}']`, { state: "attached", timeout: 30_000 });
  const readyMs = Number(await page.evaluate(() => document.body.dataset.readyMs));
  const plotlyMs = await page.evaluate(() => performance.getEntriesByName("plotly-ready")[0]?.startTime ?? null);
  const banner = await page.textContent("#error");
  const warmMs = await reloadOnce(page, hash);
  await context.close();
  if (errors.length || banner) throw new Error(`${hash}: ${errors.join("; ") || banner}`);
  return { readyMs, plotlyMs, warmMs };
}

/**
 * Milliseconds to switch to `hash` inside an open dashboard (Plotly.js already loaded). The
 * dashboard first moves to another page: setting the hash it already shows changes nothing.
 */
async function switchOnce(page, hash) {
  return page.evaluate(async (target) => {
    const name = target.split("?")[0];
    document.body.dataset.ready = "";
    const start = performance.now();
    location.hash = target;
    while (document.body.dataset.ready !== name) {
      if (performance.now() - start > 30_000) throw new Error(`#${target} was not interactive after 30 s`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    if (document.getElementById("error").textContent) throw new Error(document.getElementById("error").textContent);
    return Math.round(performance.now() - start);
  }, hash);
}

/** A `kB` figure of /proc/PID/status in MB (VmRSS: resident now, VmHWM: peak resident). */
function memoryMb(pid, key) {
  const line = fs.readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith(`${key}:`));
  return line ? Number(line.split(/\s+/)[1]) / 1024 : NaN;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function main() {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "netmon-bench-"));
  const env = { ...process.env, NETMON_HOME: home };
  let netmon;
  let browser;
  try {
    const seeding = Date.now();
    execFileSync(options.netmon, ["demo-data", "--days", options.days], { env, stdio: "ignore" });
    const dbBytes = fs.statSync(path.join(home, "network_monitor.db")).size;
    console.log(`seeded ${options.days} days (one sample a minute) in ${((Date.now() - seeding) / 1000).toFixed(1)} s; database ${(dbBytes / 1e6).toFixed(1)} MB`);
    fs.writeFileSync(path.join(home, "config.json"), JSON.stringify({ web_server_port: PORT }));
    netmon = spawn(options.netmon, ["run"], { env, stdio: "ignore" });
    await waitForServer();
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const idleRss = memoryMb(netmon.pid, "VmRSS");
    browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    await loadOnce(browser, "overview"); // warm the server's caches once, as a running daemon has
    const rows = [];
    const open = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    await open.goto(`${ORIGIN}/#history`);
    await open.waitForSelector("body[data-ready='history']", { state: "attached" });
    for (const hash of PAGES) {
      const loads = [];
      for (let run = 0; run < Number(options.runs); run += 1) loads.push(await loadOnce(browser, hash));
      const times = loads.map((load) => load.readyMs);
      const plotly = loads.map((load) => load.plotlyMs).filter((ms) => ms !== null);
      const warm = loads.map((load) => load.warmMs);
      const switches = [];
      const away = hash === "config" ? "overview" : "config";
      for (let run = 0; run < Number(options.runs); run += 1) {
        await switchOnce(open, away);
        switches.push(await switchOnce(open, hash));
      }
      rows.push({
        page: `#${hash}`, median: median(times), worst: Math.max(...times), plotly: plotly.length ? Math.round(median(plotly)) : "–",
        warmMedian: median(warm), warmWorst: Math.max(...warm),
        switchMedian: median(switches), switchWorst: Math.max(...switches),
      });
    }
    console.log(`\n${options.runs} loads per page, ms until interactive (budget ${BUDGET_MS} ms). Cold: a fresh browser context opening the page's URL;`);
    console.log("reload: the same page reloaded in that context (Plotly.js cached); switch: moving to the page");
    console.log("inside the open dashboard (Plotly.js already loaded).\n");
    console.log(`| page | cold median | cold worst | Plotly.js ready at (cold median) | reload median | reload worst | switch median | switch worst | every load within ${BUDGET_MS} ms |`);
    console.log("|---|---:|---:|---:|---:|---:|---:|---:|---|");
    const within = (row) => Math.max(row.worst, row.warmWorst, row.switchWorst) <= BUDGET_MS;
    rows.forEach((row) => console.log(`| ${row.page} | ${row.median} | ${row.worst} | ${row.plotly} | ${row.warmMedian} | ${row.warmWorst} | ${row.switchMedian} | ${row.switchWorst} | ${within(row) ? "yes" : "NO"} |`));
    const [rss, anon, file] = ["VmRSS", "RssAnon", "RssFile"].map((key) => memoryMb(netmon.pid, key).toFixed(1));
    console.log(`\nnetmon run: RSS ${idleRss.toFixed(1)} MB idle (server up, no page open); ${rss} MB after the loads (${anon} MB anonymous, ${file} MB file-backed: binary, libraries, capture ring), peak ${memoryMb(netmon.pid, "VmHWM").toFixed(1)} MB`);
    console.log(`load average while measuring: ${os.loadavg().map((l) => l.toFixed(1)).join(" ")} on ${os.cpus().length} CPUs`);
    process.exitCode = rows.every(within) ? 0 : 1;
  } finally {
    await browser?.close();
    netmon?.kill("SIGTERM");
    fs.rmSync(home, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(`page-load benchmark failed: ${error.message}`);
  process.exit(2);
});
