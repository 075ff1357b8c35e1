"use strict";
/*
 * The dashboard in a real browser (Debian chromium through playwright-core) against a real
 * `netmon run` whose database holds synthetic history (`netmon demo-data`). The expected values
 * come from the `netmon` CLI, which reads the same database without the server, queried before
 * the server starts. Needs root (netmon captures; run through scripts/in-netns.sh) and a built
 * target/debug/netmon. Writes screenshots of the six pages to target/screenshots/.
 */

const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const net = require("node:net");
const { spawn, execFileSync } = require("node:child_process");
const { chromium } = require("playwright-core");
const fmt = require("../format.js");
const { chromiumBinary } = require("../../extension/test-e2e/support.js");

const ROOT = path.resolve(__dirname, "../..");
const NETMON = path.join(ROOT, "target/debug/netmon");
const SCREENSHOTS = path.join(ROOT, "target/screenshots");
const PORT = 7613;
const ORIGIN = `http://127.0.0.1:${PORT}`;
const DAY_MS = 86_400_000;
/** Days of synthetic history: all of it inside the dashboard's "30d" range. */
const DAYS = 25;

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

const isoDate = (date) => `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, "0")}-${String(date.getDate()).padStart(2, "0")}`;
const daysAgo = (days) => {
  const now = new Date();
  return new Date(now.getFullYear(), now.getMonth(), now.getDate() - days);
};
const sum = (values) => values.reduce((total, value) => total + value, 0);

const home = fs.mkdtempSync(path.join(os.tmpdir(), "netmon-web-"));
const env = { ...process.env, NETMON_HOME: home };
const cli = (...args) => JSON.parse(execFileSync(NETMON, args, { env, encoding: "utf8" }));
/** Per application {received, sent} from the CLI since `since` (a duration or a local date). */
const appsSince = (since) => new Map(cli("apps", "--since", since, "--json", "--bytes", "--limit", "1000").map((a) => [a.app, a]));

/**
 * A peer network namespace behind a veth pair, serving web/vendor over HTTP: traffic to it is
 * real (non-loopback) usage that netmon captures, so the live gauge has something to show.
 * The dashboard itself never talks to it.
 */
function startPeer() {
  const ns = `netmon-peer-${process.pid}`;
  const ip = (...args) => execFileSync("ip", args);
  ip("netns", "add", ns);
  ip("link", "add", "nmpeer0", "type", "veth", "peer", "name", "nmpeer1", "netns", ns);
  ip("addr", "add", "10.213.0.1/24", "dev", "nmpeer0");
  ip("link", "set", "nmpeer0", "up");
  ip("-n", ns, "addr", "add", "10.213.0.2/24", "dev", "nmpeer1");
  ip("-n", ns, "link", "set", "nmpeer1", "up");
  const serve = (port) => spawn("ip", ["netns", "exec", ns, "python3", "-m", "http.server", "--bind", "10.213.0.2", String(port), "--directory", path.join(ROOT, "web/vendor")], { stdio: "ignore" });
  // 8214 only holds the Connections test's second open connection.
  const servers = [serve(8213), serve(8214)];
  return () => {
    servers.forEach((server) => server.kill());
    execFileSync("ip", ["netns", "del", ns]);
  };
}

/** Downloads from the peer until `until()` settles. */
async function downloadWhile(until) {
  let done = false;
  const settled = until.finally(() => { done = true; });
  const loop = (async () => {
    while (!done) {
      await fetch("http://10.213.0.2:8213/plotly.min.js").then((r) => r.arrayBuffer()).catch(() => new Promise((r) => setTimeout(r, 200)));
    }
  })();
  await Promise.all([settled, loop]);
}

let stopPeer;
let netmon;
let browser;
let page;
let expected;
const foreign = [];
const errors = [];

