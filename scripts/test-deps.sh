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

printf 'ID=debian\n' >"$work/debian-release"
printf 'ID=ubuntu\nID_LIKE=debian\n' >"$work/ubuntu-release"
expect "empty Debian, test.sh" "$(empty_machine test.sh NETMON_OS=Linux NETMON_OS_RELEASE="$work/debian-release")" \
  "${apt_build[@]}" "${apt_test[@]}" "${web[@]}" "${rust[@]}" "${rust_tools[@]}" "pip install -q schemathesis=="
expect "empty Debian, run.sh" "$(empty_machine run.sh NETMON_OS=Linux)" \
  "${apt_build[@]}" "${web[@]}" "${rust[@]}"
# Ubuntu: no firefox-esr, and snap-only firefox/chromium-browser: Mozilla's APT repository and
# playwright-core's Chromium instead (scripts/deps.sh, plan_browsers).
ubuntu_plan="$(empty_machine test.sh NETMON_OS=Linux NETMON_OS_RELEASE="$work/ubuntu-release")"
expect "empty Ubuntu, test.sh" "$ubuntu_plan" \
  "${apt_build[@]}" iproute2 prometheus "packages.mozilla.org/apt mozilla main" "Pin-Priority: 1000" \
  "apt-get install -y -qq firefox" "npm ci" "playwright-core install --with-deps chromium"
if grep 'no-install-recommends' <<<"$ubuntu_plan" | grep -qE 'firefox-esr| chromium( |$)'; then
  echo "FAIL empty Ubuntu: the plan names Debian-only browser packages: $ubuntu_plan" >&2
  failures=$((failures + 1))
fi
if [ "$(grep -n 'npm ci' <<<"$ubuntu_plan" | cut -d: -f1)" -gt "$(grep -n 'playwright-core install' <<<"$ubuntu_plan" | cut -d: -f1)" ]; then
  echo "FAIL empty Ubuntu: Chromium's download is planned before npm ci" >&2
  failures=$((failures + 1))
fi
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

echo "$((5 - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
