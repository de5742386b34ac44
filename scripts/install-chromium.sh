#!/usr/bin/env bash
# Install Debian's chromium for the headless-browser test of the LTI pages (tests/lti/
# test_browser.py drives it through playwright with executable_path=/usr/bin/chromium: playwright
# never downloads a browser here). Idempotent: an installed /usr/bin/chromium is used as it is.
# Needs root for apt-get.
set -euo pipefail
browser=${CHROMIUM:-/usr/bin/chromium}

die() { echo "install-chromium: $*" >&2; exit 1; }

if [ -x "$browser" ]; then
    echo "install-chromium: $browser is there ($("$browser" --version 2>/dev/null || echo 'version unknown'))"
    exit 0
fi
[ "$(id -u)" = 0 ] || die "chromium is not installed and installing it needs root; run: sudo $0"
echo "install-chromium: installing chromium"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
[ -x "$browser" ] || die "apt-get installed chromium but $browser is not there"
echo "install-chromium: $("$browser" --version)"