test.before(async () => {
  execFileSync(NETMON, ["demo-data", "--days", String(DAYS), "--step-seconds", "900"], { env, stdio: "ignore" });
  const historyFrom = isoDate(daysAgo(DAYS + 1));
  const historyTo = isoDate(daysAgo(1));
  const [all, fromStart, fromToday] = [appsSince("30d"), appsSince(historyFrom), appsSince(isoDate(daysAgo(0)))];
  const bytesOf = (map) => sum([...map.values()].map((a) => a.received + a.sent));
  expected = { all, historyFrom, historyTo, historyTotal: bytesOf(fromStart) - bytesOf(fromToday) };

  stopPeer = startPeer();
  // Batches every 2 s: the alerts test waits for an alert raised after a write.
  fs.writeFileSync(path.join(home, "config.json"), JSON.stringify({ web_server_port: PORT, batch_write_seconds: 2 }));
  netmon = spawn(NETMON, ["run", "--interval", "1"], { env, stdio: "ignore" });
  await waitFor("netmon's API", async () => (await fetch(`${ORIGIN}/api/status`)).ok);
  browser = await chromium.launch({
    executablePath: chromiumBinary(),
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  page = await browser.newPage({ viewport: { width: 1440, height: 900 }, acceptDownloads: true });
  page.on("request", (request) => {
    if (!request.url().startsWith(`${ORIGIN}/`)) foreign.push(request.url());
  });
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
});

test.after(async () => {
  await browser?.close();
  netmon?.kill("SIGTERM");
  stopPeer?.();
  fs.rmSync(home, { recursive: true, force: true });
});

/** Opens `#hash` and waits until its page says it is drawn. */
async function open(hash) {
  const name = hash.split("?")[0];
  if (!page.url().startsWith(ORIGIN)) {
    await page.goto(`${ORIGIN}/#${hash}`);
  } else {
    await page.evaluate((target) => {
      document.body.dataset.ready = "";
      location.hash = target;
    }, hash);
  }
  await page.waitForSelector(`body[data-ready='${name}']`, { timeout: 10_000 });
  assert.equal(await page.textContent("#error"), "", `no error banner on ${name}`);
}

const plotData = (id) => page.evaluate((element) => document.getElementById(element).data, id);
const columnTexts = (table, column) => page.$$eval(`#${table} tbody tr td:nth-child(${column})`, (cells) => cells.map((c) => c.textContent));
const screenshot = (name) => page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`) });

/** The synthetic applications as the CLI counts them, busiest first. */
function syntheticApps() {
  return [...expected.all.values()].sort((a, b) => b.received + b.sent - (a.received + a.sent));
}

test("overview: totals, timeline, top ten applications and the live gauge", async () => {
  await open("overview?range=30d");
  for (const period of ["today", "week", "month"]) {
    assert.match(await page.textContent(`#${period}`), /\d+(\.\d)? (KB|MB|GB|TB)/, period);
  }
  const [pie] = await plotData("pie");
  const top = syntheticApps().slice(0, 10);
  assert.deepEqual(pie.labels.slice(0, 10), top.map((a) => a.app), "the ten busiest applications, busiest first");
  assert.deepEqual(pie.values.slice(0, 10), top.map((a) => a.received + a.sent));
  assert.equal(pie.labels[10], "other");
  const timeline = await plotData("timeline");
  assert.deepEqual(timeline.map((t) => t.name), ["received", "sent"]);
  const seededReceived = sum([...expected.all.values()].map((a) => a.received));
  const plotted = sum(timeline[0].y);
  assert.ok(plotted >= seededReceived && plotted < seededReceived + 50e6, `timeline received ${plotted} ≈ seeded ${seededReceived}`);

  const gauge = async () => (await plotData("gauge"))[0].value;
  const idle = await gauge();
  assert.ok(idle < 100_000, `the gauge is near zero while nothing moves (${idle} B/s)`);
  await downloadWhile(page.waitForFunction(() => document.getElementById("gauge").data[0].value > 100_000, null, { timeout: 20_000 }));
  assert.ok((await gauge()) > 100_000, "the gauge moved with the live samples (a download of MB/s)");
  assert.match(await page.textContent("#live-status"), /^live: ↓ /);

  await page.fill("#filter", "app-4");
  const filtered = await columnTexts("apps", 1);
  assert.ok(filtered.length >= 1 && filtered.every((name) => name.startsWith("app-4")), filtered.join(","));
  await page.fill("#filter", "");
  await screenshot("overview");
});

