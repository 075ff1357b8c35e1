#!/usr/bin/env bash
# Peak memory of `netmon export` over 90 days of heavy-use history (`netmon demo-data --days 90`):
# it streams, so the peak resident set must stay flat whether one week or all 90 days are
# exported.
#
#   bench/export.sh            # builds netmon (dev profile) and prints the figures
#   PROFILE=release bench/export.sh
#   NETMON_BIN=/path/to/netmon bench/export.sh
set -euo pipefail
cd "$(dirname "$0")/.."

profile=${PROFILE:-dev}
if [[ -z "${NETMON_BIN:-}" ]]; then
  cargo build --quiet -p netmon-cli --profile "$profile"
  dir=$([[ $profile == dev ]] && echo debug || echo "$profile")
  NETMON_BIN=target/$dir/netmon
fi
days=${DAYS:-90}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export NETMON_HOME=$work/home

"$NETMON_BIN" demo-data --days "$days" 2>/dev/null
db_bytes=$(stat -c %s "$NETMON_HOME/network_monitor.db")

# Runs netmon with the given arguments; prints "peak_rss_kib seconds".
measure() {
  python3 - "$NETMON_BIN" "$@" <<'PY'
import resource, subprocess, sys, time
start = time.monotonic()
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
elapsed = time.monotonic() - start
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, f"{elapsed:.1f}")
PY
}

echo "history: $days days of demo data, database $((db_bytes / 1024 / 1024)) MiB"
for case in "7d csv" "all csv" "all json"; do
  read -r since format <<<"$case"
  out=$work/export.$format
  range=()
  [[ $since != all ]] && range=(--since "$since")
  read -r rss seconds < <(measure export --format "$format" "${range[@]}" -o "$out")
  # CSV: one header line; JSON: the "[" and "]" lines.
  rows=$(($(wc -l <"$out") - $([[ $format == csv ]] && echo 1 || echo 2)))
  size=$(stat -c %s "$out")
  printf '%-4s %-4s rows=%-9s file=%-5s MiB  peak_rss=%-6s KiB  time=%ss\n' \
    "$since" "$format" "$rows" "$((size / 1024 / 1024))" "$rss" "$seconds"
done
