#!/usr/bin/env bash
# The browser tests drive Debian's Chromium through Playwright (no browser download: there is
# no route to Playwright's CDN here). This only makes sure Chromium is installed.
set -euo pipefail
if command -v chromium >/dev/null; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "Chromium is not installed and this is not root: the browser tests will be skipped" \
       "(install it with: sudo apt-get install -y chromium)." >&2
  exit 0
fi
echo "Installing Chromium (Debian's package) for the browser tests..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium >/dev/null