test("applications: the table sorts and filters; a row opens its timeline and processes", async () => {
  await open("apps?range=30d");
  const names = await columnTexts("app-table", 1);
  const seeded = syntheticApps();
  assert.deepEqual(names.filter((n) => expected.all.has(n)), seeded.map((a) => a.app), "sorted by total, busiest first");
  const totals = await columnTexts("app-table", 2);
  seeded.slice(0, 5).forEach((app, index) => assert.equal(totals[names.indexOf(app.app)], fmt.bytes(app.received + app.sent), app.app));

  await page.click("#app-table th[data-key='app']");
  const byName = (await columnTexts("app-table", 1));
  assert.deepEqual(byName, [...byName].sort((a, b) => a.localeCompare(b)), "sorted by name");
  await page.click("#app-table th[data-key='sent']");
  const sentOrder = (await columnTexts("app-table", 1)).filter((n) => expected.all.has(n));
  assert.deepEqual(sentOrder, [...seeded].sort((a, b) => b.sent - a.sent).map((a) => a.app), "sorted by bytes sent");

  await page.fill("#app-filter", "fire");
  assert.deepEqual(await columnTexts("app-table", 1), ["firefox"]);
  await page.click("#app-table tbody tr:first-child");
  await page.waitForFunction(() => document.getElementById("app-title").textContent.startsWith("firefox"));
  await page.waitForFunction(() => location.hash.includes("app=firefox"));
  const firefox = expected.all.get("firefox");
  const detail = await plotData("app-timeline");
  assert.deepEqual(detail.map((t) => t.name), ["received", "sent"]);
  assert.equal(sum(detail[0].y), firefox.received, "firefox's received bytes over 30 days");
  assert.equal(sum(detail[1].y), firefox.sent, "firefox's sent bytes over 30 days");
  const facts = await page.textContent("#app-facts");
  assert.match(facts, /Executable/);
  assert.match(facts, /PIDs seen/);
  const firefoxDetail = await (await fetch(`${ORIGIN}/api/apps/firefox?range=30d`)).json();
  assert.ok(firefoxDetail.domains.length >= 5, "the seed's browser traffic has domains");
  await page.waitForFunction((first) => document.querySelector("#app-domains tbody td")?.textContent === first, firefoxDetail.domains[0].domain);
  assert.deepEqual(await columnTexts("app-domains", 1), firefoxDetail.domains.map((d) => d.domain), "firefox's registrable domains, busiest first");
  assert.deepEqual(await columnTexts("app-domains", 2), firefoxDetail.domains.map((d) => fmt.bytes(d.received + d.sent)));
  assert.deepEqual(await columnTexts("app-domains", 5), firefoxDetail.domains.map((d) => String(d.hostnames)), "hostnames per domain");
  await page.fill("#app-filter", "");
  await screenshot("apps");

  // Over 7 days (hourly buckets) the busiest application's timeline has its usual band: the
  // same hours as the API's, from the fourth week of the synthetic history on.
  const busiest = seeded[0].app;
  await open(`apps?range=7d&app=${encodeURIComponent(busiest)}`);
  await page.waitForFunction((app) => document.getElementById("app-title").textContent.startsWith(app), busiest);
  const withBand = await plotData("app-timeline");
  assert.deepEqual(withBand.map((t) => t.name), ["usual (low)", "usual band", "received", "sent"]);
  const band = await (await fetch(`${ORIGIN}/api/alerts/band?app=${encodeURIComponent(busiest)}&range=7d`)).json();
  assert.ok(band.length >= 24, `hours with three weeks of history have a band (${band.length})`);
  assert.deepEqual(withBand[1].y, band.map((point) => point.upper_bytes));
  assert.ok(band.every((point) => point.lower_bytes <= point.median_bytes && point.median_bytes <= point.upper_bytes));
  await screenshot("apps-band");
});

/**
 * A TCP connection to the peer's `port` that stays open: it sends the start of a request
 * padded to about `bytes` bytes and never ends it, so the server waits. Retries while the
 * server starts.
 */
