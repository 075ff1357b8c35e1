"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const logic = require("../logic.js");

test("hostnames only, never paths or queries", () => {
  assert.equal(logic.hostnameOf("https://API.Netflix.com/watch/123?t=9#x"), "api.netflix.com");
  assert.equal(logic.hostnameOf("http://user:pw@example.org:8080/a"), "example.org");
  assert.equal(logic.hostnameOf("wss://live.example.com/socket"), "live.example.com");
  assert.equal(logic.hostnameOf("https://example.com./"), "example.com");
});

test("addresses are not hostnames and are not reported", () => {
  for (const url of ["http://[2001:db8::1]/", "http://192.168.1.1/admin", "https://10.0.0.1.:8443/", "http://127.1/"]) {
    assert.equal(logic.hostnameOf(url), null, url);
    assert.equal(logic.activeTabPayload(url, "zen", 0), null, url);
  }
  assert.equal(logic.hostnameOf("https://1password.com/"), "1password.com");
  assert.equal(logic.hostnameOf("https://a.b2/"), "a.b2");
});

test("internal pages are not reported", () => {
  for (const url of ["about:blank", "about:preferences", "moz-extension://abc/options.html", "file:///etc/passwd", "data:text/plain,hi", "view-source:https://a.com", "", null, undefined, "not a url"]) {
    assert.equal(logic.hostnameOf(url), null, String(url));
    assert.equal(logic.activeTabPayload(url, "zen", 0), null, String(url));
  }
});

test("the active-tab payload is the spec's", () => {
  assert.deepEqual(logic.activeTabPayload("https://www.netflix.com/browse", "zen", 1699123456789), {
    domain: "www.netflix.com",
    timestamp: 1699123456,
    browser: "zen",
  });
});

test("requests are tallied per hostname and forgotten after a drain", () => {
  const tally = logic.createTally();
  tally.add({ url: "https://a.example/x?secret=1", ip: "192.0.2.1", requestSize: 100, responseSize: 5000 });
  tally.add({ url: "https://a.example/y", ip: "192.0.2.2", requestSize: 50, responseSize: 1000 });
  tally.add({ url: "https://b.example/", responseSize: -3 });
  tally.add({ url: "about:blank", requestSize: 10 });
  const report = tally.drain();
  assert.deepEqual(report, [
    { hostname: "a.example", requests: 2, bytes_sent: 150, bytes_received: 6000, remote_ip: "192.0.2.2" },
    { hostname: "b.example", requests: 1, bytes_sent: 0, bytes_received: 0 },
  ]);
  assert.ok(!JSON.stringify(report).includes("secret"), "no query string leaves the tally");
  assert.deepEqual(tally.drain(), []);
});

test("the tally is bounded", () => {
  const tally = logic.createTally(3);
  for (let i = 0; i < 10; i += 1) tally.add({ url: `https://h${i}.example/` });
  tally.add({ url: "https://h0.example/" });
  const report = tally.drain();
  assert.equal(report.length, 3);
  assert.equal(report[0].requests, 2, "known hosts keep counting past the bound");
});

test("retries back off from 5 s to 5 min", () => {
  assert.deepEqual([0, 1, 2, 3, 7, 8, 20].map(logic.retryDelay), [0, 5000, 10000, 20000, 300000, 300000, 300000]);
});

test("ports are netmon's", () => {
  assert.equal(logic.validPort("7600"), 7600);
  assert.equal(logic.validPort(80), 7500);
  assert.equal(logic.validPort(undefined), 7500);
  assert.equal(logic.validPort("x", null), null);
});

test("Chromium's completed requests count their Content-Length, having no sizes", () => {
  const tally = logic.createTally();
  const headers = (value) => [{ name: "Date", value: "x" }, { name: "content-length", value }];
  tally.add({ url: "https://c.example/a", ip: "192.0.2.3", responseHeaders: headers("4096") });
  tally.add({ url: "https://c.example/b", responseHeaders: headers("-5") });
  tally.add({ url: "https://c.example/c", responseHeaders: headers("12abc") });
  tally.add({ url: "https://c.example/d" });
  tally.add({ url: "https://c.example/e", responseSize: 10, responseHeaders: headers("999") });
  assert.deepEqual(tally.drain(), [
    { hostname: "c.example", requests: 5, bytes_sent: 0, bytes_received: 4106, remote_ip: "192.0.2.3" },
  ]);
});

test("Chromium-family browsers are named by their brand", () => {
  const brands = (...names) => names.map((brand) => ({ brand, version: "130" }));
  assert.equal(logic.chromiumBrowserName(brands("Not?A_Brand", "Chromium", "Google Chrome")), "chrome");
  assert.equal(logic.chromiumBrowserName(brands("Microsoft Edge", "Chromium")), "edge");
  assert.equal(logic.chromiumBrowserName(brands("Brave", "Chromium")), "brave");
  assert.equal(logic.chromiumBrowserName(brands("Chromium", "Not=A?Brand")), "chromium");
  assert.equal(logic.chromiumBrowserName(undefined), "chromium");
  assert.equal(logic.chromiumBrowserName([null, 3]), "chromium");
});

test("the extension's own requests (its reports to netmon) are not counted", () => {
  const own = "chrome-extension://abcdefghijklmnopabcdefghijklmnop/";
  const tally = logic.createTally();
  tally.add({ url: "http://127.0.0.1:7500/api/browser/requests", initiator: "chrome-extension://abcdefghijklmnopabcdefghijklmnop" }, own);
  tally.add({ url: "http://127.0.0.1:7500/api/x", originUrl: "moz-extension://f00/_generated_background_page.html" }, "moz-extension://f00/");
  tally.add({ url: "https://site.example/", initiator: "chrome-extension://otherotherotherotherotherotherot" }, own);
  tally.add({ url: "https://page.example/", initiator: "https://page.example" }, own);
  tally.add({ url: "https://nobody.example/" }, own);
  assert.deepEqual(tally.drain().map((h) => h.hostname), ["site.example", "page.example", "nobody.example"]);
});
