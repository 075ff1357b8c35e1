/*
 * netmon extension: pure logic (no browser APIs), shared by background.js and the tests.
 * Only hostnames leave this file: never URLs, paths, queries or titles.
 */
"use strict";

const NetmonLogic = (() => {
  /** Schemes whose pages are on the network; everything else (about:, file:, moz-extension:) is not reported. */
  const WEB_SCHEMES = new Set(["http:", "https:", "ws:", "wss:"]);
  /** Most hostnames kept between two reports. */
  const MAX_HOSTS = 1000;
  /** First retry delay and the longest one, in milliseconds. */
  const FIRST_RETRY_MS = 5000;
  const MAX_RETRY_MS = 5 * 60 * 1000;

  /**
   * The hostname of a web URL, lower case, or null for internal pages, non-URLs and addresses
   * (`http://192.168.1.1/`, `http://[2001:db8::1]/`): an IP address is not a hostname, and
   * netmon refuses a report that gives one (netmon-core's one hostname rule).
   */
  function hostnameOf(url) {
    if (typeof url !== "string") return null;
    let parsed;
    try {
      parsed = new URL(url);
    } catch (_) {
      return null;
    }
    if (!WEB_SCHEMES.has(parsed.protocol) || parsed.hostname === "") return null;
    const hostname = parsed.hostname.toLowerCase().replace(/\.$/, "");
    return isAddress(hostname) ? null : hostname;
  }

  /** An IPv6 literal (URL keeps its brackets) or a name whose last label is all digits (IPv4). */
  function isAddress(hostname) {
    return hostname.startsWith("[") || /(^|\.)\d+$/.test(hostname);
  }

  /** The spec's active-tab payload, or null when no web page is active. */
  function activeTabPayload(url, browser, nowMs) {
    const domain = hostnameOf(url);
    if (domain === null) return null;
    return { domain, timestamp: Math.floor(nowMs / 1000), browser };
  }

  /** Per-hostname tallies of completed requests, emptied by every drain. */
  function createTally(maxHosts = MAX_HOSTS) {
    let hosts = new Map();
    return {
      /**
       * Counts one completed request (a webRequest onCompleted details object), unless the
       * extension at `ownOrigin` made it (its own reports to netmon are not browsing).
       */
      add(details, ownOrigin = null) {
        const hostname = hostnameOf(details.url);
        if (hostname === null || isOwnRequest(details, ownOrigin)) return;
        const host = hosts.get(hostname) ?? (hosts.size < maxHosts ? newHost(hostname) : null);
        if (host === null) return;
        host.requests += 1;
        host.bytes_sent += sizeOf(details.requestSize);
        host.bytes_received += responseBytes(details);
        if (typeof details.ip === "string" && details.ip !== "") host.remote_ip = details.ip;
        hosts.set(hostname, host);
      },
      /** The tallies since the previous drain; they are forgotten here. */
      drain() {
        const report = [...hosts.values()];
        hosts = new Map();
        return report;
      },
      get size() {
        return hosts.size;
      },
    };
  }

  /** Whether the page or worker at `ownOrigin` started the request (Chromium: initiator, Firefox: originUrl). */
  function isOwnRequest(details, ownOrigin) {
    if (typeof ownOrigin !== "string" || ownOrigin === "") return false;
    const origin = `${details.initiator ?? details.originUrl ?? ""}/`;
    return origin.startsWith(ownOrigin);
  }

  function newHost(hostname) {
    return { hostname, requests: 0, bytes_sent: 0, bytes_received: 0 };
  }

  function sizeOf(value) {
    return Number.isSafeInteger(value) && value > 0 ? value : 0;
  }

  /**
   * Response bytes of a completed request: Firefox's responseSize (headers and body); Chromium
   * reports no sizes, so there the Content-Length response header (the body; 0 when absent).
   */
  function responseBytes(details) {
    if (details.responseSize !== undefined) return sizeOf(details.responseSize);
    const header = (details.responseHeaders ?? []).find((h) => typeof h.name === "string" && h.name.toLowerCase() === "content-length");
    return header && /^\d+$/.test(header.value ?? "") ? sizeOf(Number(header.value)) : 0;
  }

  /** Names for netmon of the Chromium-family browsers, by their User-Agent Client Hints brand. */
  const CHROMIUM_BRANDS = [
    ["Google Chrome", "chrome"],
    ["Microsoft Edge", "edge"],
    ["Brave", "brave"],
    ["Opera", "opera"],
    ["Vivaldi", "vivaldi"],
    ["Arc", "arc"],
  ];

  /** The browser's name from navigator.userAgentData.brands; "chromium" when no brand is known. */
  function chromiumBrowserName(brands) {
    const names = new Set((Array.isArray(brands) ? brands : []).map((b) => b && b.brand));
    const known = CHROMIUM_BRANDS.find(([brand]) => names.has(brand));
    return known ? known[1] : "chromium";
  }

  /** Delay before the next attempt after `failures` failures in a row. */
  function retryDelay(failures) {
    if (failures <= 0) return 0;
    return Math.min(FIRST_RETRY_MS * 2 ** (failures - 1), MAX_RETRY_MS);
  }

  /** A port from the options page, or the default when it is not one netmon accepts. */
  function validPort(value, fallback = 7500) {
    const port = Number(value);
    return Number.isInteger(port) && port >= 7000 && port <= 7999 ? port : fallback;
  }

  return { hostnameOf, activeTabPayload, createTally, retryDelay, validPort, chromiumBrowserName, MAX_HOSTS };
})();

if (typeof module !== "undefined") module.exports = NetmonLogic;
