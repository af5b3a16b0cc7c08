#!/usr/bin/env bash
# Installs Debian's chromium for the report page test (tests/test_analysis_page.py).
# Idempotent: does nothing when /usr/bin/chromium is already there. Needs root
# (CI runs as root); without apt-get or root it says so and leaves the test to skip.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    echo "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo present)"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" != "0" ]; then
    echo "chromium: not installed (needs apt-get as root); the page test will be skipped" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
echo "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo installed)"
