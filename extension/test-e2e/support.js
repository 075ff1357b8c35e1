"use strict";
/*
 * What the real-browser tests share (firefox.test.js, chromium.test.js): a real `netmon run`
 * behind a recording proxy on the extension's default port, a page server answering for the
 * test's two hostnames, and the checks of what netmon received and what the bodies carried.
 */

const assert = require("node:assert/strict");
const http = require("node:http");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { spawn } = require("node:child_process");

const ROOT = path.resolve(__dirname, "../..");
/** The extension's default port: the proxy takes it, netmon listens behind it. */
const PROXY_PORT = 7500;
const PAGE_BYTES = 200_000;
/** Longer than the extension's 5 s report interval. */
const REPORT_WAIT_MS = 6500;
const HOSTNAMES = ["alpha.test", "beta.test"];

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function which(program, extra = []) {
  const dirs = [...(process.env.PATH || "").split(":"), ...extra];
  const found = dirs.map((dir) => path.join(dir, program)).find((file) => fs.existsSync(file));
  if (!found) throw new Error(`${program} is not installed (scripts/test.sh installs it)`);
  return found;
}

/**
 * The browsers scripts/deps.sh installs: Debian's firefox-esr and chromium, or on Ubuntu (no
 * firefox-esr, snap-only chromium) Mozilla's firefox deb and playwright-core's Chromium.
 */
function firefoxBinary() {
  try {
    return which("firefox-esr");
  } catch (_) {
    return which("firefox");
  }
}

function chromiumBinary() {
  const system = "/usr/bin/chromium";
  if (fs.existsSync(system)) return system;
  const downloaded = require("playwright-core").chromium.executablePath();
  if (fs.existsSync(downloaded)) return downloaded;
  throw new Error(`neither ${system} nor ${downloaded} exists (scripts/test.sh installs Chromium)`);
}

async function waitFor(what, check, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (_) {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

/** Serves a page of PAGE_BYTES for every path, on every address of this machine. */
async function pageServer() {
  const body = `<!DOCTYPE html><title>page</title><p>${"x".repeat(PAGE_BYTES)}</p>`;
  const server = http.createServer((request, response) => {
    response.writeHead(200, { "Content-Type": "text/html", "Content-Length": Buffer.byteLength(body) });
    response.end(body);
  });
  await new Promise((resolve) => server.listen(0, resolve));
  return server;
}

/** Forwards to netmon on `netmonPort`, keeping each request body for the test. */
async function recordingProxy(netmonPort, bodies) {
  const server = http.createServer((request, response) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      const body = Buffer.concat(chunks);
      bodies.push({ path: request.url, body: body.toString("utf8") });
      const headers = { ...request.headers, host: `127.0.0.1:${netmonPort}` };
      const upstream = http.request({ host: "127.0.0.1", port: netmonPort, path: request.url, method: request.method, headers }, (reply) => {
        response.writeHead(reply.statusCode, reply.headers);
        reply.pipe(response);
      });
      upstream.on("error", () => response.writeHead(502).end());
      upstream.end(body);
    });
  });
  await new Promise((resolve) => server.listen(PROXY_PORT, "127.0.0.1", resolve));
  return server;
}

/**
 * Starts what every browser test needs, registering its cleanups on the test context `t`:
 * netmon (API on `netmonPort`), the recording proxy and the page server. Returns
 * `{ netmonGet, bodies, pagePort, spawnKept, cleanups }`.
 */
async function startLab(t, netmonPort) {
  const cleanups = [];
  t.after(async () => {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (_) {
        /* keep cleaning */
      }
    }
  });
  const spawnKept = (program, args, options = {}) => {
    const child = spawn(program, args, { stdio: ["ignore", "ignore", "pipe"], ...options });
    let stderr = "";
    child.stderr.on("data", (chunk) => { stderr += chunk; });
    cleanups.push(() => child.kill("SIGTERM"));
    return { child, stderr: () => stderr };
  };
  const netmonGet = async (apiPath) => {
    const response = await fetch(`http://127.0.0.1:${netmonPort}/api${apiPath}`);
    if (!response.ok) throw new Error(`${apiPath}: HTTP ${response.status}`);
    return response.json();
  };

  const home = fs.mkdtempSync(path.join(os.tmpdir(), "netmon-ext-"));
  cleanups.push(() => fs.rmSync(home, { recursive: true, force: true }));
  fs.writeFileSync(path.join(home, "config.json"), JSON.stringify({ web_server_port: netmonPort }));
  const netmon = spawnKept(path.join(ROOT, "target/debug/netmon"), ["run", "--interval", "1"], { env: { ...process.env, NETMON_HOME: home } });
  await waitFor("netmon's API", () => netmonGet("/status")).catch((error) => {
    throw new Error(`${error.message}; netmon said: ${netmon.stderr()}`);
  });

  const bodies = [];
  const proxy = await recordingProxy(netmonPort, bodies).catch((error) => {
    throw new Error(`port ${PROXY_PORT} (the extension's default) must be free for this test: ${error.message}`);
  });
  cleanups.push(() => proxy.close());
  const pages = await pageServer();
  cleanups.push(() => pages.close());
  return { netmonGet, bodies, pagePort: pages.address().port, spawnKept, cleanups };
}

/**
 * The checks both browsers must pass: `onBeta` is GET /api/browser after the second tab opened
 * beta.test, `view` after switching back to alpha.test; `bodies` what the proxy recorded.
 */
function assertReports({ onBeta, view, bodies, browser }) {
  assert.equal(onBeta.active_tab?.domain, "beta.test", `after opening beta: ${JSON.stringify(onBeta)}`);
  assert.equal(view.active_tab?.domain, "alpha.test", `after switching back: ${JSON.stringify(view)}`);
  assert.equal(view.active_tab.browser, browser);
  for (const hostname of HOSTNAMES) {
    const host = view.hosts.find((h) => h.hostname === hostname);
    assert.ok(host, `${hostname} missing from ${JSON.stringify(view.hosts)}`);
    assert.ok(host.requests >= 1, JSON.stringify(host));
    assert.ok(host.bytes_received >= PAGE_BYTES, `${hostname} received ${host.bytes_received} bytes`);
    assert.match(host.remote_ip ?? "", /^(127\.0\.0\.1|::1)$/, `${hostname}: the server IP the browser used`);
  }
  const own = view.hosts.find((h) => h.hostname === "127.0.0.1");
  assert.equal(own, undefined, "the extension's own reports to netmon are not counted as browsing");
  assert.equal(view.reports_rejected, 0, "netmon refused none of the extension's reports");
  assert.ok(view.reports_accepted >= 4, JSON.stringify(view));

  assert.ok(bodies.length >= 4, `${bodies.length} reports recorded`);
  for (const { path: apiPath, body } of bodies) {
    assert.match(apiPath, /^\/api\/browser\/(active-tab|requests)$/);
    for (const leak of ["secret", "token", "articles", "videos", "http", "/", "#", "?"]) {
      assert.ok(!body.includes(leak), `${apiPath} body carries ${JSON.stringify(leak)}: ${body}`);
    }
  }
}

module.exports = { ROOT, REPORT_WAIT_MS, HOSTNAMES, sleep, which, firefoxBinary, chromiumBinary, waitFor, startLab, assertReports };
