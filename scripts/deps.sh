# shellcheck shell=bash
# What netmon's build and tests need, checked and installed when missing: sourced by
# scripts/run.sh (build) and scripts/test.sh (build + tests). Each check looks at the machine;
# each missing thing becomes one step of a plan, and the plan is printed before it runs, so a
# second run says "nothing to install" and changes nothing.
#
#   deps_plan build|test      collect the steps (Debian/Ubuntu with apt, or macOS with Homebrew)
#   deps_apply                print the plan and run it (apt steps need root)
#   deps_show                 print the plan only
#
# Assumed present: bash, coreutils, and apt/dpkg (Debian, Ubuntu) or Homebrew (macOS). Rust
# comes from rustup; when cargo is missing the plan runs rustup's official installer (curl).
# Overridable for tests (scripts/test-deps.sh): NETMON_DPKG_ADMINDIR (dpkg's state directory),
# NETMON_OS (Linux or Darwin), NETMON_OS_RELEASE (os-release file: Debian or Ubuntu),
# SCHEMATHESIS_VENV, NETMON_DEPS_USER_HOME.
#
# Ubuntu has no firefox-esr package, and its firefox and chromium-browser packages only install
# snaps (which do not run in containers or CI). There the test plan takes Firefox from
# Mozilla's APT repository (packages.mozilla.org, pinned above the snap package; the e2e test
# uses /usr/bin/firefox when there is no firefox-esr) and Chromium from playwright-core's own
# download (`playwright-core install --with-deps chromium`, after npm ci; the e2e tests use it
# when there is no /usr/bin/chromium).

RUST_MIN="1.89"
NODE_MIN=18
SCHEMATHESIS_VERSION="4.32.5"
SCHEMATHESIS_VENV="${SCHEMATHESIS_VENV:-/opt/schemathesis}"
GECKODRIVER_VERSION="0.37.1"
CARGO_FUZZ_VERSION="0.13.2"
APPLE_TARGETS=(aarch64-apple-darwin x86_64-apple-darwin)

deps_steps=()
deps_apt=()
deps_browser_steps=()

# The user who asked (through sudo) owns the clone: builds run as them, and their ~/.cargo/bin
# is where rustup put cargo (sudo's PATH does not have it).
deps_user="${SUDO_USER:-}"
[ "$deps_user" = root ] && deps_user=
deps_user_home="${NETMON_DEPS_USER_HOME:-$(if [ -n "$deps_user" ]; then eval echo "~$deps_user"; else echo "${HOME:-/root}"; fi)}"
export PATH="$deps_user_home/.cargo/bin:$PATH"
# As root through sudo, use the user's rustup toolchains (read only; rustup steps run as them).
if [ -n "$deps_user" ] && [ -z "${RUSTUP_HOME:-}" ] && [ -d "$deps_user_home/.rustup" ]; then
  export RUSTUP_HOME="$deps_user_home/.rustup"
fi

# Runs a command as the user who called sudo (or as is, without sudo).
as_user() {
  if [ -n "$deps_user" ] && [ "$(id -u)" = 0 ]; then
    sudo -u "$deps_user" -H env "PATH=$PATH" "$@"
  else
    "$@"
  fi
}

has() { command -v "$1" >/dev/null 2>&1; }
plan_step() { deps_steps+=("$1"); }

# Debian packages of the arguments that dpkg does not list as installed.
apt_missing() {
  local package
  for package in "$@"; do
    dpkg-query ${NETMON_DPKG_ADMINDIR:+--admindir="$NETMON_DPKG_ADMINDIR"} -W -f='${Status}' "$package" 2>/dev/null |
      grep -q 'ok installed' || echo "$package"
  done
}
apt_need() {
  local package
  for package in $(apt_missing "$@"); do
    [[ " ${deps_apt[*]} " == *" $package "* ]] || deps_apt+=("$package")
  done
}

# True when version $1 (x.y[.z]) is at least $2.
version_at_least() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }

plan_rust() {
  if ! has cargo; then
    [ "$deps_os" = Darwin ] || apt_need curl
    plan_step "as_user sh -c 'curl --proto =https --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --component rustfmt,clippy'"
    return
  fi
  local rustc_version
  rustc_version="$(rustc --version 2>/dev/null | cut -d' ' -f2)"
  if ! version_at_least "${rustc_version:-0}" "$RUST_MIN"; then
    if has rustup; then
      plan_step "as_user rustup update stable"
    else
      echo "rustc ${rustc_version:-?} is older than $RUST_MIN and was not installed by rustup: install Rust from https://rustup.rs" >&2
      return 1
    fi
  fi
}

plan_node() {
  if ! has node || ! has npm; then
    case "$deps_os" in
      Darwin) plan_step "as_user brew install node" ;;
      *) apt_need nodejs npm ;;
    esac
    return
  fi
  local major
  major="$(node --version | sed 's/^v//; s/\..*//')"
  if [ "$major" -lt "$NODE_MIN" ]; then
    echo "Node.js $(node --version) is older than $NODE_MIN: install a newer one (https://nodejs.org)" >&2
    return 1
  fi
}

# node_modules as package-lock.json says, then the dashboard's Plotly.js bundle.
plan_web() {
  if ! has npm || ! (npm ls --all >/dev/null 2>&1); then
    plan_step "as_user npm ci --no-audit --no-fund"
  fi
  local bundle=web/vendor/plotly.min.js
  if [ ! -s "$bundle" ] || [ package-lock.json -nt "$bundle" ] || [ web/build/plotly.js -nt "$bundle" ]; then
    plan_step "as_user npm run -s build:web"
  fi
}

