#!/usr/bin/env bash
# Checks scripts/deps.sh's plans, so the install steps a fresh machine needs are known to be
# reached without a fresh machine:
#   1. an empty machine (no Debian package in dpkg's state, none of the tools on PATH, a clone
#      with no node_modules and no web/vendor): `test.sh --check-deps` and `run.sh --check-deps`
#      list every install step, and macOS lists its Homebrew and rustup steps;
#   2. this machine, after scripts/test.sh installed what was missing: nothing to install.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/dpkg/updates" "$work/dpkg/info" "$work/bin" "$work/home" "$work/clone/web"
touch "$work/dpkg/status"
# Only the base system scripts/deps.sh assumes (bash, coreutils, grep, sed, dpkg).
for tool in bash env dirname grep id uname cat sed sort head cut dpkg-query; do
  ln -s "$(command -v "$tool")" "$work/bin/$tool"
done
cp -r scripts package.json package-lock.json "$work/clone/"
cp -r web/build "$work/clone/web/"

# Runs a clone's script on the empty machine; extra NAME=VALUE arguments go to its environment.
empty_machine() {
  local script="$1"
  shift
  env -i PATH="$work/bin" HOME="$work/home" NETMON_DPKG_ADMINDIR="$work/dpkg" \
    SCHEMATHESIS_VENV="$work/schemathesis" "$@" "$work/clone/scripts/$script" --check-deps
}

failures=0
# Fails the check when the plan lacks one of the expected steps.
expect() {
  local what="$1" plan="$2"
  shift 2
  local wanted missing=()
  for wanted in "$@"; do
    grep -qF -- "$wanted" <<<"$plan" || missing+=("$wanted")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    printf 'FAIL %s: no step with %s in:\n%s\n' "$what" "${missing[*]}" "$plan" >&2
    failures=$((failures + 1))
  else
    printf 'ok   %s:\n%s\n' "$what" "$(grep '^  ' <<<"$plan")"
  fi
}

apt_build=(gcc libc6-dev pkg-config libpcap-dev nodejs npm curl)
apt_test=(iproute2 iperf3 util-linux openssl dnsmasq-base firefox-esr chromium prometheus python3 python3-venv)
web=("npm ci --no-audit --no-fund" "npm run -s build:web")
rust=("sh.rustup.rs")
rust_tools=("rustup component add rustfmt" "rustup component add clippy" "rustup target add aarch64-apple-darwin"
  "rustup target add x86_64-apple-darwin" "cargo install --locked geckodriver@" "cargo install --locked cargo-fuzz@")

expect "empty Debian, test.sh" "$(empty_machine test.sh NETMON_OS=Linux)" \
  "${apt_build[@]}" "${apt_test[@]}" "${web[@]}" "${rust[@]}" "${rust_tools[@]}" "pip install -q schemathesis=="
expect "empty Debian, run.sh" "$(empty_machine run.sh NETMON_OS=Linux)" \
  "${apt_build[@]}" "${web[@]}" "${rust[@]}"
printf '#!/bin/sh\nexit 0\n' >"$work/bin/brew"
chmod +x "$work/bin/brew"
expect "empty macOS with Homebrew, run.sh" "$(empty_machine run.sh NETMON_OS=Darwin)" \
  "xcode-select --install" "brew install node" "${web[@]}" "${rust[@]}"

plan="$("$repo/scripts/test.sh" --check-deps | tail -n +3)"
if [ "$plan" = "nothing to install" ]; then
  echo "ok   this machine: nothing to install"
else
  echo "FAIL this machine still needs (run sudo scripts/test.sh --deps-only): $plan" >&2
  failures=$((failures + 1))
fi

echo "$((4 - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
