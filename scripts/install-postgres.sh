#!/usr/bin/env bash
# The tests start a throw-away PostgreSQL server of their own (tests/support/postgres.py);
# this only makes sure its programs are installed. Needs root for apt-get.
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "PostgreSQL is not installed and this is not root: the PostgreSQL tests will be skipped" \
       "(install it with: sudo apt-get install -y postgresql)." >&2
  exit 0
fi
echo "Installing PostgreSQL (Debian's packages) for the store tests..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq postgresql >/dev/null
# Debian starts a cluster of its own on install; the tests do not use it.
pg_ctlcluster --force "$(ls /usr/lib/postgresql | sort -V | tail -1)" main stop 2>/dev/null || true
