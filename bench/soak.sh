#!/usr/bin/env bash
# Soak: netmon for N hours (default 1) under varied traffic; RSS, CPU, open fds and DB size
# every minute into bench/results/soak-*.csv; PASS when the RSS line is flat. Not run in CI.
# Usage: sudo bench/soak.sh [--hours H | --minutes M] [--sample-seconds S]
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "run as root: the soak builds network namespaces" >&2; exit 1; }
for tool in iperf3 curl python3; do
  command -v "$tool" >/dev/null || { echo "$tool is missing (.ci/run lists the packages)" >&2; exit 1; }
done
[ -f web/vendor/plotly.min.js ] || npm run -s build:web
cargo build --release -p netmon-cli
exec python3 bench/soak.py --netmon target/release/netmon "$@"