async function openConnection(port, bytes) {
  const head = `GET / HTTP/1.0\r\nX-Pad: ${"a".repeat(bytes)}\r\n`;
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await new Promise((resolve, reject) => {
        const socket = net.connect({ host: "10.213.0.2", port }, () => socket.write(head, () => resolve(socket)));
        socket.on("error", reject);
      });
    } catch (error) {
      if (attempt > 50) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

test("connections: open flows appear live with their process, sort and filter, and go when closed", async () => {
  await open("connections");
  const rowOf = (port) => `#connection-table tbody tr:has(td:nth-child(2):text-is("10.213.0.2:${port}"))`;
  const small = await openConnection(8213, 100);
  const large = await openConnection(8214, 6000);
  await page.waitForSelector(rowOf(8213), { timeout: 10_000 });
  await page.waitForSelector(rowOf(8214), { timeout: 10_000 });
  const cells = (port) => page.$$eval(`${rowOf(port)} td`, (tds) => tds.map((td) => td.textContent));
  const [process8213, , host, named, protocol] = await cells(8213);
  assert.ok(process8213.endsWith(` (${process.pid})`), `the process is this test, by its PID: ${process8213}`);
  assert.equal(protocol, "tcp");
  assert.deepEqual([host, named], ["–", "not tracked"], "node is not a browser: no hostname");
  const api = await (await fetch(`${ORIGIN}/api/connections?limit=500`)).json();
  const listed = api.connections.find((c) => c.remote_port === 8214 && c.remote_address === "10.213.0.2");
  assert.equal(listed.pid, process.pid);
  assert.ok(listed.sent_bytes > 6000, `the padded request's bytes so far (${listed.sent_bytes})`);

  const remotes = () => columnTexts("connection-table", 2);
  await page.click("#connection-table th[data-key='so_far']");
  await page.waitForFunction(() => document.querySelector("#connection-table th[data-key='so_far']").dataset.sorted === "desc");
  const peers = async () => (await remotes()).filter((r) => r === "10.213.0.2:8213" || r === "10.213.0.2:8214");
  assert.deepEqual(await peers(), ["10.213.0.2:8214", "10.213.0.2:8213"], "most bytes first");
  await page.click("#connection-table th[data-key='so_far']");
  assert.deepEqual(await peers(), ["10.213.0.2:8213", "10.213.0.2:8214"], "again: fewest first");
  await page.click("#connection-table th[data-key='remote']");
  const byRemote = await remotes();
  assert.deepEqual(byRemote, [...byRemote].sort((a, b) => a.localeCompare(b)), "sorted by remote address");

  await page.fill("#connection-filter", "8214");
  await page.waitForFunction(() => [...document.querySelectorAll("#connection-table tbody tr td:nth-child(2)")].every((td) => td.textContent.includes("8214")));
  assert.deepEqual(await remotes(), ["10.213.0.2:8214"], "the filter matches the remote address");
  await page.fill("#connection-filter", "not tracked");
  assert.ok((await remotes()).includes("10.213.0.2:8213"), "and how a flow was named");
  await page.fill("#connection-filter", "");
  assert.match(await page.textContent("#connections-count"), /^\(\d+ open/);
  await screenshot("connections");

  small.destroy();
  large.destroy();
  await page.waitForFunction(() => ![...document.querySelectorAll("#connection-table tbody tr td:nth-child(2)")].some((td) => td.textContent.startsWith("10.213.0.2:821")), null, { timeout: 10_000 });
});

test("domains: bars, the domain → hostname sunburst and a domain's hostnames", async () => {
  await open("domains?range=30d");
  const domains = await (await fetch(`${ORIGIN}/api/domains?range=30d&limit=200`)).json();
  assert.ok(domains.length >= 10, "the seed's ten sites");
  const [received, sent] = await plotData("domain-bars");
  assert.deepEqual(received.y, domains.slice(0, 15).map((d) => d.domain).reverse());
  assert.deepEqual(received.x, domains.slice(0, 15).map((d) => d.received).reverse());
  assert.deepEqual(sent.x, domains.slice(0, 15).map((d) => d.sent).reverse());

  const [sunburst] = await plotData("domain-sunburst");
  const roots = sunburst.ids.filter((_, i) => sunburst.parents[i] === "");
  assert.deepEqual(roots, domains.slice(0, 10).map((d) => d.domain));
  domains.slice(0, 10).forEach((domain) => {
    const value = sunburst.values[sunburst.ids.indexOf(domain.domain)];
    assert.equal(value, domain.received + domain.sent, `${domain.domain} is the sum of its hostnames`);
    const children = sunburst.values.filter((_, i) => sunburst.parents[i] === domain.domain);
    assert.equal(children.length, Math.min(domain.hostnames, 13), `${domain.domain}: its twelve busiest hostnames, then one slice for the rest`);
    assert.equal(children.reduce((sum, v) => sum + v, 0), value, `${domain.domain}'s slices add up to it`);
  });

  await page.fill("#domain-filter", "git");
  assert.deepEqual(await columnTexts("domain-table", 1), ["github.com"]);
  await page.click("#domain-table tbody tr:first-child");
  await page.waitForFunction(() => document.getElementById("hostnames-title").textContent.includes("github.com"));
  const hosts = await columnTexts("hostname-table", 1);
  assert.ok(hosts.length > 1 && hosts.every((h) => h.endsWith(".github.com")), hosts.join(","));
  await page.fill("#domain-filter", "");

  const download = page.waitForEvent("download");
  await page.click("#hostname-table-csv");
  const csv = fs.readFileSync(await (await download).path(), "utf8").trim().split("\n");
  assert.equal(csv[0], "Hostname,Total,Received,Sent");
  assert.equal(csv.length, hosts.length + 1, "one line per hostname");
  await screenshot("domains");
});

test("history: a date range drives the timeline, heatmap and weekly trend", async (t) => {
  // The page's charts and this test read this week's totals at different moments: counting
  // pauses (and the window in progress is written) so no live sample lands between them.
  const monitoring = (action) => fetch(`${ORIGIN}/api/monitoring/${action}`, { method: "POST", headers: { "Content-Type": "application/json", Origin: ORIGIN }, body: "{}" });
  assert.equal((await monitoring("pause")).status, 200);
  t.after(() => monitoring("resume"));
  await new Promise((resolve) => setTimeout(resolve, 2500));
  await open(`history?from=${expected.historyFrom}&to=${expected.historyTo}`);
  const timeline = await plotData("history-timeline");
  assert.equal(sum(timeline[0].y) + sum(timeline[1].y), expected.historyTotal, "the timeline holds the range's bytes");
  const [heatmap] = await plotData("heatmap");
  assert.equal(heatmap.z.length, 7);
  assert.ok(heatmap.z.every((hours) => hours.length === 24));
  assert.equal(sum(heatmap.z.flat()), expected.historyTotal, "the heatmap holds the range's bytes");
  assert.deepEqual(heatmap.y, ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]);

  const [weeklyReceived, weeklySent] = await plotData("weekly");
  const start = daysAgo(DAYS + 1).getTime();
  const end = daysAgo(0).getTime();
  const weeks = (await (await fetch(`${ORIGIN}/api/trends/weekly?weeks=6`)).json())
    .filter((w) => w.start_ms < end && w.start_ms + 7 * DAY_MS > start);
  assert.deepEqual(weeklyReceived.y, weeks.map((w) => w.received));
  assert.deepEqual(weeklySent.y, weeks.map((w) => w.sent));
  const months = await (await fetch(`${ORIGIN}/api/trends/months`)).json();
  const [monthsReceived] = await plotData("months");
  assert.deepEqual(monthsReceived.y, [months.previous_month.received, months.previous_month_to_date.received, months.this_month.received]);

  // A narrower range through the form: one day.
  const day = isoDate(daysAgo(3));
  await page.fill("#history-from", day);
  await page.fill("#history-to", day);
  await page.evaluate(() => { document.body.dataset.ready = ""; });
  await page.click("#history-range button[type=submit]");
  await page.waitForFunction((d) => location.hash.includes(`from=${d}`), day);
  await page.waitForFunction(() => document.getElementById("heatmap").data[0].z.flat().filter((v) => v > 0).length <= 24);
  const [oneDay] = await plotData("heatmap");
  const busyRows = oneDay.z.filter((hours) => hours.some((v) => v > 0));
  assert.equal(busyRows.length, 1, "a single day fills a single weekday row");
  await open(`history?from=${expected.historyFrom}&to=${expected.historyTo}`);
  await screenshot("history");
});

test("configuration: status, pause, a change saved to config.json, the server's validation message, purge", async () => {
  await open("config");
  assert.match(await page.textContent("#status"), /Capture source/);
  assert.match(await page.textContent("[data-fact='Privileges']"), /root/);

  await page.click("#pause");
  await page.waitForFunction(() => document.getElementById("pause").textContent.startsWith("Resume"));
  assert.equal((await (await fetch(`${ORIGIN}/api/status`)).json()).paused, true);
  await page.click("#pause");
  await page.waitForFunction(() => document.getElementById("pause").textContent.startsWith("Pause"));

  // Each option's explanation, unit and allowed range come from the API's schema.
  const spec = await (await fetch(`${ORIGIN}/api/openapi.json`)).json();
  const options = spec.components.schemas.ConfigDocument.properties;
  assert.equal(await page.textContent("[data-help='sampling_interval_seconds']"), "length of one sample · in seconds · a whole number from 1 to 3600");
  for (const [key, property] of Object.entries(options)) {
    const shown = await page.textContent(`[data-help='${key}']`);
    assert.ok(shown.startsWith(property.description) && shown.endsWith(property["x-allowed"]), `${key}: ${shown}`);
  }
  assert.deepEqual(await page.$$eval("#config-log_level option", (all) => all.map((o) => o.textContent)), options.log_level.enum);

  await page.fill("#config-high_usage_threshold_gb", "12.5");
  await page.selectOption("#config-log_level", "DEBUG");
  await page.click("#config-form button[type=submit]");
  await page.waitForFunction(() => document.getElementById("config-result").textContent.startsWith("saved"));
  const saved = JSON.parse(fs.readFileSync(path.join(home, "config.json"), "utf8"));
  assert.equal(saved.high_usage_threshold_gb, 12.5);
  assert.equal(saved.log_level, "DEBUG");
  assert.match(await page.textContent("#config-result"), /applied at once/);
  assert.doesNotMatch(await page.textContent("#config-result"), /restart/);

  const refused = await fetch(`${ORIGIN}/api/config`, {
    method: "PUT", headers: { "Content-Type": "application/json", Origin: ORIGIN }, body: JSON.stringify({ sampling_interval_seconds: 0 }),
  });
  assert.equal(refused.status, 422);
  const [message] = (await refused.json()).problems;
  await page.fill("#config-sampling_interval_seconds", "0");
  await page.click("#config-form button[type=submit]");
  await page.waitForFunction(() => document.getElementById("config-result").textContent.startsWith("not saved"));
  assert.equal(await page.textContent("[data-problem='sampling_interval_seconds']"), message);
  const refusals = errors.filter((e) => e.includes("status of 422"));
  assert.equal(refusals.length, 1, "the browser logs the one refused PUT");
  errors.splice(errors.indexOf(refusals[0]), 1);
  assert.ok((await page.textContent("#config-result")).includes(message));
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(home, "config.json"), "utf8")), saved, "a refused change leaves config.json alone");
  await page.fill("#config-sampling_interval_seconds", String(saved.sampling_interval_seconds));
  await screenshot("config");

  // Purge the history before a date, after confirming.
  const before = isoDate(daysAgo(10));
  await page.check("input[name=purge-what][value=before]");
  await page.fill("#purge-before", before);
  await page.click("#purge-form button[type=submit]");
  assert.match(await page.textContent("#purge-question"), new RegExp(`before ${before}`));
  await page.click("#purge-no");
  assert.equal(await page.isVisible("#purge-confirm"), false, "cancel deletes nothing");
  const kept = await (await fetch(`${ORIGIN}/api/heatmap?start_ms=0&end_ms=${Date.now()}`)).json();
  assert.equal(sum(kept.bytes.flat()) >= expected.historyTotal, true);
  await page.click("#purge-form button[type=submit]");
  await page.click("#purge-yes");
  await page.waitForFunction(() => /^deleted \d/.test(document.getElementById("purge-result").textContent));
  const cutoff = daysAgo(10).getTime();
  const older = await (await fetch(`${ORIGIN}/api/heatmap?start_ms=0&end_ms=${cutoff}`)).json();
  assert.equal(sum(older.bytes.flat()), 0, "nothing before the date is left");
  const newer = await (await fetch(`${ORIGIN}/api/heatmap?start_ms=${cutoff}&end_ms=${Date.now()}`)).json();
  assert.ok(sum(newer.bytes.flat()) > 0, "the days after it are kept");
});

