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
const os = require("node:os");
const path = require("node:path");
const { ROOT, REPORT_WAIT_MS, HOSTNAMES, sleep, which, firefoxBinary, waitFor, startLab, assertReports } = require("./support.js");

const NETMON_PORT = 7611;

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
  const { netmonGet, bodies, pagePort, spawnKept, cleanups } = await startLab(t, NETMON_PORT);

  const driverPort = 4444 + (process.pid % 1000);
  const geckodriver = which("geckodriver", [path.join(os.homedir(), ".cargo/bin")]);
  spawnKept(geckodriver, ["--port", String(driverPort)]);
  await waitFor("geckodriver", async () => (await fetch(`http://127.0.0.1:${driverPort}/status`)).ok);
  const browser = webdriver(driverPort);
  await browser.start({
    browserName: "firefox",
    "moz:firefoxOptions": {
      binary: firefoxBinary(),
      args: ["-headless"],
      prefs: {
        "network.dns.localDomains": HOSTNAMES.join(","),
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

  assertReports({ onBeta, view, bodies, browser: "zen" });
});
