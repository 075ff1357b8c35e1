#!/usr/bin/env bash
# netmon's one test command: formatting, lints, every test, and the macOS type-check.
# The end-to-end tests build Linux network namespaces and switch users, so run it as root.
# Installs nothing: .ci/run (or the README) lists what the machine needs.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo test"
cargo test --workspace

step "cargo check for macOS (aarch64-apple-darwin)"
cargo check --workspace --all-targets --target aarch64-apple-darwin

step "all checks passed"
