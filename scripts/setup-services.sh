#!/usr/bin/env bash
# Prepares this machine's services for the tests, idempotently: Debian's prometheus package
# (promtool and a Prometheus binary the end-to-end test starts itself) and PostgreSQL with
# wal_level=logical for change-data-capture. Safe to run on every CI run.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bash "$here/install-prometheus.sh"
bash "$here/install-chromium.sh"
if [ -f "$here/cdc-postgres-setup.sh" ]; then
  bash "$here/cdc-postgres-setup.sh"
fi