test("alerts & budgets: create a budget, see its progress, an alert appears live, delete it", async () => {
  await open("overview?range=24h");
  assert.ok((await page.$$("#unusual li")).length >= 1, "the unusual-now strip says something");
  await open("alerts");
  const budgets = async () => (await fetch(`${ORIGIN}/api/budgets`)).json();
  assert.deepEqual((await budgets()).map((b) => [b.scope, b.period, b.limit_bytes]), [["all", "day", 10e9]], "high_usage_threshold_gb became a daily budget");

  // A budget on this test's own downloads (node), far from its limit: its progress is shown.
  const addBudget = async (limitGb) => {
    await page.selectOption("#budget-scope", "app");
    await page.fill("#budget-name", "node");
    await page.selectOption("#budget-period", "day");
    await page.fill("#budget-limit", String(limitGb));
    await page.click("#budget-submit");
    await page.waitForFunction(() => document.getElementById("budget-result").textContent === "budget added");
    return (await budgets()).at(-1);
  };
  const roomy = await addBudget(1000);
  const row = `#budget-list li[data-id='${roomy.id}']`;
  assert.match(await page.textContent(`${row} .budget-numbers`), new RegExp(`${fmt.bytes(roomy.progress.used_bytes).replace(".", "\\.")} of 1\\.0 TB`));
  const bar = await page.$eval(`${row} .bar`, (element) => element.outerHTML);
  assert.match(bar, new RegExp(`aria-valuenow="${Math.round(roomy.progress.percent)}"`), bar);

  // One whose limit is 3 MB above what node used today: downloading crosses 80 %, live.
  const tight = await addBudget((roomy.progress.used_bytes + 3e6) / 1e9);
  const raised = page.waitForFunction((id) => [...document.querySelectorAll("#alert-table tbody td")].some((cell) => cell.textContent.startsWith("node has used")), tight.id, { timeout: 40_000 });
  await downloadWhile(raised);
  // (node, new here, may also raise a new-application alert: its 100 MB first hour.)
  const recent = await (await fetch(`${ORIGIN}/api/alerts?limit=20`)).json();
  const levels = recent.filter((a) => a.kind === "budget" && a.budget_id === tight.id).map((a) => a.level);
  assert.ok(levels.includes(80), `the tight budget's 80 % alert: ${JSON.stringify(recent)}`);
  await screenshot("alerts");

  // Both deleted from the page.
  for (const budget of [roomy, tight]) {
    await page.click(`#budget-list button[data-action=delete][data-id='${budget.id}']`);
    await page.waitForSelector(`#budget-list li[data-id='${budget.id}']`, { state: "detached" });
  }
  assert.deepEqual((await budgets()).map((b) => b.id).filter((id) => id === roomy.id || id === tight.id), []);

  // An invalid budget: the server's problem is shown, nothing is added.
  await page.selectOption("#budget-scope", "app");
  await page.fill("#budget-name", "");
  await page.fill("#budget-limit", "1");
  await page.click("#budget-submit");
  await page.waitForFunction(() => document.getElementById("budget-result").className === "bad");
  assert.match(await page.textContent("#budget-result"), /needs its name/);
  assert.equal((await budgets()).length, 1);
  const refusals = errors.filter((e) => e.includes("status of 422"));
  refusals.forEach((refusal) => errors.splice(errors.indexOf(refusal), 1));
});

test("nothing leaves this machine and no page logged an error", () => {
  assert.deepEqual(foreign, [], "the dashboard loads nothing from outside this machine");
  assert.deepEqual(errors, [], "no errors in the page");
});
