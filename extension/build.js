"use strict";
/*
 * Builds the extension for both browser families from the same scripts (`npm run build:extension`):
 * target/extension/firefox/ (Manifest V2, background scripts: Zen, Firefox) and
 * target/extension/chromium/ (Manifest V3, service worker: Chrome, Edge, Brave, Arc, Vivaldi),
 * each zipped by web-ext into target/extension/netmon-<family>-<version>.zip.
 *
 * The Chromium manifest is derived from manifest.json, so the two cannot drift apart.
 */

const fs = require("node:fs");
const path = require("node:path");
const { execFileSync } = require("node:child_process");

const SOURCE = __dirname;
const ROOT = path.resolve(SOURCE, "..");
const OUT = path.join(ROOT, "target/extension");
/** The scripts and pages both families run. */
const SHARED = ["logic.js", "api.js", "background.js", "options.html", "options.js"];
/** What each family adds to the shared files. */
const FAMILY_FILES = { firefox: [], chromium: ["service-worker.js"] };

/** Where the extension may send: netmon's API on this machine, any port (7000–7999 in practice). */
const NETMON_ORIGIN = "http://127.0.0.1/*";

/**
 * The Manifest V3 manifest for Chromium-family browsers, from the Firefox one: a service worker
 * instead of background scripts, host permissions out of `permissions`, an alarm to restart the
 * worker, and a content security policy that lets the extension connect to 127.0.0.1 only.
 */
function chromiumManifest(firefox) {
  const hosts = firefox.permissions.filter((p) => p.includes("://") || p === "<all_urls>");
  const apis = firefox.permissions.filter((p) => !hosts.includes(p));
  const { browser_specific_settings: _gecko, background: _scripts, ...common } = firefox;
  return {
    ...common,
    manifest_version: 3,
    permissions: [...apis, "alarms"],
    host_permissions: [NETMON_ORIGIN, ...hosts],
    background: { service_worker: "service-worker.js" },
    content_security_policy: {
      extension_pages: "script-src 'self'; object-src 'self'; connect-src http://127.0.0.1:*",
    },
  };
}

/** Writes one family's unpacked extension into `dir` (emptied first) and returns `dir`. */
function stage(family, dir) {
  const files = FAMILY_FILES[family];
  if (files === undefined) throw new Error(`no extension family "${family}": firefox or chromium`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  [...SHARED, ...files].forEach((file) => fs.copyFileSync(path.join(SOURCE, file), path.join(dir, file)));
  const firefox = JSON.parse(fs.readFileSync(path.join(SOURCE, "manifest.json"), "utf8"));
  const manifest = family === "chromium" ? chromiumManifest(firefox) : firefox;
  fs.writeFileSync(path.join(dir, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  return dir;
}

/** Stages and zips both families; returns the zip files' paths. */
function buildAll() {
  const webExt = path.join(ROOT, "node_modules/.bin/web-ext");
  return Object.keys(FAMILY_FILES).map((family) => {
    const dir = stage(family, path.join(OUT, family));
    const { version } = JSON.parse(fs.readFileSync(path.join(dir, "manifest.json"), "utf8"));
    const filename = `netmon-${family}-${version}.zip`;
    execFileSync(webExt, ["build", "--source-dir", dir, "--artifacts-dir", OUT, "--filename", filename, "--overwrite-dest"], { stdio: "ignore" });
    return path.join(OUT, filename);
  });
}

if (require.main === module) {
  buildAll().forEach((zip) => console.log(path.relative(ROOT, zip)));
}

module.exports = { chromiumManifest, stage, SHARED };
