#!/usr/bin/env bash
# netmon's one test command: installs what the tests need when it is missing (scripts/deps.sh),
# then formatting, lints, every test (Rust, JavaScript, real browsers), and the macOS
# type-check. The end-to-end tests build Linux network namespaces, capture packets and switch
# users, so run it as root.
#
# Usage: sudo scripts/test.sh [--check-deps | --deps-only]
#   --check-deps   print what would be installed, install nothing, run nothing
#   --deps-only    install what is missing, run nothing
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/deps.sh
. scripts/deps.sh

step() { printf '\n==> %s\n' "$*"; }

step "dependencies (scripts/deps.sh)"
deps_plan test
case "${1:-}" in
  --check-deps) deps_show; exit 0 ;;
  --deps-only) deps_apply; exit 0 ;;
  "") deps_apply ;;
  *) echo "usage: scripts/test.sh [--check-deps | --deps-only]" >&2; exit 2 ;;
esac

step "dependency plan from an empty machine (scripts/test-deps.sh)"
scripts/test-deps.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

step "no import circle between netmon-core's modules (scripts/module-cycles.py)"
python3 scripts/module-cycles.py netmon-core/src 2 | tail -n 1

step "cargo test"
cargo test --workspace

step "fuzz targets (cargo fuzz, libFuzzer): build each, then run each for 10 s"
# cargo-fuzz passes nightly-only sanitizer flags; RUSTC_BOOTSTRAP lets the stable rustc take
# them, for these commands only. Builds go to target/fuzz, beside the workspace's own.
(
  export RUSTC_BOOTSTRAP=1
  fuzz_target_dir="$PWD/target/fuzz"
  cargo fuzz build -O --target-dir "$fuzz_target_dir"
  for target in $(cargo fuzz list); do
    corpus=("fuzz/corpus/$target")
    mkdir -p "${corpus[0]}"
    [ -d "fuzz/seeds/$target" ] && corpus+=("fuzz/seeds/$target")
    cargo fuzz run -O --target-dir "$fuzz_target_dir" "$target" "${corpus[@]}" -- \
      -max_total_time=10 -print_final_stats=1
  done
)
step "schemathesis against a real netmon (no 5xx, every response matches /api/openapi.json)"
cargo build -p netmon-cli
scripts/schemathesis.sh target/debug/netmon

step "JavaScript unit tests (extension, dashboard) and web-ext lint"
npm run -s test:extension
npm run -s test:web
npm run -s lint:extension
npm run -s build:extension

step "browser extension in a real Firefox and a real Chromium (the netmon just built)"
npm run -s test:extension-e2e

step "dashboard in a real Chromium (playwright-core, the netmon just built)"
npm run -s test:web-e2e

step "cargo check for macOS (aarch64-apple-darwin, x86_64-apple-darwin)"
cargo check --workspace --all-targets --target aarch64-apple-darwin
cargo check --target aarch64-apple-darwin -p netmon-menubar
cargo clippy --target aarch64-apple-darwin -p netmon-menubar --all-targets -- -D warnings
cargo check --workspace --all-targets --target x86_64-apple-darwin

step "all checks passed"
