#!/usr/bin/env bash
# netmon's one test command: formatting, lints, every test (Rust, JavaScript, real browsers),
# and the macOS type-check. The end-to-end tests build Linux network namespaces, capture
# packets and switch users, so run it as root.
# Installs nothing: .ci/run (or the README) lists what the machine needs (npm ci for node_modules).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

if [ ! -d node_modules ]; then
  echo "node_modules is missing: run 'npm ci' at the repository root first" >&2
  exit 1
fi

step "web assets (Plotly.js from node_modules into web/vendor)"
npm run -s build:web

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo test"
cargo test --workspace

step "schemathesis against a real netmon (no 5xx, every response matches /api/openapi.json)"
cargo build -p netmon-cli
scripts/schemathesis.sh target/debug/netmon

step "JavaScript unit tests (extension, dashboard) and web-ext lint"
npm run -s test:extension
npm run -s test:web
npm run -s lint:extension

step "browser extension in a real Firefox (firefox-esr, geckodriver, the netmon just built)"
npm run -s test:extension-e2e

step "dashboard in a real Chromium (playwright-core, the netmon just built)"
npm run -s test:web-e2e

step "cargo check for macOS (aarch64-apple-darwin)"
cargo check --workspace --all-targets --target aarch64-apple-darwin

step "all checks passed"
