#!/usr/bin/env bash
# netmon from a clone in one command: installs what the build needs when it is missing
# (scripts/deps.sh: a C compiler, libpcap, Node.js/npm, Rust by rustup), builds the dashboard's
# Plotly.js and the release binary, then starts the monitor in the foreground.
#
# Usage: sudo scripts/run.sh [--build-only | --check-deps] [netmon run options...]
#   --check-deps   print what would be installed, install nothing, build nothing
#   --build-only   install and build, do not start netmon
# Run through sudo, the builds run as the user who called sudo (target/ and node_modules stay
# theirs) and netmon drops to that user after opening the capture.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/deps.sh
. scripts/deps.sh

mode=run
case "${1:-}" in
  --build-only | --check-deps) mode="${1#--}"; shift ;;
esac

deps_plan build
if [ "$mode" = check-deps ]; then
  deps_show
  exit 0
fi
deps_apply

echo "+ cargo build --release -p netmon-cli"
as_user cargo build --release -p netmon-cli
[ "$mode" = build-only ] && exit 0

[ "$(id -u)" = 0 ] || echo "note: capture needs root (or capabilities, see README): sudo scripts/run.sh" >&2
exec ./target/release/netmon run --foreground "$@"
