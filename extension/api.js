/*
 * netmon extension: talks to the local netmon API (http://127.0.0.1:PORT/api).
 * When netmon is down it backs off (5 s doubling to 5 min) and drops what it cannot send:
 * no queue grows, and the console hears once when netmon goes away and once when it returns.
 */
"use strict";

/* global NetmonLogic */
const NetmonApi = (() => {
  const logic = typeof NetmonLogic !== "undefined" ? NetmonLogic : require("./logic.js");

  function createReporter({ port, fetchImpl, now, log }) {
    let currentPort = logic.validPort(port);
    let failures = 0;
    let retryAt = 0;

    async function post(path, body) {
      if (now() < retryAt) return false;
      try {
        const response = await fetchImpl(`http://127.0.0.1:${currentPort}/api${path}`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify(body),
        });
        if (!response.ok) {
          log(`netmon refused ${path}: HTTP ${response.status}`);
          return false;
        }
        if (failures > 0) log(`netmon is reachable again on port ${currentPort}`);
        failures = 0;
        retryAt = 0;
        return true;
      } catch (_) {
        if (failures === 0) log(`netmon is not reachable on port ${currentPort}; retrying with backoff`);
        failures += 1;
        retryAt = now() + logic.retryDelay(failures);
        return false;
      }
    }

    return {
      post,
      setPort(port) {
        currentPort = logic.validPort(port);
        failures = 0;
        retryAt = 0;
      },
      get failures() {
        return failures;
      },
    };
  }

  return { createReporter };
})();

if (typeof module !== "undefined") module.exports = NetmonApi;
