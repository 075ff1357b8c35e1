#!/usr/bin/env bash
# netmon next to nethogs and bandwhich on the same traffic (see docs/benchmarks.md).
# Usage: sudo bench/compare.sh [--seconds N] [--baseline PATH] [--no-mtu | --mtu-only] [--peers LIST]
#                              [--rounds N] [--alone]
#   N seconds per traffic phase (default 8); PATH: a second netmon build run alongside (before/after
#   in one run); --no-mtu skips the phases with the veth's offloads off (ethtool -K), --mtu-only runs
#   only those; LIST: the peers to run, comma-separated (default nethogs,bandwhich); --rounds N runs
#   it all N times and judges each phase on the medians; --alone runs the mix once per tool, each
#   tool alone on the veth, and compares phases per GB.
# Installs what it needs when missing (nethogs and ethtool from apt, bandwhich with cargo install), builds
# netmon's release binary, then runs bench/compare.py. Needs root: it builds network namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

[ "$(id -u)" = 0 ] || { echo "run as root: the benchmark builds network namespaces" >&2; exit 1; }

missing=()
for tool in nethogs iperf3 curl ethtool; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
command -v bandwhich >/dev/null || cargo install --locked bandwhich

[ -f web/vendor/plotly.min.js ] || npm run -s build:web
cargo build --release -p netmon-cli
exec python3 bench/compare.py --netmon target/release/netmon "$@"
