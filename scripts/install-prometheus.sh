#!/usr/bin/env bash
# Installs Debian's `prometheus` package (prometheus + promtool) for the tests that lint the
# exposition with `promtool check metrics` and scrape the demo with a real Prometheus.
# Idempotent: does nothing when both binaries are present. The package's own service is
# kept from starting; tests start Prometheus themselves on a loopback port.
set -euo pipefail

if command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; then
  echo "prometheus: present ($(promtool --version 2>&1 | head -1))"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "prometheus: not installed and not root; install Debian's 'prometheus' package" >&2
  exit 1
fi

policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod +x "$policy"
  created_policy=1
fi
trap '[ "$created_policy" = 1 ] && rm -f "$policy"' EXIT

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends prometheus >/dev/null
echo "prometheus: installed ($(promtool --version 2>&1 | head -1))"
