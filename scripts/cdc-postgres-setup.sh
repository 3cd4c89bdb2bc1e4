#!/usr/bin/env bash
# Prepares the local Debian PostgreSQL cluster for change-data-capture, idempotently:
# wal_level=logical with room for replication slots and WAL senders, and a trust
# `replication` line for 127.0.0.1 in pg_hba.conf. Restarts the cluster only when a setting
# that needs a restart changed, reloads it only when pg_hba.conf changed, and says what it did.
# Safe to run on every CI run (as root, or as a user allowed to run pg_ctlcluster).
set -euo pipefail

host="${PGHOST:-127.0.0.1}"
port="${PGPORT:-5432}"
user="${PGUSER:-postgres}"
db="${PGDATABASE:-postgres}"
min_slots=20
min_senders=20

say() { echo "cdc-postgres-setup: $*"; }
psql_() { psql -h "$host" -p "$port" -U "$user" -d "$db" -v ON_ERROR_STOP=1 -Atqc "$1"; }

version="${PG_VERSION:-}"
if [ -z "$version" ]; then
  # The newest cluster version Debian manages here (e.g. /etc/postgresql/15/main).
  version="$(ls -1 /etc/postgresql 2>/dev/null | sort -n | tail -n 1 || true)"
fi
if [ -z "$version" ] || [ ! -d "/etc/postgresql/$version/main" ]; then
  say "no Debian cluster under /etc/postgresql; cannot configure it" >&2
  exit 1
fi
conf_dir="/etc/postgresql/$version/main"

wait_ready() {
  for _ in $(seq 1 60); do
    if pg_isready -h "$host" -p "$port" -U "$user" -q 2>/dev/null && psql_ "select 1" >/dev/null 2>&1; then
      return 0
    fi
    sleep 1
  done
  say "PostgreSQL $version did not accept connections within 60 s" >&2
  return 1
}

wait_ready

restart=false
wal_level="$(psql_ "show wal_level")"
if [ "$wal_level" != "logical" ]; then
  say "wal_level is $wal_level; setting it to logical"
  psql_ "alter system set wal_level = logical"
  restart=true
else
  say "wal_level is already logical"
fi
slots="$(psql_ "show max_replication_slots")"
if [ "$slots" -lt "$min_slots" ]; then
  say "max_replication_slots is $slots; setting it to $min_slots"
  psql_ "alter system set max_replication_slots = $min_slots"
  restart=true
fi
senders="$(psql_ "show max_wal_senders")"
if [ "$senders" -lt "$min_senders" ]; then
  say "max_wal_senders is $senders; setting it to $min_senders"
  psql_ "alter system set max_wal_senders = $min_senders"
  restart=true
fi

reload=false
hba="$conf_dir/pg_hba.conf"
# `all` in the database column does not match replication connections; they need their own line.
if ! grep -Eq '^[[:space:]]*host[[:space:]]+replication[[:space:]]+(all|'"$user"')[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust' "$hba"; then
  say "adding a trust replication line for 127.0.0.1 to $hba"
  printf '\n# added by scripts/cdc-postgres-setup.sh (logical replication for the cdc tests)\nhost replication all 127.0.0.1/32 trust\n' >>"$hba"
  reload=true
else
  say "pg_hba.conf already allows replication connections from 127.0.0.1"
fi

if [ "$restart" = true ]; then
  say "restarting PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main restart
  wait_ready
elif [ "$reload" = true ]; then
  say "reloading PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main reload
  wait_ready
fi

say "ready: wal_level=$(psql_ "show wal_level"), max_replication_slots=$(psql_ "show max_replication_slots"), max_wal_senders=$(psql_ "show max_wal_senders")"
