"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { chromiumManifest, stage, SHARED } = require("../build.js");

const firefox = JSON.parse(fs.readFileSync(path.join(__dirname, "../manifest.json"), "utf8"));

test("the Chromium manifest is Manifest V3 with a service worker, derived from Firefox's", () => {
  const manifest = chromiumManifest(firefox);
  assert.equal(manifest.manifest_version, 3);
  assert.deepEqual(manifest.background, { service_worker: "service-worker.js" });
  assert.equal(manifest.browser_specific_settings, undefined, "no Gecko settings");
  assert.equal(manifest.version, firefox.version);
  assert.equal(manifest.name, firefox.name);
  assert.deepEqual(manifest.options_ui, firefox.options_ui);
  assert.ok(manifest.permissions.every((p) => !p.includes("://") && p !== "<all_urls>"), "hosts are not API permissions in MV3");
  for (const api of ["tabs", "idle", "storage", "webRequest", "alarms"]) assert.ok(manifest.permissions.includes(api), api);
  assert.equal(manifest.host_permissions[0], "http://127.0.0.1/*");
  assert.match(manifest.content_security_policy.extension_pages, /connect-src http:\/\/127\.0\.0\.1:\*$/, "it may connect to 127.0.0.1 only");
});

test("each family's staged directory holds its manifest and every script it loads", () => {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "netmon-ext-build-"));
  try {
    for (const family of ["firefox", "chromium"]) {
      const dir = stage(family, path.join(scratch, family));
      const manifest = JSON.parse(fs.readFileSync(path.join(dir, "manifest.json"), "utf8"));
      const scripts = manifest.background.scripts ?? [manifest.background.service_worker];
      const imported = family === "chromium" ? [...fs.readFileSync(path.join(dir, "service-worker.js"), "utf8").matchAll(/"([\w-]+\.js)"/g)].map((m) => m[1]) : [];
      if (family === "chromium") assert.deepEqual(imported, firefox.background.scripts, "the worker runs Firefox's background scripts");
      for (const file of [...scripts, ...imported, manifest.options_ui.page, ...SHARED]) {
        assert.ok(fs.existsSync(path.join(dir, file)), `${family}: ${file}`);
      }
      assert.ok(!fs.existsSync(path.join(dir, "test")), `${family}: no tests in the package`);
    }
    assert.throws(() => stage("safari", path.join(scratch, "x")), /no extension family "safari"/);
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
});
