/*
 * netmon extension: watches the active tab and completed requests, reports every 5 s.
 * Stores nothing: tallies live in memory until the next report and are then forgotten.
 * The same file runs as Firefox's background script (`browser`) and as the Chromium
 * service worker's (`chrome`, loaded by service-worker.js).
 */
"use strict";

/* global browser, chrome, navigator, NetmonLogic, NetmonApi */
const ext = typeof browser !== "undefined" ? browser : chrome;
const REPORT_INTERVAL_MS = 5000;
/** This extension's own pages and worker (moz-extension://ID/ or chrome-extension://ID/). */
const OWN_ORIGIN = ext.runtime.getURL("");
/** Firefox builds report as Zen; Chromium-family ones by their brand (chrome, edge, brave…). */
const BROWSER_NAME = OWN_ORIGIN.startsWith("chrome-extension:") ? NetmonLogic.chromiumBrowserName(navigator.userAgentData?.brands) : "zen";

const tally = NetmonLogic.createTally();
const reporter = NetmonApi.createReporter({
  port: 7500,
  fetchImpl: (url, init) => fetch(url, init),
  now: () => Date.now(),
  log: (message) => console.info(`netmon: ${message}`),
});

let activeUrl = null;
let userIdle = false;

async function refreshActiveTab() {
  try {
    const [tab] = await ext.tabs.query({ active: true, lastFocusedWindow: true });
    activeUrl = tab ? tab.url : null;
  } catch (_) {
    activeUrl = null;
  }
}

async function reportActiveTab() {
  if (userIdle) return;
  const payload = NetmonLogic.activeTabPayload(activeUrl, BROWSER_NAME, Date.now());
  if (payload !== null) await reporter.post("/browser/active-tab", payload);
}

async function reportRequests() {
  const hosts = tally.drain();
  if (hosts.length === 0) return;
  await reporter.post("/browser/requests", {
    browser: BROWSER_NAME,
    timestamp: Math.floor(Date.now() / 1000),
    hosts,
  });
}

async function onActiveChange() {
  await refreshActiveTab();
  await reportActiveTab();
}

ext.tabs.onActivated.addListener(onActiveChange);
ext.tabs.onUpdated.addListener((_tabId, change, tab) => {
  if (tab.active && change.url !== undefined) onActiveChange();
});
ext.windows.onFocusChanged.addListener((windowId) => {
  if (windowId === ext.windows.WINDOW_ID_NONE) {
    activeUrl = null;
  } else {
    onActiveChange();
  }
});
ext.idle.onStateChanged.addListener((state) => {
  userIdle = state !== "active";
  if (!userIdle) onActiveChange();
});
// Chromium reports no sizes: its completed requests carry their headers (Content-Length) instead.
ext.webRequest.onCompleted.addListener((details) => tally.add(details, OWN_ORIGIN), { urls: ["<all_urls>"] }, ["responseHeaders"]);

ext.storage.local.get("port").then(({ port }) => reporter.setPort(port));
ext.storage.onChanged.addListener((changes) => {
  if (changes.port) reporter.setPort(changes.port.newValue);
});

function tick() {
  reportActiveTab();
  reportRequests();
}

setInterval(tick, REPORT_INTERVAL_MS);
// Chromium stops its service worker after 30 s without browser events (tallies were sent by
// then); an alarm (Chromium build only) starts it again, which re-reads the active tab.
if (ext.alarms) {
  ext.alarms.create("netmon-report", { periodInMinutes: 0.5 });
  ext.alarms.onAlarm.addListener(onActiveChange);
}
onActiveChange();
