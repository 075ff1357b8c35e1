"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const fmt = require("../format.js");

test("bytes in decimal units", () => {
  assert.deepEqual([0, 999, 1000, 1234567, 4e11, -5].map(fmt.bytes), ["0 B", "999 B", "1.0 KB", "1.2 MB", "400.0 GB", "0 B"]);
  assert.equal(fmt.rate(2500), "2.5 KB/s");
});

test("a domain's provenance reads as shares, largest first, sources without bytes left out", () => {
  assert.equal(fmt.namedBy({ dns: 80, sni: 920, http: 0 }), "sni 92% · dns 8%");
  assert.equal(fmt.namedBy({ unresolved: 5 }), "unresolved 100%");
  assert.equal(fmt.namedBy({}), "");
  assert.equal(fmt.namedBy(undefined), "");
});

test("the pie keeps the top ten and sums the rest as other", () => {
  const apps = Array.from({ length: 12 }, (_, i) => ({ app: `a${i}`, sent: i, received: 100 * i }));
  const slices = fmt.topWithOther(apps, 10);
  assert.equal(slices.length, 11);
  assert.equal(slices[0].label, "a11");
  assert.deepEqual(slices[10], { label: "other", value: 101 });
  assert.equal(fmt.topWithOther(apps.slice(0, 3), 10).length, 3, "no other slice when nothing is left");
});
