#!/usr/bin/env bash
# npm run test:browser — the HTML report in headless Chromium. Installs Debian's `chromium` with
# apt-get when no Chromium is found (needs root or sudo), builds, and runs the browser test.
# Screenshots land in test-artifacts/. Set CHROMIUM_BIN to use another Chrome/Chromium.
set -euo pipefail
cd "$(dirname "$0")/../.."

have_chromium() {
  [ -n "${CHROMIUM_BIN:-}" ] && [ -x "${CHROMIUM_BIN}" ] && return 0
  command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || command -v google-chrome >/dev/null 2>&1
}

if ! have_chromium; then
  echo "test:browser: no Chromium found; installing Debian's chromium with apt-get" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "test:browser: need root or sudo to apt-get install chromium (or set CHROMIUM_BIN)" >&2; exit 1; }
    SUDO="sudo"
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium
fi

npx tsc -p tsconfig.json
mkdir -p test-artifacts
node --test --test-concurrency=1 dist/test/browser/*.browser-test.js
echo "test:browser: screenshots in test-artifacts/"
