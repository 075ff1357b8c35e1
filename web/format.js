/* Number formatting shared by the pages (and the node tests). */
"use strict";

const NetmonFormat = (() => {
  const UNITS = ["B", "KB", "MB", "GB", "TB", "PB"];

  /** 1234567 → "1.2 MB" (decimal units, like the CLI). */
  function bytes(count) {
    let value = Math.max(0, Number(count) || 0);
    let unit = 0;
    while (value >= 1000 && unit < UNITS.length - 1) {
      value /= 1000;
      unit += 1;
    }
    return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
  }

  function rate(bytesPerSecond) {
    return `${bytes(bytesPerSecond)}/s`;
  }

  /** The top `count` entries by total, the rest summed as "other". */
  function topWithOther(apps, count) {
    const sorted = [...apps].sort((a, b) => b.sent + b.received - (a.sent + a.received));
    const top = sorted.slice(0, count).map((app) => ({ label: app.app, value: app.sent + app.received }));
    const rest = sorted.slice(count).reduce((sum, app) => sum + app.sent + app.received, 0);
    return rest > 0 ? [...top, { label: "other", value: rest }] : top;
  }

  /** How a domain's bytes were named, largest share first: "sni 92% · dns 8%" (docs/domains.md). */
  function namedBy(provenance) {
    const entries = Object.entries(provenance || {}).filter(([, count]) => count > 0);
    const total = entries.reduce((sum, [, count]) => sum + count, 0);
    return entries
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .map(([name, count]) => `${name} ${Math.round((count * 100) / total)}%`)
      .join(" · ");
  }

  return { bytes, rate, topWithOther, namedBy };
})();

globalThis.NetmonFormat = NetmonFormat;
if (typeof module !== "undefined") module.exports = NetmonFormat;
