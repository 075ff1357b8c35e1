/*
 * netmon extension: watches the active tab and completed requests, reports every 5 s.
 * Stores nothing: tallies live in memory until the next report and are then forgotten.
 */
"use strict";

/* global browser, NetmonLogic, NetmonApi */
const REPORT_INTERVAL_MS = 5000;
const BROWSER_NAME = "zen";

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
    const [tab] = await browser.tabs.query({ active: true, lastFocusedWindow: true });
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

browser.tabs.onActivated.addListener(onActiveChange);
browser.tabs.onUpdated.addListener((_tabId, change, tab) => {
  if (tab.active && change.url !== undefined) onActiveChange();
});
browser.windows.onFocusChanged.addListener((windowId) => {
  if (windowId === browser.windows.WINDOW_ID_NONE) {
    activeUrl = null;
  } else {
    onActiveChange();
  }
});
browser.idle.onStateChanged.addListener((state) => {
  userIdle = state !== "active";
  if (!userIdle) onActiveChange();
});
browser.webRequest.onCompleted.addListener((details) => tally.add(details), { urls: ["<all_urls>"] });

browser.storage.local.get("port").then(({ port }) => reporter.setPort(port));
browser.storage.onChanged.addListener((changes) => {
  if (changes.port) reporter.setPort(changes.port.newValue);
});

setInterval(() => {
  reportActiveTab();
  reportRequests();
}, REPORT_INTERVAL_MS);
onActiveChange();
