#!/usr/bin/env bash
# Runs a command inside a fresh network namespace with only a loopback interface, so tests that
# listen on fixed local ports (7500, the extension's default) never meet another program's
# sockets. Needs root. The namespace is removed afterwards, whatever the command's result.
set -euo pipefail
ns="netmon-test-$$"
ip netns add "$ns"
trap 'ip netns del "$ns" 2>/dev/null || true' EXIT
ip -n "$ns" link set lo up
ip netns exec "$ns" "$@"
