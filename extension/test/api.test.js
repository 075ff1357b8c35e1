"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const http = require("node:http");
const { createReporter } = require("../api.js");

function clock(start = 1000) {
  let now = start;
  return { now: () => now, advance: (ms) => { now += ms; } };
}

test("posts JSON to the local API", async () => {
  const received = [];
  const server = http.createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => { body += chunk; });
    request.on("end", () => {
      received.push({ url: request.url, type: request.headers["content-type"], body: JSON.parse(body) });
      response.writeHead(202).end();
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  const reporter = createReporter({ port: 7500, fetchImpl: (url, init) => fetch(url.replace(":7500", `:${port}`), init), now: Date.now, log: () => {} });
  assert.equal(await reporter.post("/browser/active-tab", { domain: "netflix.com", timestamp: 1, browser: "zen" }), true);
  server.close();
  assert.deepEqual(received, [{ url: "/api/browser/active-tab", type: "application/json", body: { domain: "netflix.com", timestamp: 1, browser: "zen" } }]);
});

test("backs off while netmon is down, quietly, and resumes", async () => {
  const time = clock();
  const messages = [];
  let up = false;
  let calls = 0;
  const fetchImpl = async () => {
    calls += 1;
    if (!up) throw new TypeError("connection refused");
    return { ok: true, status: 202 };
  };
  const reporter = createReporter({ port: 7500, fetchImpl, now: time.now, log: (m) => messages.push(m) });
  assert.equal(await reporter.post("/x", {}), false);
  assert.equal(await reporter.post("/x", {}), false, "within the backoff nothing is sent");
  assert.equal(calls, 1);
  time.advance(5000);
  assert.equal(await reporter.post("/x", {}), false);
  assert.equal(calls, 2);
  time.advance(5000);
  assert.equal(await reporter.post("/x", {}), false, "the second wait is 10 s");
  assert.equal(calls, 2);
  time.advance(5000);
  up = true;
  assert.equal(await reporter.post("/x", {}), true);
  assert.equal(reporter.failures, 0);
  assert.equal(messages.length, 2, `one message down, one up: ${messages}`);
});

test("a refused report is not retried and does not count as netmon down", async () => {
  const reporter = createReporter({ port: 7500, fetchImpl: async () => ({ ok: false, status: 400 }), now: () => 0, log: () => {} });
  assert.equal(await reporter.post("/x", {}), false);
  assert.equal(reporter.failures, 0);
});
