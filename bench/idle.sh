#!/usr/bin/env bash
# netmon watching nothing: wake-ups per second and CPU seconds per hour in an idle network
# namespace (see docs/benchmarks.md). Not run in CI.
# Usage: sudo bench/idle.sh [--seconds N] [--trickle SECONDS] [--netmon PATH]
#        (default: 60 s, no traffic at all, the release build)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
[ "$(id -u)" = 0 ] || { echo "run as root: the measurement builds network namespaces" >&2; exit 1; }
if [[ " $* " != *" --netmon "* ]]; then
  [ -f web/vendor/plotly.min.js ] || npm run -s build:web
  cargo build --release -p netmon-cli
  set -- --netmon target/release/netmon "$@"
fi
exec python3 bench/idle.py "$@"
