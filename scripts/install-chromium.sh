#!/usr/bin/env bash
# Installs Debian's `chromium` for the trace viewer's browser test (driven by playwright-core
# with executablePath=/usr/bin/chromium, so no Playwright browser download is needed).
# Idempotent: does nothing when /usr/bin/chromium is present.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  echo "chromium: present ($(/usr/bin/chromium --version 2>/dev/null | head -1))"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "chromium: not installed and not root; install Debian's 'chromium' package" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
echo "chromium: installed ($(/usr/bin/chromium --version 2>/dev/null | head -1))"
