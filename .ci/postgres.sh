#!/usr/bin/env bash
# Start Debian's PostgreSQL and make a user and database for the sweep tests; print the URL they connect to.
# Safe to run again: each step is skipped when already done. Run as root (CI is).
set -euo pipefail
if ! compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || ! command -v pg_lsclusters >/dev/null 2>&1; then
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2
fi
# The first cluster Debian made (e.g. "15 main"), made now if the package was installed without one.
if [ -z "$(pg_lsclusters --no-header)" ]; then
    pg_createcluster "$(ls /usr/lib/postgresql | sort -V | tail -n 1)" main >&2
fi
read -r version cluster _ < <(pg_lsclusters --no-header | head -n 1)
if ! pg_lsclusters --no-header | head -n 1 | grep -q online; then
    pg_ctlcluster "$version" "$cluster" start >&2
fi
as_postgres() { runuser -u postgres -- "$@"; }
if [ -z "$(as_postgres psql -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'digitnet'")" ]; then
    as_postgres psql -q -c "CREATE ROLE digitnet LOGIN PASSWORD 'digitnet'" >&2
fi
if [ -z "$(as_postgres psql -tAc "SELECT 1 FROM pg_database WHERE datname = 'digitnet_test'")" ]; then
    as_postgres createdb -O digitnet digitnet_test >&2
fi
port=$(pg_lsclusters --no-header | head -n 1 | awk '{print $3}')
echo "postgresql://digitnet:digitnet@127.0.0.1:${port}/digitnet_test"