plan_build() {
  case "$deps_os" in
    Darwin)
      xcode-select -p >/dev/null 2>&1 || plan_step "xcode-select --install"
      has brew || { echo "Homebrew is needed on macOS: https://brew.sh" >&2; return 1; }
      ;;
    *) apt_need gcc libc6-dev pkg-config libpcap-dev ;;
  esac
  plan_node
  plan_rust
}

plan_test() {
  if [ "$deps_os" = Darwin ]; then
    echo "scripts/test.sh runs on Linux only (its end-to-end tests build network namespaces)" >&2
    return 1
  fi
  plan_build
  apt_need iproute2 curl iperf3 util-linux openssl dnsmasq-base prometheus
  plan_browsers
  has python3 || apt_need python3
  { has python3 && python3 -m venv --help >/dev/null 2>&1; } || apt_need python3-venv
  plan_rust_tools
  if ! [ -x "$SCHEMATHESIS_VENV/bin/schemathesis" ] ||
    [ "$("$SCHEMATHESIS_VENV/bin/schemathesis" --version 2>/dev/null | grep -o '[0-9.]*$')" != "$SCHEMATHESIS_VERSION" ]; then
    plan_step "python3 -m venv $SCHEMATHESIS_VENV && $SCHEMATHESIS_VENV/bin/pip install -q schemathesis==$SCHEMATHESIS_VERSION"
  fi
}

# The distribution's ID from os-release (debian, ubuntu, …).
distro() { sed -n 's/^ID="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "${NETMON_OS_RELEASE:-/etc/os-release}" 2>/dev/null; }

MOZILLA_APT="https://packages.mozilla.org/apt"
MOZILLA_KEYRING=/etc/apt/keyrings/packages.mozilla.org.asc

# Firefox (ESR on Debian) and Chromium for the browser tests: Debian's packages, or on Ubuntu
# Mozilla's repository and playwright-core's Chromium (see the top of this file).
plan_browsers() {
  if [ "$(distro)" != ubuntu ]; then
    apt_need firefox-esr chromium
    return
  fi
  if [ ! -x /usr/lib/firefox/firefox ]; then
    apt_need ca-certificates curl
    plan_step "install -d -m 755 /etc/apt/keyrings && curl -fsSL $MOZILLA_APT/repo-signing-key.gpg -o $MOZILLA_KEYRING && echo 'deb [signed-by=$MOZILLA_KEYRING] $MOZILLA_APT mozilla main' > /etc/apt/sources.list.d/mozilla.list && printf 'Package: *\\nPin: origin packages.mozilla.org\\nPin-Priority: 1000\\n' > /etc/apt/preferences.d/mozilla && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq firefox"
  fi
  deps_browser_steps=()
  node -e 'process.exit(require("fs").existsSync(require("playwright-core").chromium.executablePath()) ? 0 : 1)' 2>/dev/null ||
    deps_browser_steps+=("npx --no-install playwright-core install --with-deps chromium")
}

# rustfmt, clippy, the macOS targets (for the type-check), geckodriver and cargo-fuzz.
plan_rust_tools() {
  local installed_components="" installed_targets="" component target
  if has rustup; then
    installed_components="$(rustup component list --installed 2>/dev/null)"
    installed_targets="$(rustup target list --installed 2>/dev/null)"
  fi
  for component in rustfmt clippy; do
    grep -q "^$component" <<<"$installed_components" || plan_step "as_user rustup component add $component"
  done
  for target in "${APPLE_TARGETS[@]}"; do
    grep -qx "$target" <<<"$installed_targets" || plan_step "as_user rustup target add $target"
  done
  has geckodriver || plan_step "as_user cargo install --locked geckodriver@$GECKODRIVER_VERSION"
  has cargo-fuzz || plan_step "as_user cargo install --locked cargo-fuzz@$CARGO_FUZZ_VERSION"
}

# Collects the plan for "build" or "test".
deps_plan() {
  deps_os="${NETMON_OS:-$(uname -s)}"
  deps_steps=()
  deps_apt=()
  deps_browser_steps=()
  case "$1" in
    build) plan_build && plan_web ;;
    test) plan_test && plan_web && deps_steps+=("${deps_browser_steps[@]}") ;;
    *) echo "deps_plan: build or test, not '$1'" >&2; return 2 ;;
  esac || return 1
  if [ ${#deps_apt[@]} -gt 0 ]; then
    deps_steps=("apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${deps_apt[*]}" "${deps_steps[@]}")
  fi
}

deps_show() {
  if [ ${#deps_steps[@]} -eq 0 ]; then
    echo "nothing to install"
    return
  fi
  echo "to install (${#deps_steps[@]} steps):"
  printf '  %s\n' "${deps_steps[@]}"
}

deps_apply() {
  deps_show
  [ ${#deps_steps[@]} -eq 0 ] && return
  if [ ${#deps_apt[@]} -gt 0 ] && [ "$(id -u)" != 0 ]; then
    echo "installing Debian packages needs root: run this command with sudo" >&2
    return 1
  fi
  local command
  for command in "${deps_steps[@]}"; do
    echo "+ $command"
    eval "$command"
  done
}
