"use strict";
/*
 * End to end in a real browser: Firefox ESR (headless) with the extension installed as a
 * temporary add-on, driven through geckodriver; `netmon run` (the real server) receives the
 * reports through a recording proxy, so the test sees every request body the extension sent.
 *
 * Pages are served under two hostnames, alpha.test and beta.test, which Firefox resolves to
 * this machine (network.dns.localDomains). Needs root (netmon captures), firefox-esr,
 * geckodriver, and a built target/debug/netmon.
 */

const test = require("node:test");
const assert = require("node:assert/strict");
const http = require("node:http");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { spawn } = require("node:child_process");

const ROOT = path.resolve(__dirname, "../..");
/** The extension's default port: the proxy takes it, netmon listens behind it. */
const PROXY_PORT = 7500;
const NETMON_PORT = 7611;
const PAGE_BYTES = 200_000;
const REPORT_WAIT_MS = 6500;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function which(program, extra = []) {
  const dirs = [...(process.env.PATH || "").split(":"), ...extra];
  const found = dirs.map((dir) => path.join(dir, program)).find((file) => fs.existsSync(file));
  if (!found) throw new Error(`${program} is not installed (.ci/run installs it)`);
  return found;
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

/** Forwards to netmon, keeping each request body for the test. */
async function recordingProxy(bodies) {
  const server = http.createServer((request, response) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      const body = Buffer.concat(chunks);
      bodies.push({ path: request.url, body: body.toString("utf8") });
      const headers = { ...request.headers, host: `127.0.0.1:${NETMON_PORT}` };
      const upstream = http.request({ host: "127.0.0.1", port: NETMON_PORT, path: request.url, method: request.method, headers }, (reply) => {
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

async function netmonGet(apiPath) {
  const response = await fetch(`http://127.0.0.1:${NETMON_PORT}/api${apiPath}`);
  if (!response.ok) throw new Error(`${apiPath}: HTTP ${response.status}`);
  return response.json();
}

/** A minimal W3C WebDriver client over geckodriver's HTTP API. */
function webdriver(port) {
  let session = null;
  async function call(method, route, body) {
    const base = route === "/session" ? "" : `/session/${session}`;
    const url = `http://127.0.0.1:${port}${base}${route}`;
    const response = await fetch(url, {
      method,
      headers: { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await response.json();
    if (!response.ok) throw new Error(`${method} ${route}: ${JSON.stringify(json.value)}`);
    return json.value;
  }
  return {
    async start(capabilities) {
      const value = await call("POST", "/session", { capabilities: { alwaysMatch: capabilities } });
      session = value.sessionId;
    },
    go: (url) => call("POST", "/url", { url }),
    installAddon: (dir) => call("POST", "/moz/addon/install", { path: dir, temporary: true }),
    newTab: async () => (await call("POST", "/window/new", { type: "tab" })).handle,
    handle: () => call("GET", "/window"),
    switchTo: (handle) => call("POST", "/window", { handle }),
    quit: () => call("DELETE", ""),
  };
}

test("Firefox with the extension reports hostnames, and only hostnames, to netmon", { timeout: 180_000 }, async (t) => {
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

  const home = fs.mkdtempSync(path.join(os.tmpdir(), "netmon-ffx-"));
  cleanups.push(() => fs.rmSync(home, { recursive: true, force: true }));
  fs.writeFileSync(path.join(home, "config.json"), JSON.stringify({ web_server_port: NETMON_PORT }));
  const netmon = spawnKept(path.join(ROOT, "target/debug/netmon"), ["run", "--interval", "1"], { env: { ...process.env, NETMON_HOME: home } });
  await waitFor("netmon's API", () => netmonGet("/status")).catch((error) => {
    throw new Error(`${error.message}; netmon said: ${netmon.stderr()}`);
  });

  const bodies = [];
  const proxy = await recordingProxy(bodies).catch((error) => {
    throw new Error(`port ${PROXY_PORT} (the extension's default) must be free for this test: ${error.message}`);
  });
  cleanups.push(() => proxy.close());
  const pages = await pageServer();
  cleanups.push(() => pages.close());
  const pagePort = pages.address().port;

  const driverPort = 4444 + (process.pid % 1000);
  const geckodriver = which("geckodriver", [path.join(os.homedir(), ".cargo/bin")]);
  spawnKept(geckodriver, ["--port", String(driverPort)]);
  await waitFor("geckodriver", async () => (await fetch(`http://127.0.0.1:${driverPort}/status`)).ok);
  const browser = webdriver(driverPort);
  await browser.start({
    browserName: "firefox",
    "moz:firefoxOptions": {
      binary: which("firefox-esr"),
      args: ["-headless"],
      prefs: {
        "network.dns.localDomains": "alpha.test,beta.test",
        "network.trr.mode": 5,
        "network.proxy.type": 0,
      },
    },
  });
  cleanups.push(() => browser.quit());
  await browser.installAddon(path.join(ROOT, "extension"));

  const first = await browser.handle();
  await browser.go(`http://alpha.test:${pagePort}/articles/one?secret=alpha-token`);
  await sleep(REPORT_WAIT_MS);
  const second = await browser.newTab();
  await browser.switchTo(second);
  await browser.go(`http://beta.test:${pagePort}/videos/two?secret=beta-token#frag`);
  await sleep(REPORT_WAIT_MS);
  const onBeta = await netmonGet("/browser");
  await browser.switchTo(first);
  await browser.go(`http://alpha.test:${pagePort}/articles/three`);
  await sleep(REPORT_WAIT_MS);
  const view = await netmonGet("/browser");

  assert.equal(onBeta.active_tab?.domain, "beta.test", `after opening beta: ${JSON.stringify(onBeta)}`);
  assert.equal(view.active_tab?.domain, "alpha.test", `after switching back: ${JSON.stringify(view)}`);
  assert.equal(view.active_tab.browser, "zen");
  for (const hostname of ["alpha.test", "beta.test"]) {
    const host = view.hosts.find((h) => h.hostname === hostname);
    assert.ok(host, `${hostname} missing from ${JSON.stringify(view.hosts)}`);
    assert.ok(host.requests >= 1, JSON.stringify(host));
    assert.ok(host.bytes_received >= PAGE_BYTES, `${hostname} received ${host.bytes_received} bytes`);
  }
  assert.equal(view.reports_rejected, 0, "netmon refused none of the extension's reports");
  assert.ok(view.reports_accepted >= 4, JSON.stringify(view));

  assert.ok(bodies.length >= 4, `${bodies.length} reports recorded`);
  for (const { path: apiPath, body } of bodies) {
    assert.match(apiPath, /^\/api\/browser\/(active-tab|requests)$/);
    for (const leak of ["secret", "token", "articles", "videos", "http", "/", "#", "?"]) {
      assert.ok(!body.includes(leak), `${apiPath} body carries ${JSON.stringify(leak)}: ${body}`);
    }
  }
});
