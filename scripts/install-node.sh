#!/usr/bin/env bash
# The JupyterLab extension (labextension/) is built with Node.js 18 or newer and packages
# from the npm registry. This only makes sure Node.js and npm are installed: Debian's
# packages, as root. Without them (and without root) the extension is not built, and its
# tests are skipped, saying so.
set -euo pipefail
node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if command -v node >/dev/null && command -v npm >/dev/null && [ "$(node_major)" -ge 18 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "Node.js 18+ and npm are not installed and this is not root: the JupyterLab extension" \
       "is not built and its tests are skipped (install them with: sudo apt-get install -y" \
       "nodejs npm)." >&2
  exit 0
fi
echo "Installing Node.js and npm (Debian's packages) to build the JupyterLab extension..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq nodejs npm >/dev/null
