"use strict";
/*
 * End to end in a real browser: Debian's Chromium (new headless) with the Manifest V3 build of
 * the extension loaded unpacked (extension/build.js stages it), driven by playwright-core;
 * `netmon run` (the real server) receives the reports through a recording proxy, so the test
 * sees every request body the extension's service worker sent.
 *
 * Pages are served under two hostnames, alpha.test and beta.test, which Chromium resolves to
 * this machine (--host-resolver-rules). Needs root (netmon captures), chromium, and a built
 * target/debug/netmon.
 */

const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { chromium } = require("playwright-core");
const { stage } = require("../build.js");
const { REPORT_WAIT_MS, HOSTNAMES, sleep, chromiumBinary, startLab, assertReports } = require("./support.js");

const NETMON_PORT = 7612;

test("Chromium with the MV3 extension reports hostnames, and only hostnames, to netmon", { timeout: 180_000 }, async (t) => {
  const { netmonGet, bodies, pagePort, cleanups } = await startLab(t, NETMON_PORT);

  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "netmon-chromium-"));
  cleanups.push(() => fs.rmSync(scratch, { recursive: true, force: true }));
  const extension = stage("chromium", path.join(scratch, "extension"));
  const context = await chromium.launchPersistentContext(path.join(scratch, "profile"), {
    executablePath: chromiumBinary(),
    headless: true,
    args: [
      `--disable-extensions-except=${extension}`,
      `--load-extension=${extension}`,
      // Chromium 137+ ignores --load-extension unless this feature is off.
      "--disable-features=DisableLoadExtensionCommandLineSwitch",
      `--host-resolver-rules=${HOSTNAMES.map((host) => `MAP ${host} 127.0.0.1`).join(", ")}`,
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  cleanups.push(() => context.close());
  const worker = context.serviceWorkers()[0] ?? (await context.waitForEvent("serviceworker", { timeout: 15_000 }));
  assert.match(worker.url(), /^chrome-extension:\/\/[a-p]{32}\/service-worker\.js$/);

  const first = context.pages()[0] ?? (await context.newPage());
  await first.goto(`http://alpha.test:${pagePort}/articles/one?secret=alpha-token`);
  await sleep(REPORT_WAIT_MS);
  const second = await context.newPage();
  await second.bringToFront();
  await second.goto(`http://beta.test:${pagePort}/videos/two?secret=beta-token#frag`);
  await sleep(REPORT_WAIT_MS);
  const onBeta = await netmonGet("/browser");
  await first.bringToFront();
  await first.goto(`http://alpha.test:${pagePort}/articles/three`);
  await sleep(REPORT_WAIT_MS);
  const view = await netmonGet("/browser");

  assertReports({ onBeta, view, bodies, browser: "chromium" });
});
